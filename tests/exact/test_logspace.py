"""``exact._logspace``: ``logsumexp``, ``log_normalize``, ``normalize_exp`` against a slice-by-slice loop.

Reference: each 1-D slice taken in a Python loop (``np.moveaxis``), its maximum ``m``
subtracted and ``log Σ exp(s·(x − m))`` summed with ``math.fsum`` -- no vectorised
reduction, so a wrong axis, a shared shift or a lost ``keepdims`` shows as a wrong entry or
shape.  ``log_normalize`` is checked the same way, one slice at a time, including a slice
near ``-1e15`` whose normalisation needs its own shift (a shift by another slice's maximum
rounds ``-1e15 + 1.31`` to a multiple of 0.125 and is off by 0.06).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import exact
from exact._logspace import normalize_exp

# shapes with size-1 and empty axes: a squeeze over every axis, or a global maximum, goes wrong on these
SHAPES = [(3,), (1,), (0,), (2, 3), (3, 1), (1, 3), (2, 0), (0, 3), (3, 4, 1), (2, 1, 3), (1, 2, 2)]
SCALES = [1.0, 1, 2.0, 0.5, 3]


def _slice_logsumexp(row, scale):
    row = [float(v) for v in row]
    if not row or all(v == -math.inf for v in row):
        return -math.inf
    if math.inf in row:
        return math.inf
    peak = max(row)
    return scale * peak + math.log(math.fsum(math.exp(scale * (v - peak)) for v in row))


def _reference(x, axis, scale):
    if axis is None:
        return _slice_logsumexp(x.reshape(-1), scale)
    moved = np.moveaxis(x, axis, -1)
    out = np.empty(moved.shape[:-1])
    for index in np.ndindex(out.shape):
        out[index] = _slice_logsumexp(moved[index], scale)
    return out


def _table(shape, seed):
    """Values in [-60, 0] with one slice at -1000 (it underflows under another slice's shift) and some -inf."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-60.0, 0.0, size=shape)
    if x.size:
        x.reshape(-1)[rng.integers(x.size)] = -np.inf
    if x.ndim > 1 and x.shape[0] > 1:
        x[0] = -1000.0 + rng.uniform(-1.0, 0.0, size=shape[1:])
    return x


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_logsumexp_matches_the_slice_loop_on_every_axis(shape):
    for seed, scale in enumerate(SCALES):
        x = _table(shape, seed)
        for axis in [None, *range(-x.ndim, x.ndim)]:
            got = exact.logsumexp(x, axis=axis, scale=scale)
            want = _reference(x, axis, float(scale))
            expected_shape = () if axis is None else np.delete(x.shape, axis).tolist()
            assert list(np.shape(got)) == list(expected_shape), (shape, axis)
            assert np.asarray(got).dtype == np.float64
            np.testing.assert_allclose(got, want, rtol=1e-13, atol=0)
            if np.ndim(got) == 0:
                assert isinstance(got, np.float64)  # a numpy scalar, also for an empty slice


def test_logsumexp_default_scale_and_zero_mass_rows_without_warnings():
    """``scale`` defaults to 1; an all ``-inf`` slice is ``-inf`` and raises no numpy warning."""
    x = np.array([[0.0, math.log(3.0)], [-np.inf, -np.inf]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = exact.logsumexp(x)
        np.testing.assert_array_equal(exact.logsumexp(x[1]), -np.inf)
    np.testing.assert_allclose(got, [math.log(4.0), -np.inf], rtol=1e-15)


def test_logsumexp_refuses_bad_scale_and_input_by_name():
    for scale in (0.0, -1.0):
        with pytest.raises(ValueError, match=rf"^scale must be > 0, got {scale}$"):
            exact.logsumexp([0.0, 1.0], scale=scale)
    with pytest.raises(ValueError, match=r"^scale must be a real number > 0, got NaN$"):
        exact.logsumexp([0.0, 1.0], scale=float("nan"))
    with pytest.raises(ValueError, match=r"^scale must lie in \(0, 10000\]"):
        exact.logsumexp([0.0, 1.0], scale=2e4)
    with pytest.raises(ValueError, match=r"^log_values must be an array of real numbers \(integer or float dtype\)"):
        exact.logsumexp(["a", "b"])
    with pytest.raises(ValueError, match=r"^log_values has NaN entries$"):
        exact.logsumexp([0.0, np.nan])


def _slice_normalize(row):
    row = [float(v) for v in row]
    total = _slice_logsumexp(row, 1.0)
    if total == -math.inf:
        return row
    peak = max(row)
    shifted_total = math.log(math.fsum(math.exp(v - peak) for v in row))
    return [(v - peak) - shifted_total for v in row]


@pytest.mark.parametrize("shape", [(4,), (3, 2), (2, 3), (3, 3), (2, 1, 3), (0,), (3, 0), (0, 2)], ids=str)
def test_log_normalize_matches_the_slice_loop_on_every_axis(shape):
    x = _table(shape, 7)
    if x.ndim > 1 and x.shape[-1] > 1 and x.shape[0] > 2:
        x[1] = -np.inf  # a zero-mass slice stays all -inf
        x[2] = -1e15 + np.arange(x.shape[1:][-1] if x.ndim == 2 else 1)  # needs its own shift
    for axis in range(-x.ndim, x.ndim):
        got = exact.log_normalize(x, axis=axis)
        want = np.moveaxis(np.empty_like(x), axis, -1)
        moved = np.moveaxis(x, axis, -1)
        for index in np.ndindex(moved.shape[:-1]):
            want[index] = _slice_normalize(moved[index])
        want = np.moveaxis(want, -1, axis)
        assert got.shape == x.shape and got.dtype == np.float64
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)
        probabilities = normalize_exp(x, axis=axis)
        assert probabilities.shape == x.shape and probabilities.dtype == np.float64
        np.testing.assert_allclose(probabilities, np.exp(want), rtol=1e-13, atol=1e-15)


def test_log_normalize_needs_its_own_shift_far_from_zero():
    """A slice near -1e15 normalises exactly: shifted by its own maximum, not by 0 or another slice's."""
    x = np.array([[0.0, 0.0], [-1e15, -1e15 + 1.0]])
    expected = [-math.log1p(math.e), -math.log1p(math.exp(-1.0))]
    np.testing.assert_allclose(exact.log_normalize(x)[1], expected, rtol=1e-14)
    np.testing.assert_allclose(exact.log_normalize(x[1]), expected, rtol=1e-14)
    np.testing.assert_allclose(exact.log_normalize(x.T, axis=0)[:, 1], expected, rtol=1e-14)
    np.testing.assert_allclose(normalize_exp(x.T, axis=0), [[0.5, 1 / (1 + math.e)], [0.5, math.e / (1 + math.e)]], rtol=1e-14)


def test_log_normalize_messages():
    with pytest.raises(ValueError, match=r"^log_weights must have at least one axis to normalise along, got a scalar$"):
        exact.log_normalize(0.0)
    for bad in ([np.nan, 0.0], [np.inf, 0.0]):
        with pytest.raises(ValueError, match=r"^log_weights must not be NaN or \+inf \(-inf is a zero weight\)$"):
            exact.log_normalize(bad)
    with pytest.raises(ValueError, match=r"^log_weights must be an array of real numbers \(integer or float dtype\)"):
        exact.log_normalize(["a", "b"])
