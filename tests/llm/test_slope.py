"""∂R/∂α from power samples (Prop. 4): covariance and reweighting estimates vs ``exact.reward_slope`` on toys."""

import numpy as np
import pytest

import exact
import llm
from llm.slope import estimate_slope, reweighted_reward, slope_from_completions

K = 4  # tolerance in standard errors


def _setting(seed):
    model = exact.TabularAR.random(3, 4, seed)
    table = np.random.default_rng(seed + 100).normal(size=model.vocab_sizes)
    return model, table


@pytest.mark.parametrize("seed, alpha", [(0, 1.0), (1, 2.0), (2, 4.0)])
def test_both_estimates_agree_with_the_exact_slope(seed, alpha):
    model, table = _setting(seed)
    n = 20_000
    samples = exact.sample_power(model, alpha, n, np.random.default_rng(seed))
    rewards = table[tuple(samples.T)]
    log_likelihoods = np.log(model.joint()[tuple(samples.T)])
    est = estimate_slope(rewards, log_likelihoods, step=0.02)
    truth = exact.reward_slope(model, table, alpha)
    assert abs(est.covariance - truth) < K * est.covariance_se
    assert abs(est.reweighted - truth) < K * est.reweighted_se
    assert 0 < est.covariance_se < 0.05 and est.n == n


@pytest.mark.parametrize("seed, alpha, delta", [(4, 2.0, 0.5), (5, 2.0, -0.7), (6, 1.0, 1.5)])
def test_reweighted_reward_at_another_exponent_matches_the_exact_reward(seed, alpha, delta):
    """``R̂(α + δ)`` from ``π_α`` samples vs ``exact.true_reward(model, r*, α + δ)``, within K standard errors
    of the self-normalised estimate (delta method: ``se² = Σ w_i² (r_i - R̂)² / (Σ w_i)²``)."""
    model, table = _setting(seed)
    samples = exact.sample_power(model, alpha, 20_000, np.random.default_rng(seed))
    rewards = table[tuple(samples.T)]
    log_likelihoods = np.log(model.joint()[tuple(samples.T)])
    estimate = reweighted_reward(rewards, log_likelihoods, delta)
    w = np.exp(delta * (log_likelihoods - log_likelihoods.max()))
    se = np.sqrt(np.sum(w**2 * (rewards - estimate) ** 2)) / w.sum()
    truth = exact.true_reward(model, table, alpha + delta)
    assert abs(estimate - truth) < K * se
    # the move is resolved: R(α + δ) differs from R(α) by many standard errors
    assert abs(truth - exact.true_reward(model, table, alpha)) > 3 * K * se


def test_toy_model_route_scores_with_the_language_model_and_groups_prompts():
    model, table = _setting(3)
    lm = llm.ToyModel(model)
    rng = np.random.default_rng(0)
    samples = exact.sample_power(model, 2.0, 300, rng)
    rewards = table[tuple(samples.T)]
    prompts = [[]] * 300
    est = slope_from_completions(lm, prompts, samples.tolist(), rewards, step=0.02)
    direct = estimate_slope(rewards, np.log(model.joint()[tuple(samples.T)]), step=0.02)
    assert est.covariance == pytest.approx(direct.covariance, abs=1e-10)
    assert est.reweighted == pytest.approx(direct.reweighted, abs=1e-10)


def test_grouped_estimate_is_the_mean_over_prompts():
    rng = np.random.default_rng(1)
    r1, s1, r2, s2 = rng.normal(size=50), rng.normal(size=50), rng.normal(size=80), rng.normal(size=80)
    a, b = estimate_slope(r1, s1), estimate_slope(r2, s2)
    both = estimate_slope(np.r_[r1, r2], np.r_[s1, s2], groups=[0] * 50 + [1] * 80)
    assert both.covariance == pytest.approx((a.covariance + b.covariance) / 2, abs=1e-12)
    assert both.reweighted == pytest.approx((a.reweighted + b.reweighted) / 2, abs=1e-12)


def test_small_step_reweighting_is_the_plug_in_covariance():
    rng = np.random.default_rng(2)
    r, s = rng.normal(size=40), rng.normal(size=40) - 30.0
    est = estimate_slope(r, s, step=1e-5)
    plug_in = np.mean(r * s) - r.mean() * s.mean()  # d/dα' R̂(α') at α' = α (divisor n)
    assert est.reweighted == pytest.approx(plug_in, abs=1e-8)
    assert est.covariance == pytest.approx(np.cov(r, s)[0, 1], abs=1e-12)
    assert reweighted_reward(r, s, 0.0) == pytest.approx(r.mean(), abs=1e-12)


def test_bad_inputs_raise():
    with pytest.raises(ValueError):
        estimate_slope([1.0, 2.0], [0.0, 1.0])  # too few samples for a jackknife
    with pytest.raises(ValueError):
        estimate_slope([1.0, 2.0, np.nan], [0.0, 1.0, 2.0])
    with pytest.raises(ValueError):
        estimate_slope([1.0, 2.0, 3.0], [0.0, 1.0, 2.0], step=0.0)
