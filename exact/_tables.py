"""The one home of the dense-table derivations of ``exact``: prefix tables and conditional tables.

A dense model is a table ``log π(y_{1:T})``; everything else is derived from its prefix
tables ``L_t(y_{1:t})``, ``t = 0..T`` (``L_0 = log 1 = 0`` for a normalised law):

* :func:`prefix_levels`: ``L_t = log Σ_{y_{t+1:T}} exp L_T`` from a joint (leaves to root);
* :func:`conditional_table`: ``log π(y_{t+1:s} | y_{1:t}) = L_s - L_t`` row by row, rows under a
  prefix of zero mass (``L_t = -inf``) set to ``undefined`` (``-inf`` by default, never NaN);
* :func:`conditional_tables`: every one-step table ``log π(y_t | y_<t)``;
* :func:`cumulate`: the inverse, ``L_t = Σ_{s ≤ t} log π(y_s | y_<s)``;
* :func:`prefix_marginal_tables` / :func:`power_prefix_tables`: ``log π(y_{1:t})`` and
  ``log π̃_{α,t}(y_{1:t}) = log Σ_{y_{t+1:T}} π(y)^α`` (Eq. 8 of arXiv 2605.04542) of a model;
* :func:`temperature_prefix_tables`: ``log q(y_{1:t})`` of the base model at temperature
  ``1/β``, ``q(y_t | y_<t) ∝ π(y_t | y_<t)^β`` (Eq. 5).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ._logspace import log_normalize, logsumexp
from ._memory import check_allocation

__all__ = [
    "conditional_table",
    "conditional_tables",
    "cumulate",
    "power_prefix_tables",
    "prefix_levels",
    "prefix_marginal_tables",
    "temperature_prefix_tables",
]


def prefix_levels(log_joint: np.ndarray) -> tuple[np.ndarray, ...]:
    """``(L_0, ..., L_T)`` with ``L_T = log_joint`` and ``L_t = logsumexp`` of ``L_{t+1}`` over its last axis."""
    levels = [np.asarray(log_joint, dtype=np.float64)]
    for _ in range(levels[0].ndim):
        levels.append(logsumexp(levels[-1], axis=-1))
    return tuple(reversed(levels))


def conditional_table(log_child: np.ndarray, log_parent: np.ndarray, undefined: float = -np.inf) -> np.ndarray:
    """``log_child - log_parent`` with ``log_parent`` broadcast over the trailing axes of ``log_child``.

    ``log_parent`` has shape ``log_child.shape[:t]`` (a prefix of it); entries under a
    parent of ``-inf`` (a prefix of zero mass) are ``undefined`` instead of NaN.
    """
    child = np.asarray(log_child, dtype=np.float64)
    parent = np.asarray(log_parent, dtype=np.float64)
    parent = parent.reshape(parent.shape + (1,) * (child.ndim - parent.ndim))
    defined = np.isfinite(parent)
    return np.where(defined, child - np.where(defined, parent, 0.0), undefined)


def conditional_tables(levels: Sequence[np.ndarray], undefined: float = -np.inf) -> list[np.ndarray]:
    """``log π(y_t | y_<t) = L_t - L_{t-1}`` for ``t = 1..T`` (entry ``t-1`` of shape ``V_1..V_t``)."""
    return [conditional_table(levels[t], levels[t - 1], undefined) for t in range(1, len(levels))]


def cumulate(log_conditionals: Sequence[np.ndarray]) -> list[np.ndarray]:
    """``[L_0, ..., L_T]`` with ``L_0 = 0`` and ``L_t = L_{t-1}[..., None] + log π(y_t | y_<t)``."""
    tables = [np.zeros(())]
    for table in log_conditionals:
        tables.append(tables[-1][..., None] + table)
    return tables


def prefix_marginal_tables(model) -> list[np.ndarray]:
    """``[log π(y_{1:t}) for t = 0..T]`` of an ``exact`` model as dense arrays (size-checked)."""
    check_allocation(model.vocab_sizes, "the dense prefix tables of this model")
    return [np.asarray(model.log_prefix_marginals(t), dtype=np.float64) for t in range(model.horizon + 1)]


def power_prefix_tables(model, alpha: float) -> list[np.ndarray]:
    """``[log π̃_{α,t}(y_{1:t}) for t = 0..T]`` (Eq. 8), the unnormalised prefix tables of ``π_α``."""
    return [np.asarray(model.log_prefix_totals(alpha, t), dtype=np.float64) for t in range(model.horizon + 1)]


def temperature_prefix_tables(marginals: Sequence[np.ndarray], beta: float) -> list[np.ndarray]:
    """Cumulative ``log q(y_{1:t})`` of the base model at temperature ``1/β``.

    ``q(y_t | y_<t) = π(y_t | y_<t)^β / Σ_v π(v | y_<t)^β`` (Eq. 5 with α = β), from the
    prefix marginals; ``β = 1`` gives the marginals' own conditionals back.
    """
    conditionals = conditional_tables(marginals)
    return cumulate([log_normalize(beta * c) for c in conditionals] if beta != 1.0 else conditionals)
