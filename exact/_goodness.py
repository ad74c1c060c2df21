"""Goodness of fit of sampled sequences against an exact law: Pearson chi-square or G-test.

Public as ``exact.goodness_of_fit``, ``exact.chi_square_pvalue`` and
``exact.SamplerCheck`` (also re-exported by ``exact.testing``); this private
module is their one home.  The one test every sampler check in this repository
uses (``exact.testing``'s ``assert_sampler_matches`` and ``assert_draws_match``,
the ``exact.samplers`` and ``llm`` sampler tests):
cells are the sequences of positive target probability; cells whose expected
count ``n · target`` is below ``min_expected`` are pooled so that the
chi-square approximation holds; any draw of a probability-0 sequence fails
outright.  ``scipy.stats`` is imported on first use (it takes ~1 s), so
``import exact`` stays fast.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._validate import check_count, check_nonnegative, check_probability_array, check_real, real_array

__all__ = ["MIN_EXPECTED", "CheckPower", "SamplerCheck", "check_power", "chi_square_pvalue", "goodness_of_fit"]

#: Cells with expected count below this are pooled, so the chi-square approximation holds.
MIN_EXPECTED = 5.0


class SamplerCheck(NamedTuple):
    """What :func:`goodness_of_fit` computed."""

    statistic: float
    """Pearson ``Σ (O - E)² / E`` (or G ``2 Σ O log(O / E)``) over the pooled cells."""
    p_value: float
    """``P(χ²_dof ≥ statistic)``; a check fails when it is below its level."""
    dof: int
    """Degrees of freedom: number of pooled cells minus one."""
    n: int
    """Number of draws."""
    n_cells: int
    """Number of cells after pooling (sequences with target probability 0 are not cells)."""
    n_pooled: int
    """How many sequences were pooled into the one small-expected-count cell (0: none)."""
    observed: np.ndarray
    """Draw counts per sequence, shape ``(V_1, ..., V_T)``."""
    expected: np.ndarray
    """``n · target`` per sequence, shape ``(V_1, ..., V_T)``."""


def _pool(expected: np.ndarray, min_expected: float) -> np.ndarray:
    """Bin label per cell: cells with expected count ``< min_expected`` share one bin, which grows by
    the next-smallest cells until its own expected count reaches ``min_expected``."""
    order = np.argsort(expected, kind="stable")
    labels = np.arange(expected.size)
    pooled_mass, n_pooled = 0.0, 0
    for i in order:
        if expected[i] >= min_expected and (n_pooled == 0 or pooled_mass >= min_expected):
            break
        pooled_mass += expected[i]
        n_pooled += 1
    if n_pooled > 1:
        labels[order[:n_pooled]] = order[0]
    return labels


def goodness_of_fit(
    draws: np.ndarray, target: np.ndarray, method: str = "pearson", min_expected: float = MIN_EXPECTED
) -> SamplerCheck:
    """Pearson chi-square (``method="pearson"``) or G-test (``"g"``) of ``(n, T)`` draws against ``target``.

    ``target`` is a probability array over sequences (shape ``(V_1, ..., V_T)``), summing to 1
    within 1e-9.  Sequences of target probability 0 are not cells: any draw of one gives
    ``statistic = inf``, ``p_value = 0``.  Cells with expected count ``n·target < min_expected``
    are pooled (:func:`_pool`); ``dof`` = pooled cells ``- 1``; ``p_value = P(χ²_dof ≥ statistic)``.
    """
    from scipy import stats

    if method not in ("pearson", "g"):
        raise ValueError(f"method must be 'pearson' or 'g', got {method!r}")
    p = check_probability_array(target, "target", 1e-9)
    min_expected = check_nonnegative(min_expected, "min_expected")
    arr = np.asarray(draws)
    if arr.ndim != 2 or arr.shape[1] != p.ndim or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"draws must be an (n, {p.ndim}) integer array, got shape {arr.shape} and dtype {arr.dtype}")
    if np.any(arr < 0) or np.any(arr >= np.asarray(p.shape)):
        raise ValueError(f"draws have token ids out of range for vocabulary sizes {p.shape}")
    n = len(arr)
    counts = np.bincount(np.ravel_multi_index(tuple(arr.T), p.shape), minlength=p.size).astype(np.float64)
    expected = n * p.reshape(-1)
    observed = counts.reshape(p.shape)
    support = np.flatnonzero(expected > 0)
    labels = _pool(expected[support], min_expected)
    bins, inverse, sizes = np.unique(labels, return_inverse=True, return_counts=True)
    n_pooled = int(sizes.max()) if sizes.size and sizes.max() > 1 else 0
    dof = bins.size - 1
    if np.any(counts[expected == 0] > 0):
        return SamplerCheck(np.inf, 0.0, dof, n, int(bins.size), n_pooled, observed, expected.reshape(p.shape))
    if dof < 1:
        return SamplerCheck(0.0, 1.0, 0, n, int(bins.size), n_pooled, observed, expected.reshape(p.shape))
    observed_bins = np.bincount(inverse, weights=counts[support])
    expected_bins = np.bincount(inverse, weights=expected[support])
    statistic, p_value = stats.power_divergence(
        observed_bins, expected_bins, lambda_="pearson" if method == "pearson" else "log-likelihood"
    )
    return SamplerCheck(float(statistic), float(p_value), int(dof), n, int(bins.size), n_pooled, observed, expected.reshape(p.shape))


def chi_square_pvalue(sequences: np.ndarray, probabilities: np.ndarray, min_expected: float = MIN_EXPECTED) -> float:
    """The Pearson chi-square p-value of :func:`goodness_of_fit` (0 when a probability-0 sequence was drawn)."""
    return goodness_of_fit(sequences, probabilities, "pearson", min_expected).p_value


class CheckPower(NamedTuple):
    """How likely the Pearson check is to reject draws from a given law (:func:`check_power`)."""

    noncentrality: float
    """``n · Σ_cells (law - target)² / target`` over the pooled cells the check uses at ``n`` draws."""
    dof: int
    """The check's degrees of freedom at ``n`` draws."""
    power: float
    """``P(χ²_dof(noncentrality) ≥ χ²_dof quantile at 1 - alpha_level)``: the rejection probability."""


def check_power(
    law: np.ndarray, target: np.ndarray, n: int, alpha_level: float = 0.01, min_expected: float = MIN_EXPECTED
) -> CheckPower:
    """Power of the chi-square check of ``n`` draws from ``law`` against ``target`` (noncentral χ² approximation).

    The cells are pooled exactly as :func:`goodness_of_fit` pools them at ``n`` draws.  With
    ``law == target`` the power is ``alpha_level`` (the false-alarm rate); a ``law`` with mass
    where ``target`` has none is rejected as soon as it is drawn, so such mass is not counted here.
    """
    from scipy import stats

    p, q = check_probability_array(law, "law", 1e-9).reshape(-1), check_probability_array(target, "target", 1e-9).reshape(-1)
    n = check_count(n, "n")
    min_expected = check_nonnegative(min_expected, "min_expected")
    alpha_level = check_real(alpha_level, "alpha_level")
    if not 0.0 < alpha_level < 1.0:
        raise ValueError(f"alpha_level must lie in (0, 1), got {alpha_level!r}")
    if p.shape != q.shape:
        raise ValueError(f"law and target must have the same shape, got {np.shape(law)} and {np.shape(target)}")
    support = np.flatnonzero(q > 0)
    _, cell = np.unique(_pool(n * q[support], min_expected), return_inverse=True)
    law_cells, target_cells = np.bincount(cell, weights=p[support]), np.bincount(cell, weights=q[support])
    noncentrality = float(n * ((law_cells - target_cells) ** 2 / target_cells).sum())
    dof = int(target_cells.size - 1)
    if dof < 1:
        return CheckPower(noncentrality, dof, 0.0)
    power = float(stats.ncx2.sf(stats.chi2.isf(alpha_level, dof), dof, noncentrality)) if noncentrality > 0 else alpha_level
    return CheckPower(noncentrality, dof, power)
