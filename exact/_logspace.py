"""The one log-space toolbox of ``exact``: logsumexp, normalisation, checks.

Every probability in the package is carried as a natural log; ``-inf`` is a
legal zero.  Functions here shift by the maximum before ``exp`` and treat rows
whose entries are all ``-inf`` as zero mass (their logsumexp is ``-inf``),
never as NaN.
"""

from __future__ import annotations

import numpy as np

from ._validate import check_alpha, check_axis, check_probability_vector, real_array  # noqa: F401  (re-exported)


def logsumexp(log_values: np.ndarray, axis: int | None = -1, scale: float = 1.0) -> np.ndarray:
    """``log Σ exp(scale · x)`` along ``axis``; all ``-inf`` slices give ``-inf``, ``+inf`` gives ``+inf``.

    ``scale`` (an exponent in ``(0, MAX_ALPHA]``) lets callers compute ``log Σ p^α`` from
    ``log p`` without materialising ``α · log p`` first.  Real input only; NaN is refused.
    """
    x = real_array(log_values, "log_values")
    if not (type(scale) is float and scale == 1.0):
        scale = check_alpha(scale, "scale")
    if axis is None:
        x = x.reshape(-1)
        axis = -1
    axis = check_axis(axis, x.ndim)
    if x.shape[axis] == 0:
        return np.full(np.delete(x.shape, axis), -np.inf) if x.ndim > 1 else np.float64(-np.inf)
    peak = np.max(x, axis=axis, keepdims=True)
    if np.isnan(peak).any():  # the maximum propagates NaN: one cheap test on the reduced array
        raise ValueError("log_values has NaN entries")
    peak = np.where(np.isfinite(peak), peak, 0.0)
    shifted = x - peak
    if scale != 1.0:
        shifted *= scale
    np.exp(shifted, out=shifted)
    total = shifted.sum(axis=axis)
    with np.errstate(divide="ignore"):
        return scale * np.squeeze(peak, axis=axis) + np.log(total)


def log_normalize(log_weights: np.ndarray, axis: int = -1) -> np.ndarray:
    """``log w - logsumexp(log w)``; a slice of all ``-inf`` stays all ``-inf``.

    Real input only; NaN and ``+inf`` log weights (which have no normalisation) are refused.
    """
    x = real_array(log_weights, "log_weights")
    if x.ndim == 0:
        raise ValueError("log_weights must have at least one axis to normalise along, got a scalar")
    axis = check_axis(axis, x.ndim)
    # shift by the (exactly representable) peak first, then by the O(1) log of the shifted sum,
    # so large |log w| lose no digits to the rounding of peak + log(total)
    peak = np.max(x, axis=axis, keepdims=True) if x.size else np.zeros_like(x)
    if np.isnan(peak).any() or (peak == np.inf).any():  # the maximum propagates NaN and +inf
        raise ValueError("log_weights must not be NaN or +inf (-inf is a zero weight)")
    shifted = x - np.where(np.isfinite(peak), peak, 0.0)
    log_total = np.expand_dims(logsumexp(shifted, axis=axis), axis)
    return shifted - np.where(np.isfinite(log_total), log_total, 0.0)


def normalize_exp(log_weights: np.ndarray, axis: int = -1) -> np.ndarray:
    """Probabilities ``exp(log w) / Σ exp(log w)``; an all ``-inf`` slice gives zeros."""
    return np.exp(log_normalize(log_weights, axis=axis))
