"""Scalable power sampling (arXiv 2601.21590): exact expectations vs brute force over ordered rollouts, and the one
sampler (``llm.sample_power_scalable`` on ``llm.ToyModel``) against them."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest

import exact
from exact._numerics import jackknife_probabilities
from exact.samplers import (
    chi_square_pvalue,
    scalable,
    scalable_conditional_bias,
    scalable_conditional_expectation,
    scalable_output_distribution,
)


def llm_scalable(model, prompt, alpha, top_k, M, jackknife, n, seed, horizon=None):
    """``n`` outputs of the one scalable sampler (``llm``) on ``llm.ToyModel(model)``: (completions, tokens sampled)."""
    torch = pytest.importorskip("torch")
    import llm

    out = llm.sample_power_scalable(
        llm.ToyModel(model), list(prompt), n, alpha, torch.Generator().manual_seed(seed), top_k=top_k, n_rollouts=M,
        rollout_horizon=horizon, jackknife=jackknife, progress=False,
    )
    return np.array(out.tokens), out.required_tokens - len(prompt)


def _estimate(X: np.ndarray, jackknife: bool, clip: bool) -> np.ndarray:
    """Candidate probabilities from one draw ``X[r, k]`` of the M rollouts: plain, or jackknifed (and clipped)."""
    M = X.shape[0]
    est = X.sum(0) / X.sum()
    if jackknife:
        loo = [np.delete(X, s, axis=0).sum(0) / np.delete(X, s, axis=0).sum() for s in range(M)]
        est = M * est - (M - 1) / M * np.sum(loo, axis=0)
        if clip:
            est = np.maximum(est, 0)
            est = est / est.sum()
    return est

def brute_force_conditional(model, prefix, alpha, top_k, M, jackknife, horizon=None, clip=True):
    """E[p̂(· | prefix)] by summing over every ordered tuple of M rollouts per candidate (loops, no tables)."""
    joint = model.joint()
    T = model.horizon
    t = len(prefix) + 1
    H = T if horizon is None else horizon
    h = min(H, T - t)
    p = model.conditional(prefix)
    order = sorted(range(p.size), key=lambda a: (-p[a], a))
    cands = [a for a in order if p[a] > 0][:top_k]
    suffixes, probs = [], []
    for a in cands:
        block = joint[tuple(prefix) + (a,)]
        total = block.sum()
        zs = list(itertools.product(*[range(v) for v in model.vocab_sizes[t : t + h]]))
        qs = [block[z].sum() / total for z in zs]
        suffixes.append(zs)
        probs.append(qs)
    out = np.zeros(p.size)
    per_cand = [list(itertools.product(range(len(probs[k])), repeat=M)) for k in range(len(cands))]
    for draw in itertools.product(*per_cand):
        prob = np.prod([probs[k][j] for k in range(len(cands)) for j in draw[k]])
        if prob == 0:
            continue
        X = np.array([[p[cands[k]] ** alpha * probs[k][draw[k][r]] ** (alpha - 1) for k in range(len(cands))] for r in range(M)])
        out[cands] += prob * _estimate(X, jackknife, clip)
    return out


@pytest.mark.parametrize(
    "sizes, prefix, alpha, top_k, M, jackknife, horizon, clip, seed",
    [
        ((2, 2, 2), (), 3.0, 2, 2, False, None, True, 0),
        ((2, 2, 2), (), 3.0, 2, 3, True, None, False, 1),
        ((2, 2, 2), (1,), 0.5, 2, 3, True, None, True, 2),
        ((3, 2, 2), (), 4.0, 2, 2, True, None, True, 3),
        ((3, 2, 2), (), 4.0, 3, 2, False, 1, True, 4),
        ((2, 3, 2), (0,), 2.0, 1, 3, False, None, True, 5),
        ((3, 2, 3), (2, 1), 2.0, 2, 3, True, None, True, 6),
    ],
)
def test_conditional_expectation_matches_brute_force(sizes, prefix, alpha, top_k, M, jackknife, horizon, clip, seed):
    model = exact.TabularAR.random(sizes, seed=seed, concentration=0.5)
    got = scalable_conditional_expectation(model, prefix, alpha, top_k, M, jackknife, horizon=horizon, clip=clip)
    want = brute_force_conditional(model, prefix, alpha, top_k, M, jackknife, horizon, clip)
    assert got.exact
    np.testing.assert_allclose(got.mean, want, atol=1e-10, rtol=0)


def test_clipping_happens_and_is_handled():
    # a peaked model with a large alpha makes the jackknife go negative at M = 2
    model = exact.TabularAR.random((3, 3, 2), seed=8, concentration=0.1)
    unclipped = scalable_conditional_expectation(model, (), 6.0, 3, 2, True, clip=False).mean
    clipped = scalable_conditional_expectation(model, (), 6.0, 3, 2, True, clip=True).mean
    np.testing.assert_allclose(clipped.sum(), 1.0, atol=1e-12)
    assert np.all(clipped >= 0)
    draws = np.array([[[1.0, 0.0], [0.0, 1.0]], [[10.0, 0.1], [0.0, 1.0]]])  # (2 replications, M=2, K=2)
    with np.errstate(divide="ignore"):
        log_draws = np.log(draws)
    raw = jackknife_probabilities(log_draws, clip=False)
    np.testing.assert_allclose(raw.sum(axis=-1), 1.0)  # the jackknife always sums to 1
    assert (raw < 0).any() and np.all(jackknife_probabilities(log_draws, clip=True) >= 0)
    positive = np.clip(raw, 0.0, None)
    np.testing.assert_allclose(jackknife_probabilities(log_draws, clip=True), positive / positive.sum(axis=-1, keepdims=True))
    # on this model the unclipped jackknife's expectation leaves the simplex, so clipping changes the law
    assert np.any(unclipped < -1e-3) and np.abs(clipped - unclipped).max() > 1e-3


def test_monte_carlo_fallback_agrees_with_enumeration(monkeypatch):
    model = exact.TabularAR.random((3, 2, 2), seed=9, concentration=0.3)
    enumerated = scalable_conditional_expectation(model, (), 5.0, 3, 2, True)
    monkeypatch.setattr(scalable, "ENUMERATION_LIMIT", 0)
    sampled = scalable_conditional_expectation(model, (), 5.0, 3, 2, True, rng=np.random.default_rng(1), n_replications=20_000)
    assert not sampled.exact and enumerated.exact
    # k = 5 standard errors (R = 20 000 replications) plus a float floor for entries never clipped
    assert np.all(np.abs(sampled.mean - enumerated.mean) <= 5 * sampled.standard_error + 1e-12)


def test_output_distribution_is_product_of_expected_conditionals():
    model = exact.TabularAR.random((2, 3, 2), seed=10)
    dist = scalable_output_distribution(model, 2.5, 2, 2, True)
    for y in itertools.product(range(2), range(3), range(2)):
        want = np.prod([brute_force_conditional(model, y[:t], 2.5, 2, 2, True)[y[t]] for t in range(3)])
        assert abs(dist.probabilities[y] - want) < 1e-10
    assert dist.exact and np.all(dist.standard_errors == 0)
    # K = 2 candidates, M = 2 rollouts: 1 + 2*2*2, 1 + 2*2*1 (K_eff = 2 of 3), 1 + 0
    assert dist.expected_cost == pytest.approx(9 + 5 + 1)


# plain / jackknife with rollouts to the end: tests/llm/test_samplers_toy.py::test_scalable_chi_square; here the
# truncated rollout horizon, and the token cost, which without EOS is the same for every output
@pytest.mark.parametrize("jackknife, top_k, M, horizon, seed", [(True, 3, 2, 1, 2)])
def test_simulation_matches_exact(jackknife, top_k, M, horizon, seed):
    # N = 400 llm outputs over 3*2*2 = 12 sequences; Pearson chi-square with pooled small bins
    model = exact.TabularAR.random((3, 2, 2), seed=seed, concentration=0.7)
    sequences, tokens = llm_scalable(model, (), 3.0, top_k, M, jackknife, 400, seed, horizon)
    dist = scalable_output_distribution(model, 3.0, top_k, M, jackknife, horizon=horizon)
    assert dist.exact
    assert chi_square_pvalue(sequences, dist.probabilities) > 0.01
    # full support, no EOS: every output costs exactly Σ_t (1 + K_eff M h_t) token evaluations
    assert tokens / 400 == pytest.approx(dist.expected_cost, rel=1e-12)


def test_full_candidates_and_many_rollouts_approach_power_conditional():
    model = exact.TabularAR.random(3, 3, seed=11, concentration=2.0)
    prev_plain = prev_jk = np.inf
    for M in (8, 64, 512):
        plain = np.abs(scalable_conditional_bias(model, (), 2.0, 3, M, False).bias).sum()
        jk = np.abs(scalable_conditional_bias(model, (), 2.0, 3, M, True, clip=False).bias).sum()
        assert plain < prev_plain and jk < prev_jk
        prev_plain, prev_jk = plain, jk
    assert prev_plain < 1e-3 and prev_jk < 1e-6
    # the bias scales as 1/M (Lemma 3.2) and 1/M^2 (Lemma 3.3): ratios between M = 256 and 512
    b256 = np.abs(scalable_conditional_bias(model, (), 2.0, 3, 256, False).bias).sum()
    j256 = np.abs(scalable_conditional_bias(model, (), 2.0, 3, 256, True, clip=False).bias).sum()
    assert 1.8 < b256 / prev_plain < 2.2 and 3.6 < j256 / prev_jk < 4.4


def test_truncated_horizon_and_top_k_leave_a_bias():
    model = exact.TabularAR.random(3, 3, seed=12, concentration=1.0)
    assert np.abs(scalable_conditional_bias(model, (), 3.0, 3, 4096, False, horizon=1).bias).sum() > 1e-3
    dropped = int(np.argmin(model.conditional(())))
    bias = scalable_conditional_bias(model, (), 3.0, 2, 4096, False).bias
    assert bias[dropped] == pytest.approx(-exact.power_conditional(model, (), 3.0)[dropped], abs=1e-15)


def test_last_step_is_temperature_over_candidates():
    model = exact.TabularAR.random(4, 2, seed=13)
    got = scalable_conditional_expectation(model, (1,), 3.0, 4, 5, True).mean
    np.testing.assert_allclose(got, exact.temp_conditional(model, (1,), 3.0), atol=1e-14)


def test_zero_probability_tokens_are_never_candidates():
    model = exact.TabularAR.random((4, 3, 2), seed=14, zero_fraction=0.5)
    for jackknife in (False, True):
        dist = scalable_output_distribution(model, 2.0, 4, 2, jackknife)
        assert dist.probabilities[model.joint() == 0].sum() == 0


def test_scalable_rejects_bad_input():
    model = exact.TabularAR.random(2, 3, seed=0)
    with pytest.raises(ValueError, match="n_rollouts"):
        scalable_output_distribution(model, 2.0, 2, 1, True)
    with pytest.raises(ValueError, match="top_k"):
        scalable_output_distribution(model, 2.0, 0, 2, False)


def test_sampler_step_agrees_with_the_exact_conditional():
    """From the prompt ``(1,)`` the sampler's first token is one draw from ``p̂_2(· | 1)``, whose law is
    ``E[p̂_2(· | 1)]``: n = 600 llm first tokens, Pearson chi-square p > 1e-3 against
    ``scalable_conditional_expectation`` (plain and jackknife, K = 3, M = 3, rollouts to the end)."""
    model = exact.TabularAR.random((3, 3, 2), seed=15, concentration=0.8)
    for jackknife, seed in ((False, 3), (True, 4)):
        want = scalable_conditional_expectation(model, (1,), 3.0, 3, 3, jackknife).mean
        sequences, _ = llm_scalable(model, (1,), 3.0, 3, 3, jackknife, 600, seed)
        assert chi_square_pvalue(sequences[:, :1], want) > 1e-3


@pytest.mark.parametrize("alpha", [0.2, 1.0, 20.0])
def test_extreme_exponents_match_brute_force(alpha):
    # rollout weights q^(α-1) spanning many orders of magnitude stress the Laplace quadrature
    model = exact.TabularAR.random((2, 2, 2), seed=16, concentration=0.3)
    for jackknife in (False, True):
        got = scalable_conditional_expectation(model, (), alpha, 2, 3, jackknife, clip=False).mean
        want = brute_force_conditional(model, (), alpha, 2, 3, jackknife, clip=False)
        np.testing.assert_allclose(got, want, atol=1e-10, rtol=0)


# -- EOS: the sampler stops at EOS, rollouts stop at EOS, an EOS candidate has the empty suffix (ζ = 1) ----
def _eos_rollouts(model, head, h):
    """Variable-length rollouts after ``head``: (suffix, probability) until EOS (included) or h tokens."""
    eos = model.eos_token_id
    if head and head[-1] == eos:
        return [((), 1.0)]
    out = []

    def grow(z, prob):
        if len(z) == h or (z and z[-1] == eos):
            out.append((z, prob))
            return
        p = model.conditional(list(head + z))
        for v in range(p.size):
            if p[v] > 0:
                grow(z + (v,), prob * p[v])

    grow((), 1.0)
    return out


def brute_force_conditional_eos(model, prefix, alpha, top_k, M, jackknife, horizon=None, clip=True):
    """E[p̂(· | prefix)] over every ordered tuple of M variable-length rollouts per candidate; also the
    expected tokens the rollouts sample (M Σ_a E|z_a|), computed from the same enumeration."""
    T = model.horizon
    h = min(T if horizon is None else horizon, T - len(prefix) - 1)
    p = model.conditional(list(prefix))
    order = sorted(range(p.size), key=lambda a: (-p[a], a))
    cands = [a for a in order if p[a] > 0][:top_k]
    rollouts = [_eos_rollouts(model, tuple(prefix) + (a,), h) for a in cands]
    tokens = M * sum(q * len(z) for rs in rollouts for z, q in rs)
    out = np.zeros(p.size)
    per_cand = [list(itertools.product(range(len(rs)), repeat=M)) for rs in rollouts]
    for draw in itertools.product(*per_cand):
        prob = np.prod([rollouts[k][j][1] for k in range(len(cands)) for j in draw[k]])
        X = np.array([[p[cands[k]] ** alpha * rollouts[k][draw[k][r]][1] ** (alpha - 1) for k in range(len(cands))] for r in range(M)])
        out[cands] += prob * _estimate(X, jackknife, clip)
    return out, tokens


def brute_force_output_eos(model, alpha, top_k, M, jackknife, horizon=None):
    """Π_{t ≤ |y|} E[p̂(y_t | y_<t)] over variable-length completions (padded), and the expected cost."""
    eos, T = model.eos_token_id, model.horizon
    out, cost = np.zeros(model.vocab_sizes), 0.0
    frontier = [((), 1.0)]
    while frontier:
        y, prob = frontier.pop()
        if (y and y[-1] == eos) or len(y) == T:
            out[y + (eos,) * (T - len(y))] += prob
            continue
        cond, tokens = brute_force_conditional_eos(model, y, alpha, top_k, M, jackknife, horizon)
        cost += prob * (1 + tokens)
        frontier += [(y + (a,), prob * cond[a]) for a in range(cond.size) if cond[a] > 0]
    return out, cost


@pytest.mark.parametrize(
    "top_k, M, jackknife, horizon, seed",
    [(2, 2, False, None, 0), (2, 2, True, None, 1), (3, 2, True, 1, 2), (3, 2, False, 1, 3), (2, 3, True, 1, 4)],
)
def test_eos_output_distribution_matches_variable_length_brute_force(top_k, M, jackknife, horizon, seed):
    """On the padded table the law needs no EOS case: it equals the variable-length sampler's, and the
    expected cost counts no step after EOS and rollouts only up to their EOS (none after an EOS candidate)."""
    model = exact.TabularAR.random(3, 3, seed=seed, eos_token_id=2, concentration=0.7)
    assert model.joint()[:, 2, :].sum() > 0.3  # EOS ends many completions early: P(|y| <= 2) = P(y_2 = EOS)
    got = scalable_output_distribution(model, 2.0, top_k, M, jackknife, horizon=horizon)
    want, cost = brute_force_output_eos(model, 2.0, top_k, M, jackknife, horizon)
    assert got.exact
    np.testing.assert_allclose(got.probabilities, want, atol=1e-10, rtol=0)
    assert got.expected_cost == pytest.approx(cost, rel=1e-10)


def test_eos_candidate_has_weight_one():
    """At the last-but-one step with an EOS candidate: ζ(EOS) = 1, so with the other candidates' rollouts
    exact (M large, K = V) the conditional is p(a)^α ζ(a) / Σ_b p(b)^α ζ(b), ζ(EOS) = 1."""
    model = exact.TabularAR.random(3, 2, seed=5, eos_token_id=2)
    got = scalable_conditional_expectation(model, (), 3.0, 3, 2048, True, clip=False).mean
    p = model.conditional(())
    zeta = np.array([(model.conditional([a]) ** 3.0).sum() if a != 2 else 1.0 for a in range(3)])
    want = p**3.0 * zeta / (p**3.0 * zeta).sum()
    np.testing.assert_allclose(got, want, atol=1e-6)
    np.testing.assert_allclose(want, exact.power_conditional(model, (), 3.0), atol=1e-14)


# -- argument checks, the degenerate settings, the Monte Carlo fallback, the cost without EOS ----------------
def test_bad_arguments_are_clear_value_errors():
    """Each message names the argument and the rule, matched from its start."""
    model = exact.TabularAR.random((3, 2, 2), seed=14, zero_fraction=0.5)
    impossible = int(np.flatnonzero(model.conditional(()) == 0)[0])
    cases = [
        ((2.0, 0, 2, False), {}, r"^top_k must be an integer >= 1, got 0$"),
        ((2.0, 2, 0, False), {}, r"^n_rollouts must be an integer >= 1, got 0$"),
        ((2.0, 2, 1, True), {}, r"^n_rollouts must be an integer >= 2, got 1$"),
        ((2.0, 2, 2, True), {"horizon": -1}, r"^horizon must be a non-negative integer, got -1$"),
        ((2.0, 2, 2, True), {"n_replications": 1}, r"^n_replications must be an integer >= 2, got 1$"),
    ]
    for args, kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            scalable_output_distribution(model, *args, **kwargs)
        with pytest.raises(ValueError, match=message):
            scalable_conditional_expectation(model, (), *args, **kwargs)
    with pytest.raises(ValueError, match=rf"^prefix \[{impossible}\] has probability zero under the model$"):
        scalable_conditional_expectation(model, (impossible,), 2.0, 2, 2, False)


def test_one_rollout_and_zero_horizon():
    """``M = 1`` is allowed without the jackknife (brute force over single rollouts); ``H = 0`` rolls nothing
    out (``ζ̂ = 1``), so ``p̂`` is the temperature-``1/α`` law over the top-``K`` candidates and each step costs 1."""
    model = exact.TabularAR.random((3, 2, 2), seed=17, concentration=0.5)
    for prefix in ((), (1,)):
        got = scalable_conditional_expectation(model, prefix, 3.0, 2, 1, False).mean
        np.testing.assert_allclose(got, brute_force_conditional(model, prefix, 3.0, 2, 1, False), atol=1e-10, rtol=0)
    p = model.conditional(())
    top = np.argsort(-p, kind="stable")[:2]
    want = np.zeros(3)
    want[top] = p[top] ** 3.0 / (p[top] ** 3.0).sum()
    for jackknife in (False, True):
        np.testing.assert_allclose(scalable_conditional_expectation(model, (), 3.0, 2, 2, jackknife, horizon=0).mean, want, atol=1e-12)
        assert scalable_output_distribution(model, 3.0, 2, 2, jackknife, horizon=0).expected_cost == pytest.approx(3.0, rel=1e-12)


def _suffix_law(model, prefix, a):
    """The positive suffix probabilities after ``prefix + (a,)``, suffixes in lexicographic order."""
    block = model.joint()[tuple(prefix) + (a,)].reshape(-1)
    return block[block > 0] / block.sum()


def test_enumeration_limit_decides_exactness(monkeypatch):
    """The clipped jackknife is enumerated exactly when there are at most ``ENUMERATION_LIMIT`` multisets of
    ``M`` rollout vectors (``C(S + M - 1, M)``, ``S`` = number of vectors), else estimated."""
    model = exact.TabularAR.random((3, 2, 2), seed=9, concentration=0.3)
    n_vectors = math.prod(_suffix_law(model, (), a).size for a in range(3))
    n_multisets = math.comb(n_vectors + 1, 2)
    for limit, exact_ in ((n_multisets, True), (n_multisets - 1, False)):
        monkeypatch.setattr(scalable, "ENUMERATION_LIMIT", limit)
        assert scalable_conditional_expectation(model, (), 5.0, 3, 2, True, n_replications=50).exact is exact_


def test_monte_carlo_fallback_averages_the_clipping_correction(monkeypatch):
    """The fallback: the exact unclipped value plus the mean of ``clip(p̂_JK) - p̂_JK`` over ``R`` i.i.d. draws of the
    ``M`` rollout vectors (each candidate's suffixes drawn in turn from ``rng``), with standard error
    ``sd(ddof=1)/sqrt(R)``; ``rng=None`` is seed 0.  Replayed draw by draw with the test's own estimator."""
    model = exact.TabularAR.random((3, 2, 2), seed=9, concentration=0.3)
    alpha, M, R = 5.0, 2, 300
    p = model.conditional(())
    cands = sorted(range(3), key=lambda a: (-p[a], a))
    monkeypatch.setattr(scalable, "ENUMERATION_LIMIT", 0)
    linear = scalable_conditional_expectation(model, (), alpha, 3, M, True, clip=False).mean
    for seed, rng in ((0, None), (5, np.random.default_rng(5))):
        got = scalable_conditional_expectation(model, (), alpha, 3, M, True, rng=rng, n_replications=R)
        gen = np.random.default_rng(seed)
        X = np.zeros((R, M, 3))
        for k, a in enumerate(cands):
            q = _suffix_law(model, (), a)
            X[:, :, k] = p[a] ** alpha * q[gen.choice(q.size, size=(R, M), p=q)] ** (alpha - 1)
        diff = np.array([_estimate(x, True, True) - _estimate(x, True, False) for x in X])
        assert np.abs(diff).max() > 1e-3  # clipping happens in these draws
        assert not got.exact
        np.testing.assert_allclose(got.mean[cands], linear[cands] + diff.mean(axis=0), atol=1e-12, rtol=0)
        np.testing.assert_allclose(got.standard_error[cands], diff.std(axis=0, ddof=1) / np.sqrt(R), atol=1e-12, rtol=1e-9)


def test_conditional_bias_fields(monkeypatch):
    """``bias = E[p̂] - π_pow``, with the clipped jackknife by default and the expectation's standard error and
    exactness (here from the Monte Carlo fallback, seeded by ``rng``)."""
    model = exact.TabularAR.random((3, 3, 2), seed=8, concentration=0.1)
    power = exact.power_conditional(model, (), 6.0)
    clipped = scalable_conditional_expectation(model, (), 6.0, 3, 2, True).mean
    np.testing.assert_allclose(scalable_conditional_bias(model, (), 6.0, 3, 2, True).bias, clipped - power, atol=1e-14)
    monkeypatch.setattr(scalable, "ENUMERATION_LIMIT", 0)
    want = scalable_conditional_expectation(model, (), 6.0, 3, 2, True, rng=np.random.default_rng(3))
    got = scalable_conditional_bias(model, (), 6.0, 3, 2, True, rng=np.random.default_rng(3))
    assert got.exact is False and np.any(got.standard_error > 0)
    np.testing.assert_allclose(got.bias, want.mean - power, atol=1e-14)
    np.testing.assert_allclose(got.standard_error, want.standard_error, atol=1e-15)


def _product_law(model, step):
    """``Π_t step(y_<t)[y_t]`` and ``Σ_t (se_t/p_t)²`` per sequence, a prefix of non-positive mass never extended,
    negative products set to 0, renormalised (``step(prefix)`` -> a ``ConditionalExpectation``)."""
    law, rel = np.zeros(model.vocab_sizes), np.zeros(model.vocab_sizes)
    for y in itertools.product(*[range(v) for v in model.vocab_sizes]):
        prob, var = 1.0, 0.0
        for t in range(model.horizon):
            if prob <= 0:
                prob = 0.0
                break
            s = step(y[:t])
            prob *= s.mean[y[t]]
            var += (s.standard_error[y[t]] / s.mean[y[t]]) ** 2 if s.mean[y[t]] > 0 else 0.0
        law[y], rel[y] = prob, var
    law = np.clip(law, 0.0, None)
    return law / law.sum(), rel


def test_output_distribution_combines_the_steps(monkeypatch):
    """``P(y) = Π_t E[p̂_t(y_t | y_<t)]`` with, under the Monte Carlo fallback, the delta-method standard error
    ``P(y) sqrt(Σ_t (se_t / p_t)²)`` (each step seeded 0 when ``rng`` is None).  Where an estimated (or, with
    ``clip=False``, the unclipped jackknife's) step is negative, the product is set to 0, a prefix of mass
    ``<= 0`` is not extended, and the law is renormalised."""
    model = exact.TabularAR.random((3, 2, 2), seed=9, concentration=0.3)
    monkeypatch.setattr(scalable, "ENUMERATION_LIMIT", 0)
    dist = scalable_output_distribution(model, 5.0, 3, 2, True, n_replications=100)
    want, rel = _product_law(model, lambda prefix: scalable_conditional_expectation(model, prefix, 5.0, 3, 2, True, n_replications=100))
    assert not dist.exact and np.any(dist.standard_errors > 0)
    np.testing.assert_allclose(dist.probabilities, want, atol=1e-12, rtol=0)
    np.testing.assert_allclose(dist.standard_errors, want * np.sqrt(rel), atol=1e-12, rtol=1e-9)
    monkeypatch.undo()
    peaked = exact.TabularAR.random((3, 3, 2), seed=8, concentration=0.1)
    got = scalable_output_distribution(peaked, 6.0, 3, 2, True, clip=False)
    assert scalable_conditional_expectation(peaked, (), 6.0, 3, 2, True, clip=False).mean.min() < -1e-3
    want, _ = _product_law(peaked, lambda prefix: scalable_conditional_expectation(peaked, prefix, 6.0, 3, 2, True, clip=False))
    np.testing.assert_allclose(got.probabilities, want, atol=1e-12, rtol=0)


def test_output_distribution_with_a_generator_and_non_candidates(monkeypatch):
    """Under the Monte Carlo fallback with ``top_k < V`` at the first and last steps and a given ``rng``: the steps draw
    from that generator (the first step run is the empty prefix, and the one-token second step is certain, so the first
    token's law is that step's expectation under a fresh copy), a non-candidate has probability and standard error
    exactly 0 (no NaN, no numpy warning), and the law is inexact when any step is (``ENUMERATION_LIMIT = 1``: only the
    first step, the others having one candidate or empty suffixes, falls back to Monte Carlo)."""
    model = exact.TabularAR.random((3, 1, 3), seed=4, concentration=0.3)
    monkeypatch.setattr(scalable, "ENUMERATION_LIMIT", 1)
    args = (model, 5.0, 2, 2, True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        got = scalable_output_distribution(*args, rng=np.random.default_rng(5), n_replications=100)
    first = scalable_conditional_expectation(model, (), *args[1:], rng=np.random.default_rng(5), n_replications=100)
    last = scalable_conditional_expectation(model, (0, 0), *args[1:], n_replications=100)
    assert first.mean.min() >= 0 and np.sum(first.mean > 0) == 2
    assert not first.exact and np.any(first.standard_error > 1e-6) and last.exact
    assert not got.exact
    np.testing.assert_allclose(got.probabilities.sum(axis=(1, 2)), first.mean, atol=1e-12, rtol=0)
    reached = got.probabilities.sum(axis=-1) > 0  # (y_1, y_2) for the two first-step candidates
    assert reached.sum() == 2 and np.all((got.probabilities[reached] == 0).sum(axis=-1) == 1)  # one non-candidate each
    # only the first step is estimated: se(y) = P(y) se_1(y_1) / E_1(y_1), and 0 (not NaN) where P(y) = 0
    relative = np.divide(first.standard_error, first.mean, out=np.zeros(3), where=first.mean > 0)
    np.testing.assert_allclose(got.standard_errors, got.probabilities * relative[:, None, None], atol=1e-15, rtol=1e-9)
    assert np.all(got.standard_errors[got.probabilities == 0] == 0)


def test_expected_cost_counts_positive_candidates_and_the_horizon():
    """Without EOS: ``E_y[Σ_t (1 + min(K, #{a: π(a | y_<t) > 0}) M min(H, T - t))]`` under the output law, by a loop
    over the sequences (a sparse model, so fewer than ``K`` candidates at some prefixes)."""
    model = exact.TabularAR.random((4, 3, 3, 2), seed=14, zero_fraction=0.5)
    for top_k, M, horizon in ((3, 2, 1), (2, 3, None), (4, 1, 2)):
        dist = scalable_output_distribution(model, 2.0, top_k, M, False, horizon=horizon)
        H = 4 if horizon is None else horizon
        want = 0.0
        for y in zip(*np.nonzero(dist.probabilities)):
            n_pos = [int((model.conditional(y[:t]) > 0).sum()) for t in range(4)]
            want += dist.probabilities[y] * sum(1 + min(top_k, n_pos[t]) * M * min(H, 4 - t - 1) for t in range(4))
        assert dist.expected_cost == pytest.approx(want, rel=1e-12)
        # called directly, horizon=None means rollouts to the end
        assert scalable.scalable_expected_cost(model, dist.probabilities, top_k, M, horizon) == pytest.approx(want, rel=1e-12)


def test_eos_cost_with_step_dependent_vocabularies():
    """The EOS cost reads each step's own vocabulary (``V_t`` differing per step) to find the prefixes that end at EOS.
    The impossible prefixes of the padded table (``0/0`` rollout lengths, masked) raise no numpy warning."""
    model = exact.TabularAR.random((3, 4, 3), seed=6, eos_token_id=2, concentration=0.7)
    for top_k, M, jackknife, horizon in ((2, 2, False, None), (3, 2, True, 1)):
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            got = scalable_output_distribution(model, 2.0, top_k, M, jackknife, horizon=horizon)
        want, cost = brute_force_output_eos(model, 2.0, top_k, M, jackknife, horizon)
        np.testing.assert_allclose(got.probabilities, want, atol=1e-10, rtol=0)
        assert got.expected_cost == pytest.approx(cost, rel=1e-10)


def test_output_law_at_a_huge_exponent_is_its_limit():
    """On ``π = (.5, .2, .2, .1)`` the law is flat in α from α ≈ 50 on to 1e-15 (every estimate's ratios are
    decided by the same rollouts), so α = 1000 and 1e4, whose rollout weights ``π^{α-1}`` are below float64's
    range, must give the α = 300 law: they collapsed onto the best sequence when the weights were exponentiated."""
    model = exact.TabularAR.from_joint(np.array([[0.5, 0.2], [0.2, 0.1]]))
    for jackknife in (False, True):
        reference = scalable_output_distribution(model, 300.0, 2, 4, jackknife).probabilities
        assert reference[1, 0] > 1e-3
        for alpha in (1000.0, 1e4):
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # overflow to inf by design: silenced, not printed
                got = scalable_output_distribution(model, alpha, 2, 4, jackknife).probabilities
            np.testing.assert_allclose(got, reference, rtol=0, atol=1e-12)
