"""MarkovAR: the O(T·V²) dynamic programme vs the dense TabularAR route and brute force; T = 10 000 stress."""

import math

import numpy as np
import pytest
from hypothesis import given

import bruteforce as bf
import exact
from exact.testing import strategies as sx


RTOL, ATOL = 1e-10, 1e-12


def _log_close(actual, expected):
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    assert np.array_equal(np.isneginf(actual), np.isneginf(expected))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(actual[finite], expected[finite], rtol=0, atol=RTOL * max(1.0, np.abs(expected[finite]).max(initial=0)))


@given(sx.markov_models(), sx.alphas())
def test_markov_agrees_with_tabular_and_brute_force(markov, alpha):
    logp = bf.log_joint_markov(markov.log_initial, markov.log_transition, markov.horizon)
    dense = markov.log_joint()
    for y, value in logp.items():  # the dense joint is the product along each sequence
        assert (dense[y] == value) if value == -math.inf else math.isclose(dense[y], value, rel_tol=0, abs_tol=1e-12 * max(1, abs(value)))
    tabular = exact.TabularAR.from_log_joint(dense)
    _log_close(exact.log_partition(markov, alpha), exact.log_partition(tabular, alpha))
    _log_close(exact.log_partition(markov, alpha), bf.prefix_totals(logp, alpha)[()])
    for t in range(markov.horizon + 1):
        _log_close(markov.log_prefix_totals(alpha, t), tabular.log_prefix_totals(alpha, t))
        _log_close(markov.log_prefix_marginals(t), tabular.log_prefix_marginals(t))
    for length in range(markov.horizon):
        np.testing.assert_allclose(exact.power_conditionals(markov, alpha, length), exact.power_conditionals(tabular, alpha, length), rtol=RTOL, atol=ATOL)
    draws = markov.sample(8, np.random.default_rng(0))
    _log_close(markov.log_prob(draws), tabular.log_prob(draws))
    for y in draws:
        for t in range(markov.horizon):
            prefix = y[:t]
            _log_close(markov.log_conditional(prefix), tabular.log_conditional(prefix))
            _log_close(markov.log_power_suffix_mass(prefix, alpha), tabular.log_power_suffix_mass(prefix, alpha))
            np.testing.assert_allclose(exact.power_conditional(markov, prefix, alpha), exact.power_conditional(tabular, prefix, alpha), rtol=RTOL, atol=ATOL)
            np.testing.assert_allclose(exact.temp_conditional(markov, prefix, alpha), exact.temp_conditional(tabular, prefix, alpha), rtol=RTOL, atol=ATOL)
        for a in np.flatnonzero(np.isfinite(markov.log_conditional(y[:0]))):
            _log_close(exact.log_suffix_distribution(markov, [], int(a)), exact.log_suffix_distribution(tabular, [], int(a)))


def _chunked_log_partition(markov, alpha):
    """``log Z_α = log p₀^α (P^α)^{T-1} 1`` in linear float64, renormalising the vector every step."""
    A = np.exp(alpha * markov.log_transition)  # (V, V): P^α entrywise
    vector, log_scale = np.ones(A.shape[0]), 0.0
    for _ in range(markov.horizon - 1):
        vector = A @ vector
        top = vector.max()
        vector /= top
        log_scale += math.log(top)
    return log_scale + math.log(np.exp(alpha * markov.log_initial) @ vector)


@pytest.mark.parametrize("alpha", [0.5, 2.0, 4.0])
def test_stress_T10000_V50_finite_and_normalised(alpha):
    """T = 10 000, V = 50: log Z finite and equal to an independent chunked linear-space route; conditionals sum to 1."""
    markov = exact.MarkovAR.random(50, 10_000, seed=3)
    log_Z = exact.log_partition(markov, alpha)
    reference = _chunked_log_partition(markov, alpha)
    assert np.isfinite(log_Z)
    assert math.isclose(log_Z, reference, rel_tol=1e-10)  # |log Z| ~ 1e4: relative tier
    path = markov.sample(1, np.random.default_rng(1))[0]
    for length in (0, 1, 5_000, 9_999):
        cond = exact.power_conditional(markov, path[:length], alpha)
        assert np.all(np.isfinite(cond)) and math.isclose(cond.sum(), 1.0, rel_tol=1e-12)
    beta = markov.log_suffix_masses(alpha)
    assert beta.shape == (10_000, 50) and np.all(np.isfinite(beta))
    # T-fold DP identity: Z_α(T) = Σ_a p₀(a)^α exp β_{T-1}(a), and β_k = log P^α exp β_{k-1} row by row
    step = exact.logsumexp(alpha * markov.log_transition + beta[-2][None, :], axis=-1)
    np.testing.assert_allclose(step, beta[-1], rtol=1e-13)


def test_stress_huge_alpha_stays_finite():
    markov = exact.MarkovAR.random(50, 10_000, seed=4)
    log_Z = exact.log_partition(markov, 1e4)
    assert np.isfinite(log_Z)
    # α → ∞: log Z_α ≈ α · log max_y π(y); max path probability by Viterbi (max-product DP)
    best = markov.log_initial.copy()
    for _ in range(markov.horizon - 1):
        best = np.max(best[:, None] + markov.log_transition, axis=0)
    log_max = best.max()
    assert 1e4 * log_max <= log_Z <= 1e4 * log_max + math.log(50) * 10_000  # Z ≥ max term, Z ≤ |Y| · max term
    cond = exact.power_conditional(markov, [], 1e4)
    assert math.isclose(cond.sum(), 1.0, rel_tol=1e-12)


def test_markov_sample_chi_square():
    """N = 20 000 draws of a V = 3, T = 3 chain vs the exact joint; χ² p-value > 1e-4 at a fixed seed."""
    from scipy import stats

    markov = exact.MarkovAR.random(3, 3, seed=5, concentration=0.8)
    draws = markov.sample(20_000, np.random.default_rng(9))
    probs = markov.joint()
    counts = np.bincount(np.ravel_multi_index(tuple(draws.T), probs.shape), minlength=probs.size)
    assert stats.chisquare(counts, probs.ravel() * len(draws)).pvalue > 1e-4


@pytest.mark.parametrize("alpha", [0.5, 3.0])
def test_markov_sample_power_matches_exact_law(alpha):
    """N = 20 000 draws from π_α of a V = 3, T = 4 chain (with a zero transition) vs brute force; χ² p > 1e-4."""
    from scipy import stats

    P = np.array([[0.6, 0.4, 0.0], [0.2, 0.3, 0.5], [0.1, 0.1, 0.8]])
    markov = exact.MarkovAR(np.array([0.5, 0.3, 0.2]), P, 4)
    logp = bf.log_joint_markov(markov.log_initial, markov.log_transition, 4)
    totals = bf.prefix_totals(logp, alpha)
    probs = np.array([math.exp(totals[y] - totals[()]) for y in bf.sequences((3,) * 4)])
    draws = exact.sample_power(markov, alpha, 20_000, np.random.default_rng(2))
    counts = np.bincount(np.ravel_multi_index(tuple(draws.T), (3,) * 4), minlength=81)
    support = probs > 0
    assert counts[~support].sum() == 0
    assert stats.chisquare(counts[support], probs[support] * len(draws)).pvalue > 1e-4


def test_markov_sample_power_at_T10000():
    markov = exact.MarkovAR.random(50, 10_000, seed=6)
    draws = exact.sample_power(markov, 2.0, 4, np.random.default_rng(0))
    assert draws.shape == (4, 10_000) and np.all(np.isfinite(markov.log_prob(draws)))


@pytest.mark.parametrize("alpha", [1e-3, 0.5, 2.0, 50.0, 1e3, 1e4])
def test_suffix_masses_match_log_space_recursion(alpha):
    """The fast linear-space DP (with its log-space fallback) equals the plain log-space recursion
    β_k(v) = logsumexp_w(α log P[v, w] + β_{k-1}(w)) to 1e-12 relative, on a chain with zero transitions."""
    rng = np.random.default_rng(8)
    P = rng.dirichlet(np.full(6, 0.3), size=6)
    P[P < 0.02] = 0.0
    P[np.arange(6), P.argmax(axis=1)] += 1.0 - P.sum(axis=1)
    markov = exact.MarkovAR(np.full(6, 1 / 6), P, 300)
    beta = markov.log_suffix_masses(alpha)
    with np.errstate(divide="ignore"):
        scaled = alpha * np.log(P)
    reference = np.zeros_like(beta)
    for k in range(1, 300):
        reference[k] = [bf.lse((scaled[v] + reference[k - 1]).tolist()) for v in range(6)]
    np.testing.assert_allclose(beta, reference, rtol=1e-12, atol=1e-12)


def test_repr_names_the_chain_and_eos():
    """``repr`` shows ``V`` and ``T`` (``T = 1`` included: one step, one vocabulary), and the EOS id only when there is one."""
    assert repr(exact.MarkovAR.random(3, 1, seed=0)) == "MarkovAR(vocab_size=3, horizon=1)"
    assert repr(exact.MarkovAR.random(4, 2, seed=0, eos_token_id=0)) == "MarkovAR(vocab_size=4, horizon=2, eos_token_id=0)"
