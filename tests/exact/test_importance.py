"""One-step importance weights (Eq. 9) and Prop. 2 vs brute force.

Exact moments: tolerance 1e-10 relative.  Monte Carlo ESS: N particles,
R replicates at fixed seeds, the replicate mean must lie within k = 5 standard
errors (SE = sd / sqrt(R)) of the exact ESS/N, plus the O(1/N) bias of the
self-normalised ratio, bounded by 2·(1 + CV²)²/N (delta method; written out below).
"""

import math
import warnings

import numpy as np
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

import bruteforce as bf
import exact
from exact.importance import PROPOSALS
from exact.testing import strategies as sx


RTOL = 1e-10
LOG_HALF = math.log(0.5)


def _reference_proposals(model, prefix, alpha, seed):
    """The named proposals computed by brute force, plus one random Dirichlet vector."""
    logp = bf.log_joint_from_array(model.log_joint())
    marginals = bf.prefix_marginals(logp)
    vocab = model.vocab_sizes[len(prefix)]
    f = bf.power_conditional(bf.prefix_totals(logp, alpha), prefix, vocab)
    proposals = {
        "optimal": f,
        "base": bf.base_conditional(marginals, prefix, vocab),
        "temperature": bf.temp_conditional(marginals, prefix, vocab, alpha),
        "uniform": [1.0 / vocab] * vocab,
    }
    random_q = np.random.default_rng(seed).dirichlet(np.ones(vocab))
    proposals["random"] = (random_q / random_q.sum()).tolist()
    proposals["top-k"] = _truncated(proposals["base"], max(1, vocab // 2))
    return f, proposals


def _truncated(q, k):
    """``q`` restricted to its ``k`` most probable tokens and renormalised (a top-k proposal).

    Misses part of the target's support whenever that support has more than ``k``
    tokens: then ``E[W] = Σ_{q>0} f < 1`` and ``CV² = E[W²]/E[W]² - 1`` differs
    from ``Var[W]`` and from ``E[W²]/E[W] - 1``.
    """
    keep = sorted(range(len(q)), key=lambda i: -q[i])[:k]
    total = math.fsum(q[i] for i in keep)
    return [q[i] / total if i in keep and total > 0 else 0.0 for i in range(len(q))]


@given(sx.models_with_prefix(), sx.alphas(), sx.seeds())
@example((exact.pivotal_example(), ()), 2.0, 0)
def test_weight_stats_match_brute_force(model_prefix, alpha, seed):
    model, prefix = model_prefix
    f, proposals = _reference_proposals(model, prefix, alpha, seed)
    for name, q in proposals.items():
        stats = exact.incremental_weight_stats(model, prefix, alpha, name if name in PROPOSALS else np.array(q))
        mean, second = bf.weight_moments(f, q)
        assume(all(qi > 1e-150 or qi == 0 for qi in q))  # f²/q in linear space must not overflow in the reference
        assert math.isclose(stats.mean, mean, rel_tol=RTOL)
        assert math.isclose(stats.variance, second - mean**2, rel_tol=1e-8, abs_tol=1e-12 * second)
        assert math.isclose(stats.ess_fraction, mean**2 / second, rel_tol=RTOL)
        assert math.isclose(stats.cv2, second / mean**2 - 1, rel_tol=1e-8, abs_tol=1e-12 * second / mean**2)


@given(sx.models_with_prefix(), sx.alphas(), sx.seeds())
@example((exact.pivotal_example(), ()), 2.0, 0)
def test_prop2_optimal_proposal_has_zero_variance_and_others_do_not(model_prefix, alpha, seed):
    """Prop. 2: Var = 0 and ESS/N = 1 iff q = π_pow,α(· | y_<t); else Var = Σ f²/q - 1 > 0 (brute force)."""
    model, prefix = model_prefix
    f, proposals = _reference_proposals(model, prefix, alpha, seed)
    optimal = exact.incremental_weight_stats(model, prefix, alpha, "optimal")
    assert abs(optimal.variance) <= 1e-13 and abs(optimal.ess_fraction - 1) <= 1e-13
    assert math.isclose(optimal.mean, 1.0, rel_tol=1e-13)
    support = [i for i, fi in enumerate(f) if fi > 0]
    for name, q in proposals.items():
        if name == "optimal" or any(q[i] == 0 for i in support) or min(q[i] for i in support) < 1e-150:
            continue  # Prop. 2 compares proposals that cover the support of f
        gap = max(abs(q[i] - f[i]) for i in support)
        stats = exact.incremental_weight_stats(model, prefix, alpha, name if name in PROPOSALS else np.array(q))
        reference = bf.weight_moments(f, q)[1] - 1.0  # Σ f²/q - 1
        assert math.isclose(stats.variance, reference, rel_tol=1e-8, abs_tol=1e-13 * (1 + reference))
        if gap > 1e-6:  # q differs from f on the support: strictly larger variance, ESS/N < 1
            assert stats.variance > optimal.variance and stats.ess_fraction < 1.0


def test_uncovered_support_biases_the_mean():
    """A proposal missing part of the support has E[W] = Σ_{q>0} f < 1 (closed form on the pivotal example)."""
    model = exact.pivotal_example()
    f = exact.power_conditional(model, [], 2.0)
    stats = exact.incremental_weight_stats(model, [], 2.0, np.array([1.0, 0.0]))
    assert math.isclose(stats.mean, f[0], rel_tol=1e-14)
    assert math.isclose(stats.variance, f[0] ** 2 / 1.0 - f[0] ** 2, abs_tol=1e-15)


@given(sx.models_with_prefix(), sx.alphas(), st.integers(1, 4))
@example((exact.pivotal_example(), ()), 2.0, 1)
@example((exact.TabularAR.random(4, 3, seed=3, concentration=1.0), ()), 0.5, 2)
def test_non_covering_proposal_matches_brute_force(model_prefix, alpha, k):
    """Top-k proposals (the practical case) miss support: E[W] < 1, so CV² = E[W²]/E[W]² - 1 ≠ Var[W].

    Reference: brute-force moments over the covered tokens; ESS/N = E[W]²/E[W²].
    """
    model, prefix = model_prefix
    f, proposals = _reference_proposals(model, prefix, alpha, 0)
    q = _truncated(proposals["base"], k)
    mean, second = bf.weight_moments(f, q)
    assume(all(qi > 1e-150 or qi == 0 for qi in q) and mean > 1e-150)
    stats = exact.incremental_weight_stats(model, prefix, alpha, np.array(q))
    assert math.isclose(stats.mean, mean, rel_tol=RTOL)
    assert math.isclose(stats.ess_fraction, mean**2 / second, rel_tol=RTOL)
    assert math.isclose(stats.cv2, second / mean**2 - 1, rel_tol=1e-8, abs_tol=1e-12 * second / mean**2)
    assert math.isclose(stats.variance, second - mean**2, rel_tol=1e-8, abs_tol=1e-12 * second)


@pytest.mark.parametrize(
    "log_weights, expected",
    [
        ([-np.inf, -np.inf, 0.0, -np.inf], 0.25),  # one live particle: ESS = 1, ESS/N = 1/4
        ([0.0, 0.0, 0.0], 1.0),
        ([-700.0, -700.0], 1.0),  # scale-free, no underflow
        ([-np.inf, -np.inf], 0.0),  # no live particle
        ([0.0, math.log(3.0)], 16 / 20),  # (1+3)² / (2 (1+9))
    ],
)
def test_ess_fraction_closed_forms(log_weights, expected):
    assert math.isclose(float(exact.ess_fraction_from_log_weights(np.array(log_weights))), expected, rel_tol=1e-14)


@pytest.mark.parametrize("proposal", ["base", "temperature", "uniform"])
@pytest.mark.parametrize("seed", [0, 1])
def test_sampled_ess_fraction_concentrates_on_exact(proposal, seed):
    """N = 4000 particles, R = 64 replicates, k = 5.

    Bias: ESS/N = (Σw)²/(N Σw²) is a ratio of sample means; by the delta method its
    bias is O((1 + CV²)²/N) -- we allow 2·(1 + CV²)²/N on top of k·SE.
    """
    model = exact.TabularAR.random((4, 3, 3), seed=seed, concentration=0.5, zero_fraction=0.2)
    alpha, n_particles, n_replicates, k = 3.0, 4000, 64, 5.0
    exact_ess = exact.incremental_weight_stats(model, [], alpha, proposal).ess_fraction
    draws = exact.sampled_ess_fraction(model, [], alpha, proposal, n_particles, np.random.default_rng(seed), n_replicates)
    assert draws.shape == (n_replicates,) and np.all((draws > 0) & (draws <= 1))
    se = draws.std(ddof=1) / math.sqrt(n_replicates)
    bias_bound = 2.0 * (1.0 / exact_ess) ** 2 / n_particles  # 1 + CV² = 1 / (ESS/N)
    assert abs(draws.mean() - exact_ess) <= k * se + bias_bound, (draws.mean(), exact_ess, se, bias_bound)


def test_sampled_ess_fraction_optimal_is_one():
    model = exact.TabularAR.random(3, 3, seed=4)
    draws = exact.sampled_ess_fraction(model, [1], 2.0, "optimal", 100, np.random.default_rng(0), 5)
    np.testing.assert_allclose(draws, 1.0, rtol=1e-12)


def test_disjoint_supports_give_zero_weights():
    """A proposal covering none of the target's support: W = 0 a.s., so E[W] = Var[W] = 0, CV² = ∞, ESS/N = 0."""
    stats = exact.weight_stats_from_logs(np.array([0.0, -np.inf, -np.inf]), np.array([-np.inf, LOG_HALF, LOG_HALF]))
    assert stats == exact.WeightStats(mean=0.0, variance=0.0, cv2=math.inf, ess_fraction=0.0)


def test_weight_stats_defaults_and_axes():
    """The default proposal is the optimal one (ESS/N = 1); ``axis`` picks the particle axis; one replicate by default."""
    model = exact.TabularAR.random(3, 3, seed=4)
    assert exact.incremental_weight_stats(model, [1], 2.0) == exact.incremental_weight_stats(model, [1], 2.0, "optimal")
    lw = np.array([[0.0, 0.0, 0.0], [0.0, -np.inf, -np.inf]])  # ESS/N = (Σw)²/(N Σw²): rows 1, 1/3; columns 1, 1/2, 1/2
    np.testing.assert_allclose(exact.ess_fraction_from_log_weights(lw, axis=1), [1.0, 1 / 3], rtol=1e-14)
    np.testing.assert_allclose(exact.ess_fraction_from_log_weights(lw, axis=0), [1.0, 0.5, 0.5], rtol=1e-14)
    draws = exact.sampled_ess_fraction(model, [1], 2.0, "base", 50, np.random.default_rng(0))
    assert draws.shape == (1,)


def test_proposal_vector_sum_tolerance_and_zero_entries():
    """A proposal vector must sum to 1 within 1e-9 (1 + 1e-6 is refused); its zero entries are -inf without warnings."""
    model = exact.TabularAR.random(3, 3, seed=4)
    with pytest.raises(ValueError, match=r"^proposal vector must be non-negative, finite and sum to 1 within 1e-9$"):
        exact.log_proposal(model, [], 2.0, np.array([0.5, 0.5 + 1e-6, 0.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        log_q = exact.log_proposal(model, [], 2.0, np.array([0.5, 0.5, 0.0]))
    np.testing.assert_array_equal(log_q, [math.log(0.5), math.log(0.5), -np.inf])


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m: exact.log_proposal(m, [], 2.0, np.array(["a", "b", "c"])), r"^proposal vector must be an array of real"),
        (lambda m: exact.weight_stats_from_logs(np.log([0.5, 0.6]), np.log([0.5, 0.5])), r"^exp\(log_target\) must sum"),
        (lambda m: exact.weight_stats_from_logs(np.log([0.5, 0.5]), np.log([0.5, 0.6])), r"^exp\(log_q\) must sum"),
        (
            lambda m: exact.weight_stats_from_logs(np.full(2, LOG_HALF), np.array([0.0, -np.inf, -np.inf])),
            r"^log_target and log_q must have one shape, got \(2,\) and \(3,\)$",
        ),
        (lambda m: exact.ess_fraction_from_log_weights(np.array([np.nan])), r"^log weights must not be NaN"),
        (lambda m: exact.sampled_ess_fraction(m, [], 2.0, "base", 0, np.random.default_rng(0)), r"^n_particles must be"),
        (lambda m: exact.sampled_ess_fraction(m, [], 2.0, "base", 5, np.random.default_rng(0), 0), r"^n_replicates must be"),
        (
            lambda m: exact.sampled_ess_fraction(m, [], 2.0, "base", 10**9, np.random.default_rng(0), 10**9),
            r"^the sampled particles needs ",
        ),
    ],
)
def test_errors_name_the_argument(call, message):
    """Each error names the offending argument as the caller wrote it."""
    with pytest.raises(ValueError, match=message):
        call(exact.TabularAR.random(3, 3, seed=4))
