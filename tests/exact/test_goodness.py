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
def _groups(expected, min_expected):
    """The cells (flat indices of positive ``expected``) grouped by the pooling rule, and the pool's size."""
    cells = [i for i in sorted(range(expected.size), key=lambda i: (expected[i], i)) if expected[i] > 0]
    k = next(
        (k for k in range(len(cells) + 1)
         if all(expected[i] >= min_expected for i in cells[k:]) and (k == 0 or sum(expected[cells[:k]]) >= min_expected)),
        len(cells),
    )
    return ([cells[:k]] if k > 1 else [[i] for i in cells[:k]]) + [[i] for i in cells[k:]], k


def _reference(draws, target, method, min_expected):
    """(statistic, p_value, dof, n_cells, n_pooled) from the definitions: the pool is the shortest run of
    the smallest cells (ties by index) after which every other cell has expected count >= min_expected
    and the pool itself has >= min_expected (all cells if there is no such run); one pooled cell is no pool."""
    p, n = target.reshape(-1), len(draws)
    counts = np.zeros(p.size)
    for row in draws:
        counts[np.ravel_multi_index(tuple(row), target.shape)] += 1
    groups, k = _groups(n * p, min_expected)
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
@example([1, 3, 50, 10], 64, 5.0, "pearson", 1, False)  # 1 + 3 < 5: the 50 joins the pool
@example([0, 1, 1, 6], 200, 12.0, "pearson", 2, True)  # a probability-0 cell, drawn
@example([60, 1, 1, 60, 60, 60, 60, 60, 60, 60, 1, 60, 60, 60, 60, 1, 60, 60, 60], 904, 5.0, "pearson", 0, False)  # 4 + one 60 pooled:
# the first 60 by index (numpy's default sort, not stable beyond 16 entries, would pool the fifth)
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
    unpooled = exact.goodness_of_fit(draws, _BOUNDARY, min_expected=2.0)  # no pool: four cells
    assert unpooled.dof == 3 and exact.chi_square_pvalue(draws, _BOUNDARY, 2.0) == unpooled.p_value != result.p_value


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


@given(
    st.lists(st.integers(0, 6), min_size=2, max_size=6).filter(lambda w: sum(w) > 0),
    st.lists(st.integers(0, 6), min_size=6, max_size=6).filter(lambda w: sum(w) > 0),
    st.sampled_from([1, 30, 64, 200]),
    st.sampled_from([None, 0.05, 0.3]),
    st.sampled_from([None, 0.0, 12.0]),
)
@example([2, 3, 5, 54], [4, 1, 5, 54, 0, 0], 64, None, None)  # the pool {2, 3} at exactly MIN_EXPECTED
@example([1, 1], [6, 4, 0, 0, 0, 0], 10, None, None)  # noncentrality 10 · 2 · 0.1² / 0.5 = 0.4, below 1
def test_check_power_matches_the_noncentral_chi_square_by_hand(target_weights, law_weights, n, alpha_level, min_expected):
    """``n · Σ_cells (law − target)² / target`` over the check's pooled cells, and
    ``P(χ²_dof(λ) ≥ χ²_dof quantile at 1 − alpha_level)`` from scipy; defaults 0.01 and ``MIN_EXPECTED``;
    law mass outside the target's support is not counted; no degree of freedom: power 0."""
    target = np.array(target_weights, dtype=np.float64) / sum(target_weights)
    law = np.array(law_weights[: target.size], dtype=np.float64)
    law = law / law.sum() if law.sum() > 0 else target
    kwargs = {k: v for k, v in (("alpha_level", alpha_level), ("min_expected", min_expected)) if v is not None}
    level, floor = alpha_level or 0.01, kit.MIN_EXPECTED if min_expected is None else min_expected
    result = kit.check_power(law, target, n, **kwargs)
    groups, _ = _groups(n * target, floor)
    law_cells, target_cells = np.array([law[g].sum() for g in groups]), np.array([target[g].sum() for g in groups])
    noncentrality = n * ((law_cells - target_cells) ** 2 / target_cells).sum()
    assert result.dof == len(groups) - 1
    assert result.noncentrality == pytest.approx(noncentrality, rel=1e-12, abs=1e-15)
    if result.dof < 1:
        assert result.power == 0.0
    elif noncentrality == 0:
        assert result.power == level
    else:
        critical = stats.chi2.ppf(1 - level, result.dof)
        assert result.power == pytest.approx(stats.ncx2.sf(critical, result.dof, noncentrality), rel=1e-9)
    null = kit.check_power(target, target, n, **kwargs)
    assert (null.noncentrality, null.power) == (0.0, level if null.dof >= 1 else 0.0)


def test_check_power_errors_read_from_their_start():
    half = np.array([0.5, 0.5])
    cases = [
        ((np.array([0.5, 0.6]), half, 3), "law must sum to 1 within 1e-09, sums to 1.1"),
        ((half, np.array([0.5, 0.6]), 3), "target must sum to 1 within 1e-09, sums to 1.1"),
        ((half, half, 0), "n must be an integer >= 1, got 0"),
        ((half, half, 3, 1.0), "alpha_level must lie in (0, 1), got 1.0"),
        ((half, half, 3, 0.0), "alpha_level must lie in (0, 1), got 0.0"),
        ((half, half, 3, "a"), "alpha_level must be a real number, got 'a'"),
        ((half, half, 3, 0.01, -1.0), "min_expected must be a finite number >= 0, got -1.0"),
        ((half, np.array([1.0]), 3), "law and target must have the same shape, got (2,) and (1,)"),
    ]
    for args, message in cases:
        with pytest.raises(ValueError, match="^" + re.escape(message)):
            kit.check_power(*args)
    kit.check_power(np.array([0.5, 0.5 + 5e-10]), np.array([0.5 - 5e-10, 0.5]), 1, 1e-6, 0.0)  # within 1e-9


def test_observed_and_expected_keep_the_target_shape_on_every_branch():
    """``observed`` and ``expected = n · target`` have the target's shape whether a probability-0
    sequence was drawn, the pooled cells leave no degree of freedom, or the test runs."""
    grid = np.array([[0.25, 0.75, 0.0]])
    draws = np.array([[0, 0]] * 2 + [[0, 1]] * 6)
    for sample, dof in ((np.vstack([draws, [[0, 2]]]), 0), (draws, 0), (np.vstack([draws] * 5), 1)):
        result = exact.goodness_of_fit(sample, grid)
        assert result.dof == dof and result.observed.shape == result.expected.shape == (1, 3)
        assert np.array_equal(result.expected, len(sample) * grid)
