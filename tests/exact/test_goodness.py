"""``exact.goodness_of_fit`` / ``chi_square_pvalue`` (exact/_goodness.py) and the kit's false-alarm rate.

Impossible draws: one draw of a sequence of target probability 0 gives ``statistic = inf`` and
``p_value = 0`` whatever the other draws (Pearson and G).  False-alarm rate: draws made exactly
from the target (``rng.choice`` over the cells, no sampler error) are rejected by
``exact.testing.assert_sampler_matches`` at a rate within a binomial 4-sigma band of
``alpha_level = 0.05`` (800 runs, ~1 s; band [0.019, 0.081]): a kit whose rejection level is off
by 10x in either direction (0.5 or 0.005) lies far outside.
"""

import math

import numpy as np
import pytest
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
