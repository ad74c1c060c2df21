"""The softmax policy class: exact-gradient RL ascent to π_α (Eqs. 11-14) and forward-KL MLE distillation (Eqs. 15-16).

Stated tolerances: preconditioned gradient ascent (learning rate 3, 200 steps)
ends within KL(q_K ‖ π_α) ≤ 1e-2 · KL(π ‖ π_α) (the plain softmax gradient is
sublinear; the worst ratio seen over 240 random cases was 3e-3); natural-gradient ascent at learning rate 1
reaches π_α to 1e-12 in T steps; the MLE with smoothing 0 equals the empirical
distribution to 1e-12.  Each optimiser run takes well under a second.
"""

import itertools
import math
import re
import warnings
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import exact


def brute_log_power(model, alpha):
    seqs = list(itertools.product(*[range(v) for v in model.vocab_sizes]))
    log_p = np.array([float(model.log_prob(np.array(y))) for y in seqs]).reshape(model.vocab_sizes)
    scaled = np.where(np.isfinite(log_p), alpha * (log_p - log_p.max()), -np.inf)
    return scaled - math.log(np.exp(scaled).sum())


def brute_kl(q, log_target):
    mass = q > 0
    return float(np.sum(q[mass] * (np.log(q[mass]) - log_target[mass])))


models = st.builds(
    lambda seed, vocab, horizon: exact.TabularAR.random(vocab, horizon, seed, zero_fraction=0.3),
    st.integers(0, 10**6),
    st.integers(2, 3),
    st.integers(1, 3),
)


@settings(max_examples=25)
@given(models, st.sampled_from([0.5, 1.0, 2.0]))
def test_rl_ascent_converges_to_power(model, beta):
    trajectory = exact.kl_rl_ascent(model, beta, n_steps=200, learning_rate=3.0)
    log_pa = brute_log_power(model, 1 + 1 / beta)
    assert trajectory.kl_to_optimum[0] == pytest.approx(brute_kl(model.joint(), log_pa), rel=1e-9, abs=1e-12)
    assert trajectory.kl_to_optimum[-1] <= 1e-2 * trajectory.kl_to_optimum[0]
    assert brute_kl(trajectory.final_policy, log_pa) == pytest.approx(trajectory.kl_to_optimum[-1], rel=1e-8, abs=1e-13)
    # Eq. (14): the suboptimality J* - J(q_k) is β KL(q_k ‖ π_α) at every step
    gap = trajectory.optimum_objective - trajectory.objective
    assert np.allclose(gap, beta * trajectory.kl_to_optimum, rtol=1e-8, atol=1e-10)
    assert trajectory.steps.shape == trajectory.kl_to_optimum.shape == (201,)


@given(models, st.sampled_from([0.2, 1.0, 5.0]))
def test_natural_gradient_is_exact_after_horizon_steps(model, beta):
    trajectory = exact.kl_rl_ascent(model, beta, n_steps=model.horizon, learning_rate=1.0, natural=True)
    assert trajectory.kl_to_optimum[-1] < 1e-12
    assert np.allclose(trajectory.final_policy, np.exp(brute_log_power(model, 1 + 1 / beta)), atol=1e-12)


def test_rl_ascent_small_steps_is_monotone_and_plain_gradient_converges():
    model = exact.TabularAR.random(3, 3, 7, zero_fraction=0.3)
    trajectory = exact.kl_rl_ascent(model, 1.0, n_steps=200, learning_rate=0.2)
    assert np.all(np.diff(trajectory.objective) >= -1e-12)
    plain = exact.kl_rl_ascent(model, 1.0, n_steps=400, learning_rate=2.0, precondition=False)
    assert plain.kl_to_optimum[-1] < 0.1 * plain.kl_to_optimum[0]


def test_rl_ascent_general_reward_and_prompts():
    models_ = [exact.TabularAR.random(2, 3, s, zero_fraction=0.3) for s in range(3)]
    prompted = exact.PromptedModel(models_, [0.5, 0.3, 0.2])
    rng = np.random.default_rng(1)
    rewards = [rng.normal(size=m.vocab_sizes) for m in models_]
    trajectory = exact.kl_rl_ascent(prompted, 0.5, n_steps=300, reward=rewards)
    assert trajectory.kl_to_optimum[-1] < 1e-3 * trajectory.kl_to_optimum[0]
    targets = exact.tilted_optimum(prompted, rewards, 0.5)
    with np.errstate(divide="ignore"):
        manual = sum(w * brute_kl(q, np.log(t)) for w, q, t in zip(prompted.weights, trajectory.final_policy, targets))
    assert manual == pytest.approx(trajectory.kl_to_optimum[-1], rel=1e-8)


def test_rl_ascent_rejects_reward_infinite_on_support():
    model = exact.TabularAR.from_joint(np.array([[0.5, 0.0], [0.3, 0.2]]))
    with pytest.raises(ValueError, match="finite on the support"):
        exact.kl_rl_ascent(model, 1.0, reward=np.array([[0.0, 0.0], [-np.inf, 0.0]]))
    with pytest.raises(ValueError, match="beta"):
        exact.kl_rl_ascent(model, 0.0)


@given(models, st.integers(0, 10**6), st.integers(1, 60))
def test_unsmoothed_mle_is_empirical_distribution(model, seed, n):
    samples = exact.sample_power(model, 2.0, n, np.random.default_rng(seed))
    fitted = exact.mle_policy(model, samples, smoothing=0.0)
    counts = Counter(map(tuple, samples.tolist()))
    for y in itertools.product(*[range(v) for v in model.vocab_sizes]):
        assert fitted[y] == pytest.approx(counts.get(y, 0) / n, abs=1e-12)


def test_smoothed_mle_conditionals_by_hand():
    model = exact.TabularAR.from_joint(np.array([[0.5, 0.0], [0.3, 0.2]]))
    samples = np.array([[0, 0], [1, 0], [1, 0], [1, 1]])
    fitted = exact.mle_policy(model, samples, smoothing=0.5)
    first = np.array([1.5, 3.5]) / 5.0  # (N(a) + ½) / (N + 2·½)
    second_after_1 = np.array([2.5, 1.5]) / 4.0
    expected = np.array([[first[0] * 1.0, 0.0], first[1] * second_after_1])  # token 1 after 0 has π = 0
    assert np.allclose(fitted, expected, atol=1e-15)


def test_distillation_error_shrinks_with_n():
    model = exact.TabularAR.random(3, 3, 3, zero_fraction=0.3)
    curve = exact.distill_power(model, 3.0, [30, 300, 3000, 30000], np.random.default_rng(0))
    for metric in (curve.forward_kl, curve.reverse_kl, curve.total_variation, curve.hellinger_squared):
        assert np.all(np.isfinite(metric)) and metric[-1] < metric[0] / 20
    assert curve.forward_kl[-1] < 2e-3
    log_pa = brute_log_power(model, 3.0)
    target = np.exp(log_pa)
    with np.errstate(divide="ignore"):
        log_fitted = np.log(curve.final_policy)
    assert curve.forward_kl[-1] == pytest.approx(brute_kl(target, log_fitted), rel=1e-9)
    prompted = exact.PromptedModel([model, exact.TabularAR.random(2, 2, 9)], [0.7, 0.3])
    curve = exact.distill_power(prompted, 3.0, [100, 10000], np.random.default_rng(1))
    assert curve.forward_kl[1] < curve.forward_kl[0] and len(curve.final_policy) == 2


def _brute_distances(q, log_target):
    """(KL(π_α‖q), KL(q‖π_α), TV = ½Σ|q - π_α|, D_H² = Σ(√q - √π_α)²) by direct sums over sequences."""
    target = np.exp(log_target)
    with np.errstate(divide="ignore"):
        log_q = np.log(q)
    tv = 0.5 * math.fsum(abs(a - b) for a, b in zip(q.ravel(), target.ravel()))
    hellinger = math.fsum((math.sqrt(a) - math.sqrt(b)) ** 2 for a, b in zip(q.ravel(), target.ravel()))
    return brute_kl(target, log_q), brute_kl(q, log_target), tv, hellinger


@settings(max_examples=25)
@given(models, st.sampled_from([0.5, 2.0, 4.0]), st.integers(0, 10**6), st.integers(1, 200), st.sampled_from([0.0, 0.5]))
def test_distillation_curve_values_match_brute_force(model, alpha, seed, n, smoothing):
    """Every metric of the curve is the brute-force distance between the fitted q̂_n and π_α (App. A.3)."""
    curve = exact.distill_power(model, alpha, [n], np.random.default_rng(seed), smoothing)
    expected = _brute_distances(curve.final_policy, brute_log_power(model, alpha))
    got = (curve.forward_kl[0], curve.reverse_kl[0], curve.total_variation[0], curve.hellinger_squared[0])
    for value, reference in zip(got, expected):
        assert value == pytest.approx(reference, rel=1e-9, abs=1e-12)
    assert 0.0 <= curve.total_variation[0] <= 1.0 and 0.0 <= curve.hellinger_squared[0] <= 2.0
    # nested data sets: the same draws, so the curve's last point is the single-n run's point
    longer = exact.distill_power(model, alpha, [max(1, n // 3), n], np.random.default_rng(seed), smoothing)
    assert longer.total_variation[-1] == curve.total_variation[0]
    assert longer.hellinger_squared[-1] == curve.hellinger_squared[0]


def test_distillation_curve_prompted_is_the_prompt_average():
    """With prompts: E_μ of the per-prompt brute-force distances, μ = (0.7, 0.3)."""
    prompted = exact.PromptedModel([exact.TabularAR.random(3, 2, 4), exact.TabularAR.random(2, 2, 9)], [0.7, 0.3])
    curve = exact.distill_power(prompted, 2.0, [40], np.random.default_rng(3))
    per = [_brute_distances(q, brute_log_power(m, 2.0)) for q, m in zip(curve.final_policy, prompted.models)]
    expected = 0.7 * np.array(per[0]) + 0.3 * np.array(per[1])
    got = [curve.forward_kl[0], curve.reverse_kl[0], curve.total_variation[0], curve.hellinger_squared[0]]
    np.testing.assert_allclose(got, expected, rtol=1e-9)


def test_distillation_bad_input():
    model = exact.TabularAR.random(2, 2, 0)
    with pytest.raises(ValueError, match="smoothing"):
        exact.mle_policy(model, np.zeros((3, 2), dtype=int), smoothing=-1.0)
    with pytest.raises(ValueError, match="sample size"):
        exact.distill_power(model, 2.0, [-1], np.random.default_rng(0))
    with pytest.raises(ValueError, match="alpha"):
        exact.distill_power(model, 0.0, [10], np.random.default_rng(0))
    with pytest.raises(ValueError, match="Generator"):
        exact.distill_power(model, 2.0, [10], 0)


def test_conditionals_round_trip():
    model = exact.TabularAR.random(3, 3, 5, zero_fraction=0.3)
    tables = exact.log_conditionals_from_joint(model.log_joint())
    assert np.allclose(np.exp(exact.log_joint_from_conditionals(tables)), model.joint(), atol=1e-15)


def test_conditionals_of_zero_mass_prefixes_are_uniform():
    """Rows under a prefix of probability 0 are log(1/V_t) (uniform), not -inf or +log V_t; the other rows
    are q(y_{1:t}) / q(y_{<t}), written out by hand."""
    joint = np.array([[[0.2, 0.1], [0.0, 0.3]], [[0.0, 0.0], [0.0, 0.0]], [[0.25, 0.0], [0.15, 0.0]]])  # V = (3, 2, 2)
    half = [0.5, 0.5]  # uniform over V_2 = V_3 = 2
    expected = [
        [0.6, 0.0, 0.4],
        [[0.5, 0.5], half, [0.25 / 0.4, 0.15 / 0.4]],
        [[[2 / 3, 1 / 3], [0.0, 1.0]], [half, half], [[1.0, 0.0], [1.0, 0.0]]],
    ]
    with np.errstate(divide="ignore"):
        tables = exact.log_conditionals_from_joint(np.log(joint))
    assert [t.shape for t in tables] == [(3,), (3, 2), (3, 2, 2)]
    for table, probs in zip(tables, expected):
        assert np.all(np.isfinite(table) == (np.asarray(probs) > 0))
        assert np.allclose(np.exp(table), probs, rtol=1e-14, atol=0)


def test_mle_without_data_and_default_smoothing():
    """No samples: q̂(·|h) is uniform on supp π(·|h) for every λ (Eq. 16's conventions), with no numpy warning
    (log 0 off the support, 0/0 of unvisited prefixes); the default λ is ½."""
    model = exact.TabularAR.from_joint(np.array([[0.5, 0.0], [0.3, 0.2]]))
    uniform_on_support = np.array([[0.5, 0.0], [0.25, 0.25]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for empty in ([], np.zeros((0, 2), dtype=np.int64)):
            for smoothing in (0.0, 0.25, 0.5):
                assert np.allclose(exact.mle_policy(model, empty, smoothing), uniform_on_support, rtol=1e-15, atol=0)
    samples = np.array([[0, 0], [1, 0], [1, 0], [1, 1]])
    assert np.array_equal(exact.mle_policy(model, samples), exact.mle_policy(model, samples, smoothing=0.5))
    assert exact.mle_policy(model, samples)[0, 0] == pytest.approx(1.5 / 5.0, rel=1e-15)  # (N(0) + ½) / (N + 1)


def test_distillation_fields_smoothing_and_prompt_weights():
    """The trajectory returns its inputs; λ = 0 with n = 1 fits the one sample (a point mass, computed without
    numpy warnings for the log 0 of unseen sequences); a prompt of weight 0 gets no data (q̂ uniform on its support)."""
    model = exact.TabularAR.random(3, 2, 4, zero_fraction=0.3)
    curve = exact.distill_power(model, 2.0, [5, 20], np.random.default_rng(0))
    assert curve.sample_sizes.tolist() == [5, 20] and curve.alpha == 2.0 and curve.smoothing == 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        point = exact.distill_power(model, 2.0, [1], np.random.default_rng(0), smoothing=0.0)
    assert point.smoothing == 0.0 and sorted(point.final_policy.ravel().tolist())[-2:] == [0.0, 1.0]
    other = exact.TabularAR.from_joint(np.array([[0.5, 0.0], [0.3, 0.2]]))
    silent = exact.PromptedModel([model, other], [1.0, 0.0])
    fitted = exact.distill_power(silent, 2.0, [50], np.random.default_rng(1), smoothing=0.0).final_policy
    assert np.allclose(fitted[1], [[0.5, 0.0], [0.25, 0.25]], rtol=1e-15, atol=0)


def test_distillation_and_mle_messages_name_the_argument():
    model = exact.TabularAR.random(2, 2, 0)
    cases = [
        (lambda: exact.distill_power(model, 2.0, [], np.random.default_rng(0)), "sample_sizes must be a non-empty sequence"),
        (lambda: exact.distill_power(model, 2.0, [-1], np.random.default_rng(0)), "sample size must be a non-negative integer"),
        (lambda: exact.mle_policy(model, np.zeros((3, 2), dtype=int), smoothing=-1.0), "smoothing must be a finite number >= 0"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match="^" + re.escape(message)):
            call()


def _brute_objective(thetas, log_p, beta):
    """``J_β(q_θ) = Σ_y q(y) (log π(y) + β log π(y) - β log q(y))`` (self-reward, Eq. 11) from softmax logits per level."""
    log_q = np.zeros(())
    for theta in thetas:
        peak = theta.max(axis=-1, keepdims=True)
        log_cond = theta - peak - np.log(np.exp(theta - peak).sum(axis=-1, keepdims=True))
        log_q = log_q[..., None] + log_cond
    return float(np.sum(np.exp(log_q) * ((1 + beta) * log_p - beta * log_q))), log_q


@pytest.mark.parametrize("precondition, natural", [(True, False), (False, False), (True, True)])
def test_one_step_is_the_finite_difference_gradient(precondition, natural):
    """One step from θ = log π(·|h) on a two-prompt model (μ = 0.7, 0.3, full support) against the gradient of
    E_μ J_β by central differences: θ_x += lr · P ∇_{θ_x} E_μ J / β with P = 1 (plain), 1 / (μ(x) q(h))
    (preconditioned) or 1 / (μ(x) q(h) q(a|h)) (natural)."""
    models_ = [exact.TabularAR.random(3, 2, s, zero_fraction=0.0) for s in (11, 12)]
    weights, beta, lr, h = [0.7, 0.3], 0.5, 0.8, 1e-5
    trajectory = exact.kl_rl_ascent(
        exact.PromptedModel(models_, weights), beta, n_steps=1, learning_rate=lr, precondition=precondition, natural=natural
    )
    for m, w, q_1 in zip(models_, weights, trajectory.final_policy):
        log_p = m.log_joint()
        thetas = [table.copy() for table in exact.log_conditionals_from_joint(log_p)]  # q_0 = π
        _, log_q = _brute_objective(thetas, log_p, beta)
        stepped = []
        for t, theta in enumerate(thetas):
            gradient = np.zeros_like(theta)
            for index in np.ndindex(theta.shape):
                for sign in (1.0, -1.0):
                    moved = [table.copy() for table in thetas]
                    moved[t][index] += sign * h
                    gradient[index] += sign * w * _brute_objective(moved, log_p, beta)[0] / (2 * h)
            if precondition:
                q_h = np.exp(exact.log_joint_from_conditionals(thetas[:t])) if t else np.ones(())
                gradient = gradient / (w * q_h[..., None])
            if natural:
                gradient = gradient / np.exp(thetas[t] - np.log(np.exp(thetas[t]).sum(axis=-1, keepdims=True)))
            stepped.append(theta + lr * gradient / beta)
        expected = np.exp(_brute_objective(stepped, log_p, beta)[1])
        assert np.allclose(q_1, expected, rtol=0, atol=1e-8)
        assert np.abs(q_1 - np.exp(log_q)).max() > 1e-3  # the step moved q


def test_rl_ascent_defaults_fields_and_messages():
    """Defaults: 200 steps at learning rate 1; the trajectory returns β and the learning rate; the checks name
    their argument."""
    model = exact.TabularAR.random(2, 2, 0)
    trajectory = exact.kl_rl_ascent(model, 0.5)
    explicit = exact.kl_rl_ascent(model, 0.5, n_steps=200, learning_rate=1.0)
    assert trajectory.steps.tolist() == list(range(201))
    assert trajectory.beta == 0.5 and trajectory.learning_rate == 1.0
    assert np.array_equal(trajectory.objective, explicit.objective)
    for kwargs, message in [
        ({"n_steps": -1}, "n_steps must be a non-negative integer"),
        ({"learning_rate": 0.0}, "learning_rate must be > 0"),
    ]:
        with pytest.raises(ValueError, match="^" + re.escape(message)):
            exact.kl_rl_ascent(model, 0.5, **kwargs)
