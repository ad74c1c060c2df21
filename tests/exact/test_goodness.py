"""``exact.goodness_of_fit`` / ``chi_square_pvalue`` (exact/_goodness.py) and the kit's false-alarm rate.

Impossible draws: one draw of a sequence of target probability 0 gives ``statistic = inf`` and
``p_value = 0`` whatever the other draws (Pearson and G).  False-alarm rate: draws made exactly
from the target (``rng.choice`` over the cells, no sampler error) are rejected by
``exact.testing.assert_sampler_matches`` at a rate within a binomial 4-sigma band of
``alpha_level = 0.05`` (800 runs, ~1 s; band [0.019, 0.081]): a kit whose rejection level is off
by 10x in either direction (0.5 or 0.005) lies far outside.
"""

import math
import re

import numpy as np
import pytest
from scipy import stats
from hypothesis import example, given
from hypothesis import strategies as st

import exact
import exact.testing as kit
from exact.testing import strategies as sx


def _cells(shape):
    return np.array(list(np.ndindex(*shape)), dtype=np.int64)


@given(sx.tabular_models(max_horizon=3), st.sampled_from([0.5, 1.0, 2.0]), sx.seeds(), st.sampled_from(["pearson", "g"]))
@example(exact.pivotal_example(), 2.0, 0, "pearson")  # π(aa) = 0
@example(exact.pivotal_example(), 2.0, 0, "g")
def test_a_draw_of_probability_zero_gives_p_zero_and_infinite_statistic(model, alpha, seed, method):
    target = kit.power_target(model, alpha)
    zeros = np.flatnonzero(target.reshape(-1) == 0)
    if zeros.size == 0:
        return  # nothing impossible to draw
    rng = np.random.default_rng(seed)
    cells = _cells(target.shape)
    draws = cells[rng.choice(target.size, 500, p=target.reshape(-1))]  # a perfect sampler ...
    draws[rng.integers(500)] = cells[zeros[rng.integers(zeros.size)]]  # ... that emits one impossible sequence
    result = exact.goodness_of_fit(draws, target, method)
    assert result.statistic == math.inf and result.p_value == 0.0
    assert exact.chi_square_pvalue(draws, target) == 0.0
    with pytest.raises(AssertionError, match="have target probability 0"):
        kit.assert_draws_match(draws, target, name="one impossible draw")


def test_an_impossible_draw_among_a_perfect_fit_still_gives_p_zero():
    """Even when the other draws match the expected counts exactly (statistic 0 without the bad draw)."""
    target = np.array([0.5, 0.5, 0.0])
    draws = np.array([[0]] * 50 + [[1]] * 50 + [[2]])
    result = exact.goodness_of_fit(draws, target)
    assert (result.statistic, result.p_value) == (math.inf, 0.0)
    assert exact.goodness_of_fit(draws[:-1], target).p_value == 1.0


def test_false_alarm_rate_of_the_kit_is_its_alpha_level(alpha_level=0.05):
    """An exact sampler fails ``assert_sampler_matches`` at rate ``alpha_level`` (4-sigma binomial band)."""
    target = np.array([[0.30, 0.20, 0.10], [0.15, 0.15, 0.06], [0.02, 0.015, 0.005]])
    model = exact.TabularAR.from_joint(target)
    cells = _cells(target.shape)

    def exact_sampler(model, n, rng):
        return cells[rng.choice(target.size, n, p=target.reshape(-1))]

    rng = np.random.default_rng(20260501)
    runs = 800
    failures = 0
    for _ in range(runs):
        try:
            kit.assert_sampler_matches(exact_sampler, model, target, 400, rng, alpha_level)
        except AssertionError:
            failures += 1
    band = 4 * math.sqrt(alpha_level * (1 - alpha_level) / runs)
    assert abs(failures / runs - alpha_level) < band, (failures, runs, alpha_level)


# -- an independent route: pooling from its definition, statistics by hand, scipy's chi2 ------------
def _reference(draws, target, method, min_expected):
    """(statistic, p_value, dof, n_cells, n_pooled) from the definitions: the pool is the shortest run of
    the smallest cells (ties by index) after which every other cell has expected count >= min_expected
    and the pool itself has >= min_expected (all cells if there is no such run); one pooled cell is no pool."""
    p, n = target.reshape(-1), len(draws)
    counts = np.zeros(p.size)
    for row in draws:
        counts[np.ravel_multi_index(tuple(row), target.shape)] += 1
    cells = [i for i in sorted(range(p.size), key=lambda i: (n * p[i], i)) if p[i] > 0]
    k = next(
        (k for k in range(len(cells) + 1)
         if all(n * p[i] >= min_expected for i in cells[k:]) and (k == 0 or sum(n * p[i] for i in cells[:k]) >= min_expected)),
        len(cells),
    )
    groups = ([cells[:k]] if k > 1 else [[i] for i in cells[:k]]) + [[i] for i in cells[k:]]
    observed = np.array([counts[g].sum() for g in groups])
    expected = np.array([n * p[g].sum() for g in groups])
    dof, n_pooled = len(groups) - 1, (k if k > 1 else 0)
    if counts[p == 0].sum() > 0:
        return math.inf, 0.0, dof, len(groups), n_pooled
    if dof < 1:
        return 0.0, 1.0, 0, len(groups), n_pooled
    if method == "pearson":
        statistic = ((observed - expected) ** 2 / expected).sum()
    else:
        statistic = 2 * sum(o * math.log(o / e) for o, e in zip(observed, expected) if o > 0)
    return statistic, stats.chi2.sf(statistic, dof), dof, len(groups), n_pooled


_BOUNDARY = np.array([2, 3, 5, 54]) / 64  # n = 64: expected 2, 3, 5, 54; the pool {2, 3} reaches 5 exactly


@given(
    st.lists(st.integers(0, 6), min_size=2, max_size=6).filter(lambda w: sum(w) > 0),
    st.sampled_from([30, 64, 200]),
    st.sampled_from([0.0, 1.0, 5.0, 12.0]),
    st.sampled_from(["pearson", "g"]),
    sx.seeds(),
    st.booleans(),
)
@example([2, 3, 5, 54], 64, 5.0, "pearson", 0, False)  # a cell of expected count exactly min_expected, a pool of exactly it
@example([2, 3, 5, 54], 64, 5.0, "g", 0, False)
@example([1, 4, 3, 50], 64, 5.0, "pearson", 1, False)  # 1 + 3 < 5: the 4 joins, then the pool of 8 stops at 50
@example([0, 1, 1, 6], 200, 12.0, "pearson", 2, True)  # a probability-0 cell, drawn
def test_goodness_of_fit_matches_the_definition(weights, n, min_expected, method, seed, impossible):
    """Every field of ``goodness_of_fit`` (and ``chi_square_pvalue``) against the brute-force route."""
    target = np.array(weights, dtype=np.float64) / sum(weights)
    rng = np.random.default_rng(seed)
    law = (target + 0.3 / target.size) / 1.3  # a nearby law, so p-values are spread over (0, 1)
    draws = rng.choice(target.size, n, p=law)[:, None]
    if impossible and (target == 0).any():
        draws[0, 0] = np.flatnonzero(target == 0)[0]
    else:
        draws = draws[target[draws[:, 0]] > 0]
    result = exact.goodness_of_fit(draws, target, method, min_expected)
    statistic, p_value, dof, n_cells, n_pooled = _reference(draws, target, method, min_expected)
    assert (result.dof, result.n_cells, result.n_pooled, result.n) == (dof, n_cells, n_pooled, len(draws))
    assert result.statistic == pytest.approx(statistic, rel=1e-9, abs=1e-12)
    assert result.p_value == pytest.approx(p_value, rel=1e-9, abs=1e-15)
    np.testing.assert_array_equal(result.observed, np.bincount(draws[:, 0], minlength=target.size))
    np.testing.assert_allclose(result.expected, len(draws) * target, rtol=1e-15)
    if method == "pearson":
        assert exact.chi_square_pvalue(draws, target, min_expected) == result.p_value


def test_the_pooling_boundary_and_the_default_min_expected():
    """Expected counts 2, 3, 5, 54 (n = 64): the pool {2, 3} holds exactly 5 = MIN_EXPECTED, and the cell
    of exactly 5 is not pooled: three cells, two degrees of freedom.  Two cells (expected 2 and 6) on a (1, 2)
    grid of two steps exercise ``T = 2``."""
    draws = np.repeat(np.arange(4), [1, 4, 9, 50])[:, None]
    result = exact.goodness_of_fit(draws, _BOUNDARY)
    assert kit.MIN_EXPECTED == 5.0
    assert (result.n_cells, result.dof, result.n_pooled) == (3, 2, 2)
    observed, expected = np.array([5, 9, 50]), np.array([5, 5, 54])
    assert result.statistic == pytest.approx(((observed - expected) ** 2 / expected).sum(), rel=1e-12)
    assert exact.chi_square_pvalue(draws, _BOUNDARY) == pytest.approx(stats.chi2.sf(result.statistic, 2), rel=1e-12)
    grid = np.array([[0.25, 0.75]])
    two_steps = exact.goodness_of_fit(np.array([[0, 0]] * 3 + [[0, 1]] * 5), grid)
    assert (two_steps.n_cells, two_steps.dof, two_steps.n_pooled, two_steps.statistic) == (1, 0, 2, 0.0)
    assert exact.goodness_of_fit(np.array([[0, 0]] * 3 + [[0, 1]] * 5), grid, min_expected=2.0).dof == 1


def test_goodness_of_fit_errors_read_from_their_start():
    ok = np.array([[0], [1]])
    half = np.array([0.5, 0.5])
    cases = [
        ((ok, half, "ks"), "method must be 'pearson' or 'g', got 'ks'"),
        ((ok, half, "G"), "method must be 'pearson' or 'g', got 'G'"),
        ((ok, np.array([0.5, 0.5 + 2e-9])), "target must sum to 1 within 1e-09, sums to 1.000000002"),
        ((ok, half, "pearson", -1.0), "min_expected must be a finite number >= 0, got -1.0"),
        ((np.array([[0, 1]]), half), "draws must be an (n, 1) integer array, got shape (1, 2) and dtype int64"),
        ((np.array([0, 1]), half), "draws must be an (n, 1) integer array, got shape (2,) and dtype int64"),
        ((np.array([[0.0], [1.0]]), half), "draws must be an (n, 1) integer array, got shape (2, 1) and dtype float64"),
        ((np.array([[2]]), half), "draws have token ids out of range for vocabulary sizes (2,)"),
        ((np.array([[-1]]), half), "draws have token ids out of range for vocabulary sizes (2,)"),
    ]
    for args, message in cases:
        with pytest.raises(ValueError, match="^" + re.escape(message)):
            exact.goodness_of_fit(*args)
    exact.goodness_of_fit(ok, np.array([0.5, 0.5 + 5e-10]), "g")  # within 1e-9; token ids 0 and V - 1 are fine
