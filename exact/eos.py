"""Completions that end at an end-of-sequence token: the EOS-absorbing convention.

A real completion ``y`` stops at its first EOS token (included) or after ``T``
tokens.  A finite model represents these variable-length completions on the
dense table of length-``T`` sequences by making EOS **absorbing**: once EOS is
drawn, every later token is EOS with probability one,

    π(y_{t+1} = EOS | y_{1:t}) = 1   whenever  y_t = EOS.

The completion ``(y_1, …, y_k = EOS)`` is then the padded sequence
``(y_1, …, EOS, EOS, …, EOS)``, the padding has probability one and contributes
``log 1 = 0`` to every sum of log-probs, so ``π(padded) = π(y)``,
``π(padded)^α = π(y)^α``, and every quantity of the paper computed on the
dense table (``π_α``, Eqs. 5-6, Props. 1-4, the tilt) is the quantity over
variable-length completions, with no special case.  A temperature or power
conditional of a point mass is the same point mass, so the padding is also
invisible to the proposals of the samplers.  What the padding does *not* carry
is the completion length ``|y|`` (the position of the first EOS, or ``T``),
which samplers use (MH draws its restart position uniformly from
``{1, …, |y|}``; Best-of-N normalises its self-reward by ``|y|``):
:func:`completion_lengths` reads it off.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ._memory import check_allocation
from ._validate import check_count

__all__ = ["check_eos_token_id", "completion_lengths", "pad_completions", "trim_completions"]


def check_eos_token_id(eos_token_id: object, vocab_sizes: Sequence[int]) -> int | None:
    """``None``, or an integer id present in every step's vocabulary (``0 ≤ eos < min V_t``)."""
    if eos_token_id is None:
        return None
    if isinstance(eos_token_id, bool) or not isinstance(eos_token_id, (int, np.integer)):
        raise ValueError(f"eos_token_id must be an integer token id or None, got {eos_token_id!r}")
    smallest = min(int(v) for v in vocab_sizes)
    if not 0 <= eos_token_id < smallest:
        raise ValueError(f"eos_token_id {eos_token_id} must be a token of every step's vocabulary, i.e. in [0, {smallest})")
    return int(eos_token_id)


def absorb_eos(log_conditional: np.ndarray, eos_token_id: int) -> np.ndarray:
    """A copy of the step table ``log π(y_{t+1} | y_{1:t})`` (shape ``V_1..V_{t+1}``) made EOS-absorbing.

    Rows whose previous token ``y_t`` is EOS become the point mass on EOS; the
    values given there (a real model's next-token distribution after EOS, which
    no completion ever reaches) are ignored.
    """
    table = np.array(log_conditional, dtype=np.float64)
    if table.ndim >= 2:
        after = table[..., eos_token_id, :]
        after[...] = -np.inf
        after[..., eos_token_id] = 0.0
    return table


def check_absorbing(log_joint: np.ndarray, eos_token_id: int) -> None:
    """Raise ``ValueError`` unless every sequence of positive mass stays at EOS once it has drawn it."""
    for t in range(log_joint.ndim - 1):
        after = np.take(log_joint, eos_token_id, axis=t)  # y_{t+1} = EOS; axis t now indexes y_{t+2}
        escaping = np.delete(np.moveaxis(after, t, -1), eos_token_id, axis=-1)
        if np.any(np.isfinite(escaping)):
            raise ValueError(
                f"the joint gives positive probability to a non-EOS token after EOS (EOS = {eos_token_id} at position "
                f"{t}); with eos_token_id set, EOS must be absorbing (see exact.eos)"
            )


def completion_lengths(sequences: np.ndarray, eos_token_id: int | None) -> np.ndarray:
    """``|y|`` of each row of an ``(n, T)`` (or ``(T,)``) array: the position of its first EOS (1-based), else ``T``."""
    seqs = _check_padded(sequences)
    eos_token_id = None if eos_token_id is None else check_count(eos_token_id, "eos_token_id", minimum=0)
    horizon = seqs.shape[-1]
    if eos_token_id is None:
        return np.full(seqs.shape[:-1], horizon, dtype=np.int64)
    is_eos = seqs == eos_token_id
    first = np.argmax(is_eos, axis=-1) + 1
    return np.where(is_eos.any(axis=-1), first, horizon).astype(np.int64)


def trim_completions(sequences: np.ndarray, eos_token_id: int | None) -> list[tuple[int, ...]]:
    """Padded ``(n, T)`` sequences as variable-length completions (each up to and including its first EOS)."""
    seqs = _check_padded(sequences)
    seqs = seqs.reshape(-1, seqs.shape[-1])
    lengths = completion_lengths(seqs, eos_token_id)
    return [tuple(int(v) for v in row[:k]) for row, k in zip(seqs, lengths)]


def pad_completions(completions: Sequence[Sequence[int]], horizon: int, eos_token_id: int | None) -> np.ndarray:
    """Variable-length completions as the ``(n, T)`` padded sequences of the EOS-absorbing table.

    Each completion must have length ``T``, or end at its first EOS before that;
    anything else (a completion cut short without EOS, tokens after EOS, too many
    tokens) is not a state of the model and raises ``ValueError``.
    """
    horizon = check_count(horizon, "horizon")
    eos_token_id = None if eos_token_id is None else check_count(eos_token_id, "eos_token_id", minimum=0)
    check_allocation((len(completions), horizon), "the padded completions")
    out = np.empty((len(completions), horizon), dtype=np.int64)
    for i, completion in enumerate(completions):
        row = np.asarray(completion).tolist() if isinstance(completion, np.ndarray) else list(completion)
        if not all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) and v >= 0 for v in row):
            raise ValueError(f"completion {i} must hold non-negative integer token ids, got {row!r}")
        ends_at_eos = eos_token_id is not None and bool(row) and row[-1] == eos_token_id
        if len(row) > horizon or (len(row) < horizon and not ends_at_eos):
            raise ValueError(
                f"completion {i} has {len(row)} tokens: a completion has T = {horizon} tokens or ends at EOS "
                f"({eos_token_id}) before that"
            )
        if eos_token_id is not None and eos_token_id in row[:-1]:
            raise ValueError(f"completion {i} continues after its EOS token at position {row.index(eos_token_id)}")
        out[i, : len(row)] = row
        out[i, len(row) :] = eos_token_id if eos_token_id is not None else 0
    return out


def _check_padded(sequences: object) -> np.ndarray:
    """An integer array of padded sequences along its last axis, shape ``(..., T)`` with ``T >= 1``."""
    seqs = np.asarray(sequences)
    if seqs.ndim < 1 or seqs.shape[-1] == 0 or (seqs.size and not np.issubdtype(seqs.dtype, np.integer)):
        raise ValueError(f"sequences must be an (n, T) integer array with T >= 1, got shape {seqs.shape}, dtype {seqs.dtype}")
    return seqs
