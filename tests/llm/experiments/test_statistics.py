"""Statistics of the evaluation tables against independent routes: brute force, scipy, simulation."""

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from scipy.stats import binomtest

from llm.experiments.statistics import (
    best_of_n,
    mcnemar_exact,
    mean_sd_over_seeds,
    paired_bootstrap,
    paired_comparison,
    pass_at_k,
    pass_at_k_rewards,
)


def brute_pass_at_k(n: int, c: int, k: int) -> Fraction:
    """The share of all k-subsets of n samples (c of them correct) that hold at least one correct sample."""
    samples = [1] * c + [0] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return Fraction(sum(any(samples[i] for i in subset) for subset in subsets), len(subsets))


def test_pass_at_k_equals_the_brute_force_over_all_k_subsets():
    for n in range(1, 10):
        for c in range(n + 1):
            for k in range(1, n + 1):
                assert pass_at_k(n, c, k) == pytest.approx(float(brute_pass_at_k(n, c, k)), abs=1e-12), (n, c, k)


def test_pass_at_k_is_stable_where_the_binomials_overflow_floats():
    n, c, k = 2000, 7, 300  # C(2000, 300) ~ 1e400: the naive ratio of floats overflows
    exact = 1 - Fraction(math.comb(n - c, k), math.comb(n, k))
    assert pass_at_k(n, c, k) == pytest.approx(float(exact), rel=1e-12)


def test_pass_at_k_over_problems_and_bad_input():
    rewards = np.array([[1, 0, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0]])
    result = pass_at_k_rewards(rewards, 2)
    assert result.k == 2 and (result.n_problems, result.n_samples) == (3, 4)
    assert result.estimate == pytest.approx((0.5 + 5 / 6 + 0) / 3, abs=1e-12)
    assert pass_at_k_rewards(rewards, 1).estimate == pytest.approx(rewards.mean(), abs=1e-12)  # pass@1 = c/n
    for args in [(0, 0, 1), (3, 4, 1), (3, 1, 4), (3, 1, 0), (3.0, 1, 1), (True, 1, 1)]:
        with pytest.raises(ValueError):
            pass_at_k(*args)
    with pytest.raises(ValueError, match="0/1"):
        pass_at_k_rewards([[0.5, 1.0]], 1)


def test_mean_sd_over_seeds_is_table_1s_per_seed_mean_then_mean_and_sd():
    rewards = np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])  # problems x seeds
    result = mean_sd_over_seeds(rewards)
    per_seed = [0.5, 0.0, 1.0]
    assert result.mean == pytest.approx(np.mean(per_seed)) and result.n_seeds == 3
    assert result.sd == pytest.approx(np.sqrt(sum((v - 0.5) ** 2 for v in per_seed) / 2))
    assert math.isnan(mean_sd_over_seeds([[1.0], [0.0]]).sd)
    with pytest.raises(ValueError, match="non-finite"):
        mean_sd_over_seeds([[np.nan, 1.0]])


def test_best_of_n_picks_each_problems_highest_self_reward_first_on_ties():
    rng = np.random.default_rng(0)
    r_star, r_self = rng.integers(0, 2, size=(7, 5)).astype(float), rng.normal(size=(7, 5))
    r_self[3] = [-1.0, 2.0, 2.0, -np.inf, 0.0]  # a tie: the first maximum; -inf (empty completion) is allowed
    picks = [max(range(5), key=lambda s: (r_self[i, s], -s)) for i in range(7)]
    result = best_of_n(r_star, r_self)
    assert result.r_star == pytest.approx(np.mean([r_star[i, s] for i, s in enumerate(picks)]))
    assert result.r_self == pytest.approx(np.mean([r_self[i, s] for i, s in enumerate(picks)]))
    assert (result.n_problems, result.n_samples) == (7, 5) and picks[3] == 1
    with pytest.raises(ValueError, match="same shape"):
        best_of_n(r_star, r_self[:, :4])
    with pytest.raises(ValueError, match="NaN"):
        best_of_n(r_star, np.where(r_self > 1, np.nan, r_self))


def test_mcnemar_matches_scipys_binomial_test_on_the_discordant_pairs():
    rng = np.random.default_rng(1)
    for only_a in range(0, 25, 3):
        for only_b in range(0, 25, 4):
            both, neither = int(rng.integers(0, 10)), int(rng.integers(0, 10))
            a = np.array([1] * only_a + [0] * only_b + [1] * both + [0] * neither)
            b = np.array([0] * only_a + [1] * only_b + [1] * both + [0] * neither)
            if len(a) == 0:
                continue
            order = rng.permutation(len(a))
            result = mcnemar_exact(a[order], b[order])
            assert (result.only_a, result.only_b, result.n_pairs) == (only_a, only_b, len(a))
            expected = binomtest(only_a, only_a + only_b, 0.5).pvalue if only_a + only_b else 1.0
            assert result.p_value == pytest.approx(expected, rel=1e-12, abs=1e-300), (only_a, only_b)
            assert result.difference == pytest.approx((only_a - only_b) / len(a))
    # (problems, seeds) arrays are paired cell by cell
    assert mcnemar_exact([[1, 1], [0, 1]], [[0, 1], [0, 0]]).only_a == 2
    with pytest.raises(ValueError, match="0/1"):
        mcnemar_exact([0.5, 1.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="same shape"):
        mcnemar_exact([1, 0], [1, 0, 1])


def test_paired_bootstrap_is_seeded_and_its_95_percent_interval_covers_about_95_percent():
    rng = np.random.default_rng(2)
    a, b = rng.normal(0.3, 1, size=(30, 2)), rng.normal(0.0, 1, size=(30, 2))
    first = paired_bootstrap(a, b, n_resamples=2000, seed=5)
    assert first == paired_bootstrap(a, b, n_resamples=2000, seed=5)
    assert first != paired_bootstrap(a, b, n_resamples=2000, seed=6)
    assert first.difference == pytest.approx((a - b).mean()) and first.low < first.difference < first.high
    # coverage: per-problem differences with true mean 0.2; the percentile interval of 40 problems
    # covers it in 300 repetitions about 95% of the time (binomial sd 1.3%, percentile CIs undercover a little)
    covered = 0
    for repetition in range(300):
        shift = rng.normal(0, 1, size=40)  # problem difficulty, shared by both methods (what pairing removes)
        x, y = shift + 0.2 + rng.normal(0, 1, size=40), shift + rng.normal(0, 1, size=40)
        ci = paired_bootstrap(x, y, n_resamples=1000, seed=repetition)
        covered += ci.low <= 0.2 <= ci.high
    assert 0.89 <= covered / 300 <= 0.99
    with pytest.raises(ValueError, match="at least two problems"):
        paired_bootstrap([1.0], [0.0])
    with pytest.raises(ValueError, match="confidence"):
        paired_bootstrap(a, b, confidence=1.0)


def test_paired_comparison_adds_mcnemar_only_for_pass_fail_rewards():
    binary = paired_comparison([[1, 0], [1, 1], [0, 0]], [[0, 0], [1, 0], [0, 0]], n_resamples=500)
    assert binary.mcnemar is not None and binary.mcnemar.only_a == 2 and binary.bootstrap.n_problems == 3
    real = paired_comparison([0.5, 0.2, 0.9], [0.1, 0.2, 0.3], n_resamples=500)
    assert real.mcnemar is None and real.bootstrap.difference == pytest.approx(1.0 / 3)
