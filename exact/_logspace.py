"""The one log-space toolbox of ``exact``: logsumexp, normalisation, checks.

Every probability in the package is carried as a natural log; ``-inf`` is a
legal zero.  Functions here shift by the maximum before ``exp`` and treat rows
whose entries are all ``-inf`` as zero mass (their logsumexp is ``-inf``),
never as NaN.
"""

from __future__ import annotations

import numbers

import numpy as np


def logsumexp(log_values: np.ndarray, axis: int | None = -1, scale: float = 1.0) -> np.ndarray:
    """``log Σ exp(scale · x)`` along ``axis``; all ``-inf`` slices give ``-inf``.

    ``scale`` (a positive number) lets callers compute ``log Σ p^α`` from
    ``log p`` without materialising ``α · log p`` first.
    """
    x = np.asarray(log_values, dtype=np.float64)
    if axis is None:
        x = x.reshape(-1)
        axis = -1
    if x.shape[axis] == 0:
        return np.full(np.delete(x.shape, axis), -np.inf) if x.ndim > 1 else np.float64(-np.inf)
    peak = np.max(x, axis=axis, keepdims=True)
    peak = np.where(np.isfinite(peak), peak, 0.0)
    shifted = x - peak
    if scale != 1.0:
        shifted *= scale
    np.exp(shifted, out=shifted)
    total = shifted.sum(axis=axis)
    with np.errstate(divide="ignore"):
        return scale * np.squeeze(peak, axis=axis) + np.log(total)


def log_normalize(log_weights: np.ndarray, axis: int = -1) -> np.ndarray:
    """``log w - logsumexp(log w)``; a slice of all ``-inf`` stays all ``-inf``."""
    x = np.asarray(log_weights, dtype=np.float64)
    # shift by the (exactly representable) peak first, then by the O(1) log of the shifted sum,
    # so large |log w| lose no digits to the rounding of peak + log(total)
    peak = np.max(x, axis=axis, keepdims=True) if x.size else np.zeros_like(x)
    shifted = x - np.where(np.isfinite(peak), peak, 0.0)
    log_total = np.expand_dims(logsumexp(shifted, axis=axis), axis)
    return shifted - np.where(np.isfinite(log_total), log_total, 0.0)


def normalize_exp(log_weights: np.ndarray, axis: int = -1) -> np.ndarray:
    """Probabilities ``exp(log w) / Σ exp(log w)``; an all ``-inf`` slice gives zeros."""
    return np.exp(log_normalize(log_weights, axis=axis))


def check_alpha(alpha: object, name: str = "alpha", allow_inf: bool = False) -> float:
    """Validate a power exponent: a real number > 0, finite unless ``allow_inf``."""
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise ValueError(f"{name} must be a real number > 0, got {alpha!r}")
    value = float(alpha)
    if np.isnan(value):
        raise ValueError(f"{name} must be a real number > 0, got NaN")
    if np.isinf(value) and not (allow_inf and value > 0):
        raise ValueError(f"{name} must be finite and > 0, got {value}")
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return value


def check_probability_vector(p: object, name: str = "p", tol: float = 1e-9) -> np.ndarray:
    """A 1-D float64 array of non-negative finite entries summing to 1 within ``tol``."""
    arr = np.asarray(p, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D probability vector, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} has NaN or infinite entries")
    if np.any(arr < 0):
        raise ValueError(f"{name} has negative entries (min {arr.min():.3g})")
    total = arr.sum()
    if abs(total - 1.0) > tol:
        raise ValueError(f"{name} must sum to 1 within {tol:g}, sums to {total!r}")
    return arr
