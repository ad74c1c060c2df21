"""Rewards over complete sequences: the self-reward of Eq. (1) and reward validation.

A reward ``r(x, y)`` for one prompt is given either as

* an array of shape ``model.vocab_sizes`` (entry ``y`` holds ``r(x, y)``), or
* a callable taking an ``(n, T)`` integer array of sequences and returning ``n`` values.

:func:`reward_table` turns either into a float64 array of shape ``vocab_sizes``
and rejects NaN, ``+inf`` and wrong shapes with a ``ValueError``.  ``-inf`` is
allowed (e.g. the self-reward ``log π(y) = -inf`` on ``π``'s zeros); functions
that need a finite reward on ``π``'s support say so and check it.
For a :class:`~exact.prompts.PromptedModel` a reward is a list/tuple with one
entry per prompt, or one array/callable shared by all prompts.
"""

from __future__ import annotations

from typing import Callable, Union

import numpy as np

from ._memory import check_allocation
from .models import AutoregressiveModel
from .prompts import PromptedModel, per_prompt

#: A reward for one prompt: an array of shape ``vocab_sizes`` or a callable on ``(n, T)`` sequences.
Reward = Union[np.ndarray, Callable[[np.ndarray], np.ndarray]]


def all_sequences(vocab_sizes: tuple[int, ...]) -> np.ndarray:
    """Every sequence ``y ∈ Y = [V_1] × ... × [V_T]`` in C (row-major) order, shape ``(|Y|, T)``.

    Row ``i`` is the multi-index of flat position ``i`` of an array of shape ``vocab_sizes``.
    """
    sizes = tuple(int(v) for v in vocab_sizes)
    check_allocation((int(np.prod(sizes)), len(sizes)), "the list of all sequences", itemsize=8)
    return np.indices(sizes).reshape(len(sizes), -1).T.astype(np.int64)


def self_reward(model: AutoregressiveModel | PromptedModel) -> np.ndarray | tuple[np.ndarray, ...]:
    """``r_self(x, y) = log π(y | x)`` over all sequences (Eq. 1), ``-inf`` where ``π(y | x) = 0``.

    A float64 array of shape ``model.vocab_sizes``; for a :class:`PromptedModel`
    a tuple with one array per prompt.
    """
    if isinstance(model, PromptedModel):
        return tuple(self_reward(m) for m in model.models)
    check_allocation(model.vocab_sizes, "the self-reward table")
    return np.array(model.log_joint(), dtype=np.float64)


def reward_table(model: AutoregressiveModel, reward: Reward, name: str = "reward") -> np.ndarray:
    """The reward as a float64 array of shape ``model.vocab_sizes``; ``ValueError`` on NaN, ``+inf`` or bad shape."""
    if isinstance(model, PromptedModel):
        raise ValueError("reward_table takes one prompt's model; use reward_tables for a PromptedModel")
    sizes = tuple(model.vocab_sizes)
    if callable(reward) and not isinstance(reward, np.ndarray):
        sequences = all_sequences(sizes)
        values = np.asarray(reward(sequences), dtype=np.float64)
        if values.shape not in ((len(sequences),), (len(sequences), 1)):
            raise ValueError(
                f"{name}: a callable reward must return one value per sequence, shape ({len(sequences)},), got {values.shape}"
            )
        table = values.reshape(sizes)
    else:
        try:
            table = np.array(reward, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{name} must be an array of shape {sizes} or a callable on (n, T) sequences") from error
        if table.shape != sizes:
            raise ValueError(f"{name} must have shape model.vocab_sizes = {sizes}, got {table.shape}")
    if np.any(np.isnan(table)):
        raise ValueError(f"{name} has NaN entries ({int(np.isnan(table).sum())} of {table.size})")
    if np.any(table == np.inf):
        raise ValueError(f"{name} has +inf entries; rewards must be < +inf")
    table.setflags(write=False)
    return table


def reward_tables(model: AutoregressiveModel | PromptedModel, reward: object, name: str = "reward") -> tuple[np.ndarray, ...]:
    """One validated reward table per prompt (see :func:`reward_table`); a 1-tuple for a single model."""
    models = model.models if isinstance(model, PromptedModel) else (model,)
    entries = per_prompt(reward, model, name)
    return tuple(reward_table(m, r, f"{name} (prompt {i})") for i, (m, r) in enumerate(zip(models, entries)))


def check_finite_on_support(log_p: np.ndarray, table: np.ndarray, name: str = "reward") -> None:
    """``ValueError`` unless ``table`` is finite wherever ``log_p > -inf`` (the support of ``π``)."""
    support = np.isfinite(log_p)
    if np.any(~np.isfinite(table[support])):
        count = int((~np.isfinite(table[support])).sum())
        raise ValueError(f"{name} must be finite on the support of π (it is -inf at {count} sequences with π(y) > 0)")


__all__ = ["Reward", "all_sequences", "self_reward", "reward_table", "reward_tables", "check_finite_on_support"]
