"""Prop. 4: ∂R/∂α = Cov_{π_α}(r*, log π) (Eq. 18), the linear case (Eq. 19), against independent derivatives.

Tolerances: complex-step derivative of a brute-force R (no subtractive
cancellation, step 1e-30): 1e-9 relative + 1e-12·(scale of r*) absolute;
central finite difference of ``exact.true_reward`` with step h = 1e-3·α: its
truncation error is h²|R'''|/6 and its rounding error ~1e-16·|R|/h, so we allow
1e-5 relative + 1e-7 absolute + 1e-15·(1 + |R|)/h; Richardson extrapolation of
that difference (steps h, h/2; error O(h⁴)) is checked to 1e-7 relative + 1e-9
absolute + 4e-15·(1 + |R|)/h.
"""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import exact


def brute_log_joint(model):
    seqs = list(itertools.product(*[range(v) for v in model.vocab_sizes]))
    return np.array([float(model.log_prob(np.array(y))) for y in seqs]).reshape(model.vocab_sizes)


def brute_reward_at(log_p, reward, alpha):
    """``R(α) = Σ π^α r* / Σ π^α`` on the support, for real or complex α (shifted by max log π)."""
    support = np.isfinite(log_p)
    s = log_p[support] - log_p[support].max()
    w = np.exp(alpha * s)
    return np.sum(w * reward[support]) / np.sum(w)


def complex_step(log_p, reward, alpha, h=1e-30):
    return float(np.imag(brute_reward_at(log_p, reward, complex(alpha, h))) / h)


ALPHAS = [1e-3, 0.05, 0.5, 1.0, 2.0, 7.5, 50.0, 1e3]


@st.composite
def cases(draw):
    seed = draw(st.integers(0, 10**6))
    model = exact.TabularAR.random(draw(st.integers(2, 3)), draw(st.integers(1, 3)), seed, zero_fraction=0.3)
    rng = np.random.default_rng(seed)
    kind = draw(st.sampled_from(["gaussian", "correlated", "anti", "integer"]))
    log_p = brute_log_joint(model)
    finite_log_p = np.where(np.isfinite(log_p), log_p, 0.0)
    noise = rng.normal(size=model.vocab_sizes)
    reward = {
        "gaussian": noise,
        "correlated": finite_log_p + 0.5 * noise,
        "anti": -finite_log_p + 0.1 * noise,
        "integer": rng.integers(0, 2, size=model.vocab_sizes).astype(float),  # a 0/1 "correctness" reward
    }[kind]
    reward = np.where(np.isfinite(log_p), reward, rng.normal(size=model.vocab_sizes) * 1e6)  # junk off the support
    return model, log_p, reward


@given(cases(), st.sampled_from(ALPHAS))
def test_slope_is_covariance_and_matches_complex_step(case, alpha):
    model, log_p, reward = case
    scale = 1.0 + np.abs(reward[np.isfinite(log_p)]).max() * np.abs(log_p[np.isfinite(log_p)]).max()
    slope = exact.reward_slope(model, reward, alpha)
    assert slope == pytest.approx(complex_step(log_p, reward, alpha), rel=1e-9, abs=1e-12 * scale)
    assert exact.true_reward(model, reward, alpha) == pytest.approx(
        float(brute_reward_at(log_p, reward, alpha)), rel=1e-12, abs=1e-14 * scale
    )


@given(cases(), st.sampled_from(ALPHAS))
def test_slope_matches_finite_difference_and_richardson(case, alpha):
    model, log_p, reward = case
    h = 1e-3 * alpha
    central = lambda step: (exact.true_reward(model, reward, alpha + step) - exact.true_reward(model, reward, alpha - step)) / (2 * step)
    slope = exact.reward_slope(model, reward, alpha)
    rounding = 1e-15 * (1 + abs(exact.true_reward(model, reward, alpha))) / h  # ~ 4 ulp of R, divided by the step
    assert slope == pytest.approx(central(h), rel=1e-5, abs=1e-7 + rounding)
    richardson = (4 * central(h / 2) - central(h)) / 3
    assert slope == pytest.approx(richardson, rel=1e-7, abs=1e-9 + 4 * rounding)


@given(cases(), st.floats(0.01, 10.0), st.floats(-5.0, 5.0))
def test_linear_reward_slope_is_c_times_variance(case, c, b):
    model, log_p, _ = case
    reward = c * exact.self_reward(model) + b  # Eq. (19); -inf off the support is fine
    values = []
    for alpha in ALPHAS:
        support = np.isfinite(log_p)
        s = log_p[support]
        w = np.exp(alpha * (s - s.max()))
        w /= w.sum()
        variance = float(np.sum(w * (s - np.sum(w * s)) ** 2))
        slope = exact.reward_slope(model, reward, alpha)
        assert slope == pytest.approx(c * variance, rel=1e-9, abs=1e-13)
        assert slope >= 0
        assert exact.self_reward_variance(model, alpha) == pytest.approx(variance, rel=1e-9, abs=1e-14)
        values.append(exact.true_reward(model, reward, alpha))
    assert all(later >= earlier - 1e-12 * (1 + abs(earlier)) for earlier, later in zip(values, values[1:]))


def test_prompted_slope_is_mu_average():
    models = [exact.TabularAR.random(3, 2, s, zero_fraction=0.3) for s in range(3)]
    prompted = exact.PromptedModel(models, [0.6, 0.3, 0.1])
    rng = np.random.default_rng(0)
    rewards = [rng.normal(size=m.vocab_sizes) for m in models]
    for alpha in (0.3, 3.0):
        manual = sum(w * complex_step(brute_log_joint(m), r, alpha) for w, m, r in zip(prompted.weights, models, rewards))
        assert exact.reward_slope(prompted, rewards, alpha) == pytest.approx(manual, rel=1e-9, abs=1e-13)
        manual_r = sum(w * float(brute_reward_at(brute_log_joint(m), r, alpha)) for w, m, r in zip(prompted.weights, models, rewards))
        assert exact.true_reward(prompted, rewards, alpha) == pytest.approx(manual_r, rel=1e-12)


def test_bad_input():
    model = exact.TabularAR.from_joint(np.array([[0.5, 0.0], [0.3, 0.2]]))
    with pytest.raises(ValueError, match="NaN"):
        exact.reward_slope(model, np.array([[0.0, np.nan], [1.0, 2.0]]), 2.0)
    with pytest.raises(ValueError, match="finite on the support"):
        exact.true_reward(model, np.array([[0.0, 0.0], [-np.inf, 2.0]]), 2.0)
    with pytest.raises(ValueError, match="shape"):
        exact.reward_slope(model, np.zeros(3), 2.0)
    for alpha in (0.0, -1.0, np.nan, np.inf):
        with pytest.raises(ValueError, match="alpha"):
            exact.reward_slope(model, np.zeros((2, 2)), alpha)
    # -inf off the support is allowed and ignored
    assert exact.true_reward(model, np.array([[1.0, -np.inf], [0.0, 2.0]]), 1.0) == pytest.approx(0.5 + 0.4, abs=1e-15)


def test_bad_true_reward_messages_name_it_and_its_prompt():
    """The errors call the reward "true reward" (with its prompt) and count the sequences where it is -inf on π's support."""
    model = exact.TabularAR.from_joint(np.array([[0.5, 0.0], [0.3, 0.2]]))
    with pytest.raises(ValueError, match=r"^true reward \(prompt 0\) has NaN entries \(1 of 4\)$"):
        exact.reward_slope(model, np.array([[0.0, np.nan], [1.0, 2.0]]), 2.0)
    with pytest.raises(
        ValueError, match=r"^true reward must be finite on the support of π \(it is -inf at 2 sequences with π\(y\) > 0\)$"
    ):
        exact.true_reward(model, np.array([[-np.inf, 0.0], [-np.inf, 2.0]]), 2.0)
    prompted = exact.PromptedModel([model, model], [0.5, 0.5])
    with pytest.raises(ValueError, match=r"^true reward \(prompt 1\) has \+inf entries; rewards must be < \+inf$"):
        exact.true_reward(prompted, [np.zeros((2, 2)), np.full((2, 2), np.inf)], 1.0)
    with pytest.raises(ValueError, match=r"^true reward has 1 entries for 2 prompts$"):
        exact.reward_slope(prompted, [np.zeros((2, 2))], 1.0)


def test_prompted_self_reward_variance_is_mu_average():
    """``E_μ Var_{π_α}(log π)`` over prompts, each variance from brute-force weights ``π^α / Σ π^α``."""
    models = [exact.TabularAR.random(3, 2, s, zero_fraction=0.3) for s in range(3)]
    prompted = exact.PromptedModel(models, [0.6, 0.3, 0.1])
    for alpha in (0.3, 3.0):
        manual = 0.0
        for weight, model in zip(prompted.weights, models):
            log_p = brute_log_joint(model)
            s = log_p[np.isfinite(log_p)]
            w = np.exp(alpha * (s - s.max()))
            w /= w.sum()
            manual += weight * float(np.sum(w * (s - np.sum(w * s)) ** 2))
        assert exact.self_reward_variance(prompted, alpha) == pytest.approx(manual, rel=1e-9, abs=1e-14)
