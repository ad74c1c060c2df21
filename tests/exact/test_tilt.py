"""KL-regularised RL (Eq. 11), its tilt optimum (Eq. 12, Prop. 5), Eq. 14 and Cor. 1, against brute force.

Tolerance tier: 1e-10 (absolute + relative) for float64 closed forms.
"""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import exact

TOL = 1e-10


def brute_log_joint(model):
    seqs = list(itertools.product(*[range(v) for v in model.vocab_sizes]))
    return np.array([float(model.log_prob(np.array(y))) for y in seqs]).reshape(model.vocab_sizes)


def brute_objective(q, log_p, r, beta):
    """``Σ q r - β Σ q log(q/π)`` term by term in plain Python (``0 log 0 = 0``)."""
    expected, kl = 0.0, 0.0
    for qy, lp, ry in zip(q.ravel(), log_p.ravel(), r.ravel()):
        if qy > 0:
            expected += qy * ry
            kl += qy * (math.log(qy) - lp) if lp != -math.inf else math.inf
    return expected - beta * kl


def brute_tilt(log_p, r, beta):
    scores = np.where(np.isfinite(log_p), log_p + r / beta, -np.inf)
    peak = scores.max()
    w = np.exp(scores - peak)
    return w / w.sum(), peak + math.log(w.sum())


@st.composite
def settings(draw, zero_fraction=0.3):
    seed = draw(st.integers(0, 10**6))
    vocab, horizon = draw(st.integers(2, 3)), draw(st.integers(1, 3))
    model = exact.TabularAR.random(vocab, horizon, seed, zero_fraction=zero_fraction)
    rng = np.random.default_rng(seed + 1)
    beta = draw(st.sampled_from([1e-3, 0.1, 0.5, 1.0, 3.0, 100.0]))
    reward = rng.normal(scale=draw(st.sampled_from([0.1, 1.0, 5.0])), size=model.vocab_sizes)
    return model, reward, beta, rng


def random_q_on_support(model, rng, concentration):
    support = np.isfinite(brute_log_joint(model))
    q = np.zeros(model.vocab_sizes)
    q[support] = rng.dirichlet(np.full(int(support.sum()), concentration))
    return q


@given(settings(), st.sampled_from([0.05, 0.5, 5.0]))
def test_tilt_matches_brute_force_and_beats_every_q(case, concentration):
    model, reward, beta, rng = case
    log_p = brute_log_joint(model)
    ref, ref_log_z = brute_tilt(log_p, reward, beta)
    tilt = exact.tilted_optimum(model, reward, beta)
    assert np.allclose(tilt, ref, rtol=TOL, atol=1e-14)
    assert exact.log_tilt_partition(model, reward, beta) == pytest.approx(ref_log_z, rel=TOL, abs=TOL)
    best = brute_objective(tilt, log_p, reward, beta)
    assert exact.kl_rl_objective(tilt, model, reward, beta) == pytest.approx(best, rel=TOL, abs=TOL)
    assert best == pytest.approx(beta * ref_log_z, rel=TOL, abs=TOL)  # J(π*) = β log Z (Eq. 14 at KL = 0)
    for _ in range(5):
        q = random_q_on_support(model, rng, concentration)
        value = exact.kl_rl_objective(q, model, reward, beta)
        assert value == pytest.approx(brute_objective(q, log_p, reward, beta), rel=TOL, abs=TOL)
        assert value <= best + TOL * (1 + abs(best))


@given(settings(), st.sampled_from([0.05, 0.5, 5.0]), st.booleans())
def test_eq14_two_sides_agree(case, concentration, use_self_reward):
    model, reward, beta, rng = case
    if use_self_reward:
        reward = exact.self_reward(model)
    q = random_q_on_support(model, rng, concentration)
    parts = exact.kl_rl_decomposition(q, model, reward, beta)
    assert parts.objective == pytest.approx(parts.rhs, rel=TOL, abs=TOL)
    assert parts.objective == pytest.approx(parts.expected_reward - beta * parts.kl_to_reference, rel=TOL, abs=TOL)
    if use_self_reward:  # KL(q ‖ π_α) with π_α built independently in log space
        log_p = brute_log_joint(model)
        alpha = 1 + 1 / beta
        scaled = np.where(np.isfinite(log_p), alpha * (log_p - log_p.max()), -np.inf)
        log_pa = scaled - math.log(np.exp(scaled).sum())
        mass = q > 0
        kl = float(np.sum(q[mass] * (np.log(q[mass]) - log_pa[mass])))
        assert parts.kl_to_optimum == pytest.approx(kl, rel=1e-9, abs=1e-12)


@given(st.integers(0, 10**6), st.integers(2, 3), st.integers(1, 3), st.sampled_from([1e-3, 0.01, 0.3, 1.0, 7.0, 1e3]))
def test_corollary1_self_reward_tilt_is_power(seed, vocab, horizon, beta):
    model = exact.TabularAR.random(vocab, horizon, seed, zero_fraction=0.3)
    alpha = 1 + 1 / beta
    assert exact.self_reward_exponent(beta) == alpha
    assert exact.beta_for_exponent(alpha) == pytest.approx(beta, rel=1e-12)
    log_p = brute_log_joint(model)
    scaled = np.where(np.isfinite(log_p), alpha * (log_p - log_p.max()), -np.inf)
    reference = np.exp(scaled) / np.exp(scaled).sum()  # π^α / Σ π^α, shifted by the max
    tilt = exact.self_reward_tilt(model, beta)
    assert np.allclose(tilt, reference, rtol=TOL, atol=1e-14)
    assert np.allclose(tilt, exact.power_joint(model, alpha), rtol=TOL, atol=1e-14)
    assert np.all(tilt[~np.isfinite(log_p)] == 0)


def test_mass_on_zeros_of_pi_and_minus_inf_rewards():
    model = exact.TabularAR.from_joint(np.array([[0.5, 0.0], [0.3, 0.2]]))
    reward = np.array([[1.0, 5.0], [0.0, -np.inf]])  # -inf on a support point, finite on the zero
    tilt = exact.tilted_optimum(model, reward, 0.5)
    assert tilt[0, 1] == 0 and tilt[1, 1] == 0 and not np.any(np.isnan(tilt))
    off_support = np.array([[0.5, 0.1], [0.4, 0.0]])
    parts = exact.kl_rl_decomposition(off_support, model, reward, 0.5)
    assert parts.kl_to_reference == np.inf and parts.objective == -np.inf and parts.rhs == -np.inf
    on_minus_inf = np.array([[0.5, 0.0], [0.3, 0.2]])
    parts = exact.kl_rl_decomposition(on_minus_inf, model, reward, 0.5)
    assert parts.expected_reward == -np.inf and parts.objective == -np.inf and parts.kl_to_optimum == np.inf
    parts = exact.kl_rl_decomposition(tilt, model, reward, 0.5)
    assert parts.kl_to_optimum == pytest.approx(0, abs=1e-15) and parts.objective == pytest.approx(parts.rhs, abs=TOL)
    self_parts = exact.kl_rl_decomposition(model.joint(), model, exact.self_reward(model), 2.0)  # -inf on zeros
    assert np.isfinite(self_parts.objective) and self_parts.objective == pytest.approx(self_parts.rhs, abs=TOL)
    with pytest.raises(ValueError, match="Z_r = 0"):
        exact.tilted_optimum(model, np.array([[-np.inf, 0.0], [-np.inf, -np.inf]]), 1.0)


def test_prompted_objective_is_mu_average():
    models = [exact.TabularAR.random(2, 2, s, zero_fraction=0.3) for s in range(3)]
    weights = [0.2, 0.5, 0.3]
    prompted = exact.PromptedModel(models, weights)
    rng = np.random.default_rng(0)
    rewards = [rng.normal(size=(2, 2)) for _ in models]
    qs = [random_q_on_support(m, rng, 1.0) for m in models]
    total = exact.kl_rl_objective(qs, prompted, rewards, 0.7)
    manual = sum(w * brute_objective(q, brute_log_joint(m), r, 0.7) for w, q, m, r in zip(weights, qs, models, rewards))
    assert total == pytest.approx(manual, abs=TOL)
    tilts = exact.tilted_optimum(prompted, rewards, 0.7)
    assert exact.kl_rl_objective(list(tilts), prompted, rewards, 0.7) >= total
    assert exact.log_tilt_partition(prompted, rewards, 0.7).shape == (3,)


@pytest.mark.parametrize("beta", [0, -1.0, np.nan, np.inf, True, "1"])
def test_bad_beta(beta):
    model = exact.TabularAR.random(2, 2, 0)
    with pytest.raises(ValueError, match="beta"):
        exact.tilted_optimum(model, np.zeros((2, 2)), beta)
    with pytest.raises(ValueError, match="beta"):
        exact.kl_rl_objective(model.joint(), model, np.zeros((2, 2)), beta)


def test_bad_q_and_reward():
    model = exact.TabularAR.random(2, 2, 0)
    with pytest.raises(ValueError, match="sum to 1"):
        exact.kl_rl_objective(np.full((2, 2), 0.3), model, np.zeros((2, 2)), 1.0)
    with pytest.raises(ValueError, match="shape"):
        exact.kl_rl_objective(np.full(4, 0.25), model, np.zeros((2, 2)), 1.0)
    with pytest.raises(ValueError, match="negative"):
        exact.kl_rl_objective(np.array([[0.5, 0.6], [-0.1, 0.0]]), model, np.zeros((2, 2)), 1.0)
    with pytest.raises(ValueError, match="NaN"):
        exact.kl_rl_objective(model.joint(), model, np.array([[0.0, np.nan], [0.0, 0.0]]), 1.0)
    with pytest.raises(ValueError, match="shape"):
        exact.tilted_optimum(model, np.zeros((2, 3)), 1.0)
    with pytest.raises(ValueError, match="α > 1"):
        exact.beta_for_exponent(1.0)


def test_decomposition_fields_and_prompted_tilts():
    """Every field of the Eq. (14) decomposition is its definition; a PromptedModel gets one log tilt per prompt."""
    model = exact.TabularAR.random(2, 2, 0, zero_fraction=0.3)
    r = np.array([[0.5, -1.0], [2.0, 0.0]])
    q = random_q_on_support(model, np.random.default_rng(1), 1.0)
    d = exact.kl_rl_decomposition(q, model, r, 0.7)
    assert d.beta == 0.7 and d.log_partition == pytest.approx(exact.log_tilt_partition(model, r, 0.7), abs=TOL)
    assert d.rhs == pytest.approx(-0.7 * d.kl_to_optimum + 0.7 * d.log_partition, abs=TOL)
    prompted = exact.PromptedModel([model, exact.TabularAR.random(2, 2, 1)], [0.5, 0.5])
    logs = exact.log_tilted_optimum(prompted, [r, r], 0.7)
    assert isinstance(logs, tuple) and len(logs) == 2
    np.testing.assert_allclose(np.exp(logs[0]), exact.tilted_optimum(model, r, 0.7), atol=TOL)


@pytest.mark.parametrize(
    "q, prompted, message",
    [
        (np.full(4, 0.25), False, r"^q must have shape vocab_sizes = \(2, 2\), got \(4,\)$"),
        (np.array([[0.5, np.nan], [0.5, 0.0]]), False, r"^q has NaN or infinite entries$"),
        ([np.full((2, 2), 0.25), np.full(4, 0.25)], True, r"^q \(prompt 1\) must have shape"),
        ([np.full((2, 2), 0.25)] * 3, True, r"^q has 3 entries for 2 prompts$"),
    ],
)
def test_bad_q_messages_name_q_and_its_prompt(q, prompted, message):
    model = exact.TabularAR.random(2, 2, 0)
    target = exact.PromptedModel([model, model], [0.5, 0.5]) if prompted else model
    reward = [np.zeros((2, 2))] * 2 if prompted else np.zeros((2, 2))
    with pytest.raises(ValueError, match=message):
        exact.kl_rl_decomposition(q, target, reward, 1.0)


def test_bad_beta_message_names_beta():
    with pytest.raises(ValueError, match=r"^beta must be > 0, got -1\.0$"):
        exact.self_reward_exponent(-1.0)
