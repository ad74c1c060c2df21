"""SIS / SIR / Power-SMC and temperature sampling: exact laws vs brute force; the one samplers
(``llm.sample_power_smc``, ``llm.sample_temperature`` on ``llm.ToyModel``) and the vectorised
law-estimator ``exact.power_smc`` against the exact laws."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest

import exact
from exact._numerics import inverse_cdf
from exact.samplers import (
    chi_square_pvalue,
    distances_to_power,
    power_smc,
    sir_output_distribution,
    sis_ess_fraction,
    smc_output_distribution,
    temperature_output_distribution,
)


def one_output_per_run(runs, rng):
    """Particle ``i`` of each run with probability ``W^i`` (the output of SIR / Power-SMC) -> ``(R, T)``."""
    pick = inverse_cdf(runs.log_weights, rng.random(len(runs.log_weights)))
    return runs.particles[np.arange(len(pick)), pick]


def brute_proposal(model, y, alpha, proposal):
    prob = 1.0
    for t in range(len(y)):
        p = model.conditional(y[:t])
        if proposal == "temperature":
            p = p**alpha / (p**alpha).sum()
        prob *= p[y[t]]
    return prob


def all_sequences(model):
    return list(itertools.product(*[range(v) for v in model.vocab_sizes]))


@pytest.mark.parametrize("proposal", ["base", "temperature", "optimal"])
@pytest.mark.parametrize("alpha", [0.5, 3.0])
def test_sis_ess_matches_brute_force(proposal, alpha):
    model = exact.TabularAR.random((3, 2, 3), seed=1)
    joint = model.joint()
    Z = sum(joint[y] ** alpha for y in all_sequences(model))
    if proposal == "optimal":
        want = 1.0
    else:
        second = sum(joint[y] ** (2 * alpha) / brute_proposal(model, y, alpha, proposal) for y in all_sequences(model))
        want = Z**2 / second
    assert sis_ess_fraction(model, alpha, proposal) == pytest.approx(want, abs=1e-12)


@pytest.mark.parametrize("N, proposal, alpha", [(1, "base", 3.0), (2, "base", 3.0), (3, "temperature", 2.0), (3, "base", 0.5)])
def test_sir_output_matches_enumeration_of_particle_tuples(N, proposal, alpha):
    model = exact.TabularAR.random((2, 2, 2), seed=2 + N)
    seqs = all_sequences(model)
    q = {y: brute_proposal(model, y, alpha, proposal) for y in seqs}
    w = {y: model.joint()[y] ** alpha / q[y] for y in seqs}
    want = np.zeros(model.vocab_sizes)
    for particles in itertools.product(seqs, repeat=N):
        prob = np.prod([q[y] for y in particles])
        total = sum(w[y] for y in particles)
        for y in particles:
            want[y] += prob * w[y] / total
    got = sir_output_distribution(model, alpha, N, proposal)
    np.testing.assert_allclose(got.probabilities, want, atol=1e-10, rtol=0)
    assert got.expected_cost == N * 3


def test_sir_converges_and_optimal_proposal_is_exact():
    model = exact.TabularAR.random(3, 3, seed=3)
    target = exact.power_joint(model, 3.0)
    tvs = [distances_to_power(model, 3.0, sir_output_distribution(model, 3.0, N).probabilities).tv for N in (1, 4, 16, 64)]
    assert all(b < a for a, b in zip(tvs, tvs[1:])) and tvs[-1] < 0.01
    np.testing.assert_allclose(sir_output_distribution(model, 3.0, 5, "optimal").probabilities, target, atol=1e-10)


@pytest.mark.parametrize("proposal, seed", [("base", 4), ("temperature", 5)])
def test_sir_simulation_matches_exact(proposal, seed):
    # n = 300 outputs of 3-particle SIR (llm.sample_power_smc never resampling, proposal at temperature 1
    # for "base", 1/α for "temperature", one particle drawn by its final weight) over 12 sequences; Pearson chi-square
    torch = pytest.importorskip("torch")
    import llm

    model = exact.TabularAR.random((3, 2, 2), seed=seed)
    lm, generator = llm.ToyModel(model), torch.Generator().manual_seed(seed)
    beta = 1.0 if proposal == "base" else None
    sampled = []
    for _ in range(300):
        out = llm.sample_power_smc(lm, [], 3, 3.0, generator, ess_threshold=0.0, proposal_alpha=beta)
        assert out.n_resamples == 0
        sampled.append(out.tokens[out.pick(generator)])
    assert chi_square_pvalue(np.array(sampled), sir_output_distribution(model, 3.0, 3, proposal).probabilities) > 0.01


def test_power_smc_without_resampling_is_sir_with_temperature_proposal():
    model = exact.TabularAR.random((3, 2, 2), seed=6)
    runs = power_smc(model, 3.0, 4, 20_000, np.random.default_rng(6), ess_threshold=0.0)
    exact_sir = sir_output_distribution(model, 3.0, 4, "temperature").probabilities
    rb = smc_output_distribution(runs, model.vocab_sizes)
    # R = 20 000 runs; k = 5 standard errors per cell, plus a floor for cells with tiny variance
    assert np.all(np.abs(rb.probabilities - exact_sir) <= 5 * rb.standard_errors + 1e-3)
    assert chi_square_pvalue(one_output_per_run(runs, np.random.default_rng(7)), exact_sir) > 0.01
    assert runs.token_evaluations == 20_000 * 4 * 3 and np.all(runs.n_resampling == 0)


@pytest.mark.parametrize(
    "ramp, threshold, proposal, alpha",
    [
        (False, 1.0, "temperature", 2.0),
        (True, 1.0, "temperature", 2.0),
        (False, 1.0, "base", 2.0),
        # partial resampling (~30 % of runs resample once): weights carried across steps in some
        # runs and reset in others; Ẑ must multiply the carried-weight averages Σ_i W^i w_t^i
        (False, 0.5, "base", 4.0),
        (True, 0.5, "base", 4.0),
        (False, 0.0, "base", 2.0),  # never resamples: Ẑ = mean of the final weights
        (False, 0.0, "temperature", 2.0),
    ],
)
def test_power_smc_unnormalised_estimates_are_unbiased(ramp, threshold, proposal, alpha):
    # SMC identity: E[Ẑ Σ_i W^i δ(y^i)] = π(y)^α for any N, resampling scheme and exponent ramp.
    model = exact.TabularAR.random((2, 3, 2), seed=8, concentration=3.0)
    R = 40_000
    runs = power_smc(model, alpha, 3, R, np.random.default_rng(9), ess_threshold=threshold, ramp=ramp, proposal=proposal)
    resampled = runs.n_resampling.mean()
    if threshold == 1.0:
        assert resampled > 0.5
    elif threshold == 0.0:
        assert resampled == 0.0
    else:  # partial: some runs resample at some step, most never do
        assert 0.05 < resampled < 1.0, resampled
    log_z = exact.log_partition(model, alpha)
    ratio = np.exp(runs.log_evidence - log_z)
    # unbiased: E[Ẑ] = Z_α within k = 5 standard errors estimated from the spread over runs
    assert abs(ratio.mean() - 1) < 5 * ratio.std() / np.sqrt(R)
    R_, N, T = runs.particles.shape
    flat = np.ravel_multi_index(tuple(runs.particles.reshape(-1, T).T), model.vocab_sizes).reshape(R_, N)
    per_run = np.zeros((R, np.prod(model.vocab_sizes)))
    np.add.at(per_run, (np.repeat(np.arange(R), N), flat.reshape(-1)), (ratio[:, None] * np.exp(runs.log_weights)).reshape(-1))
    target = exact.power_joint(model, alpha).reshape(-1)
    se = per_run.std(axis=0) / np.sqrt(R)
    # k = 5 standard errors per sequence hit in >= 50 runs (11 or 12 of the 12 sequences)
    hit = (per_run > 0).sum(axis=0) >= 50
    assert hit.sum() >= 10
    assert np.all(np.abs(per_run.mean(axis=0) - target)[hit] <= 5 * se[hit])


def test_temperature_sampler_matches_exact():
    model = exact.TabularAR.random((3, 2, 2), seed=10)
    dist = temperature_output_distribution(model, 2.0)
    for y in all_sequences(model):
        assert dist.probabilities[y] == pytest.approx(brute_proposal(model, y, 2.0, "temperature"), abs=1e-14)
    torch = pytest.importorskip("torch")
    import llm

    # n = 3000 llm draws at τ = 1/α, Pearson chi-square; T token evaluations per output
    out = llm.sample_temperature(llm.ToyModel(model), [], 3000, 0.5, torch.Generator().manual_seed(10))
    assert chi_square_pvalue(np.array(out.tokens), dist.probabilities) > 0.01 and out.required_tokens == 9000


def test_distances_pin_their_formulas():
    model = exact.TabularAR.random((2, 2), seed=11)
    target = exact.power_joint(model, 2.0)
    d = distances_to_power(model, 2.0, target)
    assert d.tv == pytest.approx(0, abs=1e-15) and d.kl == pytest.approx(0, abs=1e-14)
    point = np.zeros((2, 2))
    point[0, 1] = 1.0
    d = distances_to_power(model, 2.0, point)
    assert d.tv == pytest.approx(1 - target[0, 1]) and d.kl == pytest.approx(-np.log(target[0, 1]))
    assert d.self_reward == pytest.approx(np.log(model.joint()[0, 1]))


@pytest.mark.parametrize("alpha", [0.2, 20.0])
def test_sir_extreme_exponents_match_enumeration(alpha):
    model = exact.TabularAR.random((2, 2), seed=17, concentration=0.3)
    seqs = all_sequences(model)
    q = {y: brute_proposal(model, y, alpha, "base") for y in seqs}
    w = {y: model.joint()[y] ** alpha / q[y] for y in seqs}
    want = np.zeros(model.vocab_sizes)
    for particles in itertools.product(seqs, repeat=3):
        prob = np.prod([q[y] for y in particles])
        total = sum(w[y] for y in particles)
        for y in particles:
            want[y] += prob * w[y] / total
    np.testing.assert_allclose(sir_output_distribution(model, alpha, 3).probabilities, want, atol=1e-10, rtol=0)


# -- EOS, proposals given as log-probs, truncated (top-k / top-p) proposals ---------------------------
# Reference: completions enumerated directly (tests/bruteforce.py), π and every proposal multiplied
# along a completion from the raw conditional tables only, SIR's law by enumerating all N-tuples.

import bruteforce as bf  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from exact.samplers import log_proposal_joint, proposal_log_conditionals, truncated_proposal  # noqa: E402
from exact.testing import strategies as st_exact  # noqa: E402


def bf_truncate(probs, top_k=None, top_p=None):
    """Top-k (ties with the k-th kept), then top-p (keep while the mass ranked before < top_p; ties by id)."""
    p = list(probs)
    if top_k is not None and top_k < len(p):
        kth = sorted(p, reverse=True)[top_k - 1]
        p = [v if v >= kth else 0.0 for v in p]
        p = [v / math.fsum(p) for v in p]
    if top_p is not None and top_p < 1.0:
        kept, before = [0.0] * len(p), 0.0
        for v in sorted(range(len(p)), key=lambda i: (-p[i], i)):
            if before < top_p:
                kept[v] = p[v]
            before += p[v]
        p = [v / math.fsum(kept) for v in kept]
    return p


def bf_proposal(tables, y, beta, top_k=None, top_p=None) -> float:
    """``q(y) = Π_{t ≤ |y|} trunc(π(·|y_<t)^β / Σ)(y_t)`` along the completion only."""
    prob = 1.0
    for t in range(len(y)):
        row = [math.exp(v) for v in tables[t][y[:t]]]
        tempered = [v**beta for v in row]
        prob *= bf_truncate([v / math.fsum(tempered) for v in tempered], top_k, top_p)[y[t]]
    return prob


def bf_sir_law(logp, sample_q, weight_q, alpha, N, horizon, eos, sizes):
    """SIR's output law by enumerating every N-tuple of completions drawn from ``sample_q``."""
    support = [y for y in logp if sample_q[y] > 0]
    w = {y: math.exp(alpha * logp[y]) / weight_q[y] for y in support}
    law = np.zeros(sizes)
    for particles in itertools.product(support, repeat=N):
        prob = math.prod(sample_q[y] for y in particles)
        total = math.fsum(w[y] for y in particles)
        for y in particles:
            law[bf.padded(y, horizon, eos)] += prob * w[y] / total
    return law


def eos_model_and_tables(seed, sizes=(3, 3, 3), eos=2, concentration=0.7):
    rng = np.random.default_rng(seed)
    tables = [np.log(rng.dirichlet(np.full(sizes[t], concentration), size=sizes[:t])) for t in range(len(sizes))]
    model = exact.TabularAR.from_conditionals(tables, eos_token_id=eos)
    logp = bf.completion_log_probs(lambda u: tables[len(u)][u], sizes, eos)
    return model, tables, logp


@pytest.mark.parametrize("N, top_k, top_p, beta", [(2, 2, None, 2.0), (3, None, 0.7, 2.0), (3, 2, 0.8, 1.0), (2, None, None, 2.0)])
def test_sir_with_truncated_proposal_matches_n_tuple_enumeration_on_eos_model(N, top_k, top_p, beta):
    model, tables, logp = eos_model_and_tables(seed=20 + N)
    alpha, sizes, eos, T = 2.0, model.vocab_sizes, 2, model.horizon
    q = {y: bf_proposal(tables, y, beta, top_k, top_p) for y in logp}
    want = bf_sir_law(logp, q, q, alpha, N, T, eos, sizes)
    proposal = truncated_proposal(model, beta, top_k=top_k, top_p=top_p)
    got = sir_output_distribution(model, alpha, N, proposal)
    np.testing.assert_allclose(got.probabilities, want, atol=1e-10, rtol=0)
    # E[cost] = N E_q[|y|]: finished particles need no forward step
    assert got.expected_cost == pytest.approx(N * math.fsum(q[y] * len(y) for y in logp), rel=1e-12)
    log_q = log_proposal_joint(model, alpha, proposal)
    for y in logp:
        assert math.exp(log_q[bf.padded(y, T, eos)]) == pytest.approx(q[y], abs=1e-14)
    if top_k is not None or top_p is not None:  # a truncated proposal misses part of π_α: SIR's law is not π_α
        missed = [y for y in logp if q[y] == 0.0]
        assert missed and all(got.probabilities[bf.padded(y, T, eos)] == 0.0 for y in missed)
        assert distances_to_power(model, alpha, got.probabilities).tv > 0.01


def test_sir_sampled_from_nucleus_but_weighted_with_untruncated_q_matches_enumeration():
    # the public-code bug: sample with top_p = 0.7, weight with the untruncated temperature q
    model, tables, logp = eos_model_and_tables(seed=31)
    alpha, N, T, eos = 2.0, 3, model.horizon, 2
    s = {y: bf_proposal(tables, y, alpha, None, 0.7) for y in logp}
    q = {y: bf_proposal(tables, y, alpha) for y in logp}
    want = bf_sir_law(logp, s, q, alpha, N, T, eos, model.vocab_sizes)
    got = sir_output_distribution(model, alpha, N, truncated_proposal(model, alpha, top_p=0.7), weight_proposal="temperature")
    np.testing.assert_allclose(got.probabilities, want, atol=1e-10, rtol=0)


@given(st_exact.eos_conditionals(max_vocab=3, max_horizon=3, zeros=False), st.sampled_from((1, 2, None)),
       st.sampled_from((0.5, 0.9, None)), st.sampled_from((0.5, 2.0, 8.0)))
def test_sir_truncated_law_property(conditionals, top_k, top_p, alpha):
    tables, eos = conditionals
    model = exact.TabularAR.from_conditionals(tables, eos_token_id=eos)
    sizes, T = model.vocab_sizes, model.horizon
    logp = bf.completion_log_probs(lambda u: tables[len(u)][u], sizes, eos)
    q = {y: bf_proposal(tables, y, alpha, top_k, top_p) for y in logp}
    want = bf_sir_law(logp, q, q, alpha, 2, T, eos, sizes)
    got = sir_output_distribution(model, alpha, 2, truncated_proposal(model, alpha, top_k=top_k, top_p=top_p))
    np.testing.assert_allclose(got.probabilities, want, atol=1e-9, rtol=0)


def test_every_proposal_form_gives_the_same_law():
    model, tables, logp = eos_model_and_tables(seed=40)
    alpha = 3.0
    named = sir_output_distribution(model, alpha, 3, "temperature").probabilities
    dense = log_proposal_joint(model, alpha, "temperature")
    per_step = list(proposal_log_conditionals(model, alpha, "temperature"))
    for form in (dense, per_step, tuple(per_step)):
        np.testing.assert_allclose(sir_output_distribution(model, alpha, 3, form).probabilities, named, atol=1e-13)
    # a dense proposal with mass on non-states (a token after EOS) is read as the law of its completions
    spread = np.exp(dense).copy()
    spread[0, 2, 2] *= 0.5
    spread[0, 2, 0] += spread[0, 2, 2]
    with np.errstate(divide="ignore"):
        log_spread = np.log(spread)
    np.testing.assert_allclose(sir_output_distribution(model, alpha, 3, log_spread).probabilities, named, atol=1e-13)
    # junk rows after EOS in per-step tables are ignored (the proposal is made absorbing)
    junk = [np.array(t) for t in per_step]
    junk[2][:, 2, :] = np.log([0.2, 0.3, 0.5])
    np.testing.assert_allclose(sir_output_distribution(model, alpha, 3, junk).probabilities, named, atol=1e-13)
    optimal = list(proposal_log_conditionals(model, alpha, "optimal"))
    np.testing.assert_allclose(
        sir_output_distribution(model, alpha, 3, optimal).probabilities, exact.power_joint(model, alpha), atol=1e-10
    )


@pytest.mark.parametrize("weighted", [False, True])
def test_sir_sample_with_truncated_proposal_matches_exact_law(weighted):
    # n = 20 000 outputs, 3 particles, EOS model (15 completions); Pearson chi-square, p > 1e-3.  llm's sampler has
    # no truncated proposal, so the draws are the vectorised law-estimator's (exact.power_smc without resampling)
    model, _, _ = eos_model_and_tables(seed=50)
    proposal = truncated_proposal(model, 2.0, top_p=0.8)
    weight = "temperature" if weighted else None
    law = sir_output_distribution(model, 2.0, 3, proposal, weight_proposal=weight).probabilities
    rng = np.random.default_rng(50)
    runs = power_smc(model, 2.0, 3, 20_000, rng, ess_threshold=0.0, proposal=proposal, weight_proposal=weight)
    assert chi_square_pvalue(one_output_per_run(runs, rng), law) > 1e-3


def test_power_smc_under_eos_never_resamples_once_every_particle_has_finished():
    # V = 2, EOS = 1, T = 3: π(0) = π(EOS) = 1/2; π(0 | 0) = 0.4, π(EOS | 0) = 0.6; the third step is uniform.
    # Base proposal, α = 3: a particle's weight after two steps is π(path)^2: EOS 1/4, (0, EOS) 0.09, (0, 0) 0.04
    # (a finished particle gains 0).  Two particles, threshold 0.9: never at step 1 (equal weights), never after
    # the last step; after step 2 the ESS fraction is 0.656 for {EOS, (0,0)}, 0.871 for {(0,EOS), (0,0)},
    # 0.82 for {EOS, (0,EOS)} -- but there both particles have finished, and llm (decoding stopped) does not
    # resample.  So P(one resampling) = 2(0.5)(0.2) + 2(0.3)(0.2) = 0.32 (it would be 0.62 with resampling).
    p = np.zeros((2, 2, 2))
    p[1, 1, 1] = 0.5
    p[0, 1, 1] = 0.5 * 0.6
    p[0, 0, :] = 0.5 * 0.4 * 0.5
    model = exact.TabularAR.from_joint(p, eos_token_id=1)
    R = 20_000
    runs = power_smc(model, 3.0, 2, R, np.random.default_rng(60), ess_threshold=0.9, proposal="base")
    assert runs.n_resampling.max() == 1
    assert abs(runs.n_resampling.mean() - 0.32) < 5 * math.sqrt(0.32 * 0.68 / R)  # k = 5 standard errors
    # finished particles need no forward step: without resampling the cost is Σ_i |y^i|
    sis = power_smc(model, 3.0, 4, 2_000, np.random.default_rng(61), ess_threshold=0.0)
    assert sis.token_evaluations == int(exact.completion_lengths(sis.particles.reshape(-1, 3), 1).sum())


@pytest.mark.parametrize("proposal", ["temperature", "truncated"])
def test_power_smc_evidence_is_unbiased_on_eos_model(proposal):
    # E[Ẑ] = Σ_{y ∈ supp q} π(y)^α: Z_α for a covering proposal, less for a top-k proposal
    model, tables, logp = eos_model_and_tables(seed=70, concentration=2.0)
    alpha, R = 2.0, 40_000
    q = "temperature" if proposal == "temperature" else truncated_proposal(model, alpha, top_k=2)
    runs = power_smc(model, alpha, 3, R, np.random.default_rng(71), ess_threshold=1.0, proposal=q)
    assert runs.n_resampling.mean() > 0.25  # the resampling path is exercised
    covered = np.isfinite(log_proposal_joint(model, alpha, q))
    target = np.where(covered, model.joint() ** alpha, 0.0)
    ratio = np.exp(runs.log_evidence) / target.sum()
    assert abs(ratio.mean() - 1) < 5 * ratio.std() / np.sqrt(R)  # R = 40 000, k = 5 standard errors
    if proposal == "temperature":
        assert target.sum() == pytest.approx(np.exp(exact.log_partition(model, alpha)), rel=1e-12)
    else:
        assert target.sum() < 0.99 * np.exp(exact.log_partition(model, alpha))


def test_power_smc_optimal_proposal_outputs_pi_alpha():
    model, _, _ = eos_model_and_tables(seed=80)
    dist = exact.power_smc_output_distribution(model, 2.0, 3, 20_000, np.random.default_rng(80), 0.5, False, "optimal")
    target = exact.power_joint(model, 2.0)
    # R = 20 000 runs of 3 particles, k = 5 standard errors per cell; cells below 1e-4 may see no hit (se = 0)
    assert np.all(np.abs(dist.probabilities - target) <= 5 * dist.standard_errors + 1e-4)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m: truncated_proposal(m, 2.0, top_k=0), "top_k"),
        (lambda m: truncated_proposal(m, 2.0, top_k=True), "top_k"),
        (lambda m: truncated_proposal(m, 2.0, top_k=1.5), "top_k"),
        (lambda m: truncated_proposal(m, 2.0, top_p=0.0), "top_p"),
        (lambda m: truncated_proposal(m, 2.0, top_p=1.5), "top_p"),
        (lambda m: truncated_proposal(m, 2.0, top_p=True), "top_p"),
        (lambda m: truncated_proposal(m, 0.0), "beta"),
        (lambda m: sir_output_distribution(m, 2.0, 2, "greedy"), "unknown proposal"),
        (lambda m: sir_output_distribution(m, 2.0, 2, np.zeros((3, 3))), "shape"),
        (lambda m: sir_output_distribution(m, 2.0, 2, np.zeros((3, 3, 3))), "sum to 1"),
        (lambda m: sir_output_distribution(m, 2.0, 2, np.full((3, 3, 3), np.nan)), "NaN"),
        (lambda m: sir_output_distribution(m, 2.0, 2, [np.log(np.full(3, 1 / 3))]), "need T = 3"),
        (lambda m: sir_output_distribution(m, 2.0, 2, [np.zeros(3), np.zeros((3, 3)), np.zeros((3, 3, 3))]), "sums to"),
        (lambda m: sir_output_distribution(m, 2.0, 2, [np.zeros(2)] * 3), "shape"),
        (lambda m: sir_output_distribution(m, 2.0, 2, {"a": 1}), "proposal must be"),
        (lambda m: sir_output_distribution(m, 2.0, 2, "base", weight_proposal=truncated_proposal(m, 1.0, top_k=1)), "weight proposal is 0"),
    ],
)
def test_bad_proposals_are_clear_value_errors(call, message):
    model, _, _ = eos_model_and_tables(seed=90)
    with pytest.raises(ValueError, match=message):
        call(model)


def test_proposal_sampling_impossible_sequences_is_refused():
    p = np.zeros((2, 2))
    p[0, 0], p[1, 1] = 0.5, 0.5
    model = exact.TabularAR.from_joint(p)
    with pytest.raises(ValueError, match="undefined"):
        sir_output_distribution(model, 2.0, 2, np.log(np.full((2, 2), 0.25)))


def test_truncation_boundaries_pin_the_definitions():
    # top-p keeps v iff the mass ranked before v is < top_p: at exactly 0.5 only the first token stays
    log_p = np.log(np.array([[0.5, 0.3, 0.2], [0.2, 0.3, 0.5]]))
    kept = np.isfinite(exact.truncate_log_probs(log_p, top_p=0.5))
    np.testing.assert_array_equal(kept, [[True, False, False], [False, False, True]])
    np.testing.assert_array_equal(np.isfinite(exact.truncate_log_probs(log_p, top_p=0.51)), [[1, 1, 0], [0, 1, 1]])
    # top-k keeps ties with the k-th largest probability; k ≥ V and top_p = 1 keep everything
    ties = np.log(np.array([0.4, 0.3, 0.3]))
    np.testing.assert_allclose(exact.truncate_log_probs(ties, top_k=2), ties, atol=1e-15)
    np.testing.assert_allclose(np.exp(exact.truncate_log_probs(ties, top_k=1)), [1.0, 0.0, 0.0])
    np.testing.assert_allclose(exact.truncate_log_probs(log_p, top_k=5, top_p=1.0), log_p, atol=1e-15)
    assert np.all(exact.truncate_log_probs(np.full((2, 3), -np.inf), top_k=1, top_p=0.5) == -np.inf)


# -- SIS's ESS, Power-SMC's argument pass-through, the temperature sampler's fields -----------------


@pytest.mark.parametrize("seed, sizes, alpha", [(0, (3, 2, 3), 7.0), (0, (2, 2), 7.0), (1, (3, 2, 3), 2.0), (4, (4, 3), 0.5)])
def test_sis_ess_fraction_is_at_most_one_and_defaults_to_the_base_proposal(seed, sizes, alpha):
    # ESS/N = E_q[w]² / E_q[w²] ≤ 1 (Cauchy-Schwarz), = 1 for q = π_α; these cases round above 1 unclipped
    model = exact.TabularAR.random(sizes, seed=seed)
    assert 1.0 - 1e-12 <= sis_ess_fraction(model, alpha, "optimal") <= 1.0
    for proposal in ("base", "temperature"):
        assert 0.0 < sis_ess_fraction(model, alpha, proposal) <= 1.0
    assert sis_ess_fraction(model, alpha) == sis_ess_fraction(model, alpha, "base")


@pytest.mark.parametrize("seed", [40, 41])
def test_sis_ess_fraction_on_eos_model_and_truncated_proposal_matches_completions(seed):
    # ESS/N = (Σ_{q>0} γ)² / Σ_{q>0} γ²/q over the completions q can propose (γ = π^α); the dense
    # table of an EOS model holds padded sequences of probability 0 under π and every proposal
    model, tables, logp = eos_model_and_tables(seed=seed)
    alpha = 2.0
    gamma = {y: math.exp(alpha * logp[y]) for y in logp}
    for proposal, (beta, top_k) in {"base": (1.0, None), "temperature": (alpha, None),
                                    "top-2": (alpha, 2)}.items():
        q = {y: bf_proposal(tables, y, beta, top_k) for y in logp}
        support = [y for y in logp if q[y] > 0]
        want = math.fsum(gamma[y] for y in support) ** 2 / math.fsum(gamma[y] ** 2 / q[y] for y in support)
        form = truncated_proposal(model, beta, top_k=top_k) if top_k else proposal
        assert sis_ess_fraction(model, alpha, form) == pytest.approx(want, rel=1e-12), proposal


def test_power_smc_output_distribution_passes_every_argument_on():
    # same seed, same draws: the defaults are power_smc's (ess_threshold 0.5, no ramp, temperature proposal),
    # and ramp / weight_proposal given explicitly reach power_smc
    model = exact.TabularAR.random((3, 2, 3), seed=3)
    sizes = model.vocab_sizes
    default = exact.samplers.power_smc_output_distribution(model, 3.0, 4, 30, np.random.default_rng(8))
    want = smc_output_distribution(power_smc(model, 3.0, 4, 30, np.random.default_rng(8), 0.5, False, "temperature"), sizes)
    np.testing.assert_array_equal(default.probabilities, want.probabilities)
    np.testing.assert_array_equal(default.standard_errors, want.standard_errors)
    args = dict(ess_threshold=1.0, ramp=True, proposal="base", weight_proposal="temperature")
    got = exact.samplers.power_smc_output_distribution(model, 3.0, 4, 30, np.random.default_rng(8), **args)
    want = smc_output_distribution(power_smc(model, 3.0, 4, 30, np.random.default_rng(8), **args), sizes)
    np.testing.assert_array_equal(got.probabilities, want.probabilities)
    for changed in (dict(args, ramp=False), dict(args, weight_proposal=None)):  # both matter here
        other = exact.samplers.power_smc_output_distribution(model, 3.0, 4, 30, np.random.default_rng(8), **changed)
        assert not np.array_equal(got.probabilities, other.probabilities)


def test_temperature_output_distribution_is_exact_with_cost_t():
    model, tables, logp = eos_model_and_tables(seed=42)
    dist = temperature_output_distribution(model, 2.0)
    assert dist.exact is True and dist.expected_cost == model.horizon and type(dist.expected_cost) is float
    assert dist.standard_errors.shape == model.vocab_sizes and not dist.standard_errors.any()
    for y in logp:
        assert dist.probabilities[bf.padded(y, model.horizon, 2)] == pytest.approx(bf_proposal(tables, y, 2.0), abs=1e-14)


RNG = np.random.default_rng


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m: power_smc(m, 2.0, 0, 5, RNG(0)), r"^n_particles must be an integer >= 1, got 0$"),
        (lambda m: power_smc(m, 2.0, 4, 0, RNG(0)), r"^n_runs must be an integer >= 1, got 0$"),
        (lambda m: power_smc(m, 2.0, 4, 5, RNG(0), ess_threshold=1.5), r"^ess_threshold must lie in \[0, 1\], got 1.5$"),
        (lambda m: power_smc(m, 2.0, 4, 5, RNG(0), ess_threshold=-0.1), r"^ess_threshold must lie in \[0, 1\]"),
        (lambda m: power_smc(m, 2.0, 4, 5, None), r"^pass a numpy.random.Generator"),
        (lambda m: power_smc(m, 0.0, 4, 5, RNG(0)), r"^alpha must be > 0, got 0.0$"),
        (lambda m: sir_output_distribution(m, 2.0, 0), r"^n_particles must be an integer >= 1, got 0$"),
        (lambda m: truncated_proposal(m, 2.0, top_k=0), r"^top_k must be an integer >= 1, got 0$"),
        (lambda m: truncated_proposal(m, 2.0, top_p=1.5), r"^top_p must lie in \(0, 1\], got 1.5$"),
        (lambda m: truncated_proposal(m, 0.0), r"^beta must be > 0, got 0.0$"),
        (lambda m: exact.truncate_log_probs(np.zeros(3), top_k=True), r"^top_k must be an integer >= 1, got True$"),
        (lambda m: exact.truncate_log_probs(np.zeros(3), top_p=0.0), r"^top_p must lie in \(0, 1\], got 0.0$"),
        (lambda m: sir_output_distribution(m, 2.0, 2, "greedy"),
         r"^unknown proposal 'greedy'; use one of \('base', 'temperature', 'optimal'\) or log-prob tables$"),
        (lambda m: sir_output_distribution(m, 2.0, 2, np.zeros((3, 3))),
         r"^a dense proposal table must have shape vocab_sizes = \(3, 3, 3\), got \(3, 3\)$"),
        (lambda m: sir_output_distribution(m, 2.0, 2, np.zeros((3, 3, 3))), r"^the proposal table must sum to 1 within 1e-09; it sums to "),
        (lambda m: sir_output_distribution(m, 2.0, 2, np.full((3, 3, 3), np.inf)),
         r"^the proposal table has NaN or \+inf entries \(log-probabilities: use -inf for zero\)$"),
        (lambda m: sir_output_distribution(m, 2.0, 2, [np.log(np.full(3, 1 / 3))]), r"^per-step proposal tables: need T = 3 tables, got 1$"),
        (lambda m: sir_output_distribution(m, 2.0, 2, [np.zeros(2)] * 3), r"^proposal table 0 must have shape \(3,\), got \(2,\)$"),
        (lambda m: sir_output_distribution(m, 2.0, 2, [np.zeros(3), np.zeros((3, 3)), np.zeros((3, 3, 3))]),
         r"^proposal table 0: the row after prefix \[\] sums to "),
        (lambda m: sir_output_distribution(m, 2.0, 2, [np.full(3, np.nan)] * 3), r"^proposal table 0 has NaN or \+inf entries"),
        (lambda m: sir_output_distribution(m, 2.0, 2, {"a": 1}),
         r"^proposal must be a name in \('base', 'temperature', 'optimal'\), a dense log-prob np.ndarray of shape \(3, 3, 3\) "
         r"or a list of per-step log conditional tables, got dict$"),
        (lambda m: sir_output_distribution(m, 2.0, 2, "base", weight_proposal=truncated_proposal(m, 1.0, top_k=1)),
         r"^the weight proposal is 0 where the proposal samples"),
    ],
)
def test_sampler_errors_name_the_argument_from_the_start(call, message):
    model, _, _ = eos_model_and_tables(seed=90)
    with pytest.raises(ValueError, match=message):
        call(model)


def test_smc_output_distribution_mean_and_standard_errors_by_hand():
    # per-run law f_r(y) = Σ_i W_r^i 1{y_r^i = y}; mean_r f_r and its standard error sd_r(f_r) / √R (ddof 1)
    particles = np.array([[[0, 1], [0, 1], [1, 1]], [[1, 0], [0, 1], [1, 0]], [[1, 1], [0, 2], [1, 1]]])  # (1, 2) never hit
    W = np.array([[0.5, 0.25, 0.25], [0.125, 0.375, 0.5], [0.2, 0.3, 0.5]])
    runs = exact.samplers.SMCRuns(particles, np.log(W), np.zeros(3), np.zeros(3, dtype=np.int64), 18)
    per_run = np.zeros((3, 2, 3))
    for r, i in itertools.product(range(3), range(3)):
        per_run[r][tuple(particles[r, i])] += W[r, i]
    got = smc_output_distribution(runs, (2, 3))
    np.testing.assert_allclose(got.probabilities, per_run.mean(axis=0), atol=1e-15, rtol=0)
    np.testing.assert_allclose(got.standard_errors, per_run.std(axis=0, ddof=1) / math.sqrt(3), atol=1e-15, rtol=0)
    assert got.expected_cost == 6.0 and got.exact is False
    one = smc_output_distribution(runs._replace(particles=particles[:1], log_weights=np.log(W[:1])), (2, 3))
    np.testing.assert_allclose(one.probabilities, per_run[0], atol=1e-15, rtol=0)
    assert one.standard_errors.shape == (2, 3) and np.all(one.standard_errors == np.inf)


# -- mutation-campaign gaps (docs/mutation.md, session 6): resampling counts, tolerances, ties -------


def test_power_smc_resamples_exactly_when_the_ess_fraction_is_strictly_below_the_threshold():
    # the defaults are ess_threshold 0.5, no ramp, the temperature proposal (same seed, bit-identical)
    model = exact.TabularAR.random((3, 2, 3), seed=3)
    default = power_smc(model, 3.0, 4, 6, RNG(8))
    explicit = power_smc(model, 3.0, 4, 6, RNG(8), 0.5, False, "temperature")
    for got, want in zip(default, explicit):
        np.testing.assert_array_equal(got, want)
    # ess_threshold = 1: a run resamples after every step but the last unless all its weights are equal
    # (ESS/N = 1, not < 1); N = 64 particles on V = 3 distinct conditionals never all draw alike here
    runs = power_smc(model, 3.0, 64, 5, RNG(1), ess_threshold=1.0, proposal="base")
    assert runs.n_resampling.dtype == np.int64
    np.testing.assert_array_equal(runs.n_resampling, np.full(5, model.horizon - 1))
    # uniform conditionals, base proposal: all weights are equal, and for N = 4 ESS/N rounds to 1 exactly
    uniform = exact.TabularAR.from_joint(np.full((2, 2, 2), 1 / 8))
    assert exact._numerics.effective_sample_size(np.zeros(4)) == 4.0
    runs = power_smc(uniform, 3.0, 4, 5, RNG(1), ess_threshold=1.0, proposal="base")
    np.testing.assert_array_equal(runs.n_resampling, np.zeros(5, dtype=np.int64))


def test_power_smc_counts_no_evaluation_for_particles_finished_before_resampling():
    # T = 2: step 1 evaluates exactly the particles (after the resampling at step 0) whose first token is
    # not EOS, and those are the final particles' first tokens: evaluations = R·N + #{y_1 ≠ EOS}
    eos = 2
    model = exact.TabularAR.from_conditionals(
        [np.log([0.3, 0.2, 0.5]), np.log([[0.6, 0.1, 0.3], [0.2, 0.7, 0.1], [1 / 3, 1 / 3, 1 / 3]])], eos_token_id=eos)
    runs = power_smc(model, 2.0, 6, 40, RNG(3), ess_threshold=1.0, proposal="base")
    assert runs.n_resampling.sum() > 0 and (runs.particles[:, :, 0] == eos).any()
    assert runs.token_evaluations == 40 * 6 + int((runs.particles[:, :, 0] != eos).sum())


def test_smc_output_distribution_standard_errors_at_two_runs_and_for_equal_runs():
    # R = 2: sd(ddof=1)/√2 = |f_1 - f_2| / 2; runs that agree have standard error 0 (not NaN), although
    # second - mean² rounds below 0 (-7e-18, -1e-16) for W = (0.2, 0.8) over R = 3 runs
    particles = np.array([[[0], [1]], [[1], [1]]])
    W = np.array([[0.25, 0.75], [0.5, 0.5]])
    runs = exact.samplers.SMCRuns(particles, np.log(W), np.zeros(2), np.zeros(2, dtype=np.int64), 4)
    got = smc_output_distribution(runs, (2,))
    np.testing.assert_allclose(got.probabilities, [0.125, 0.875], atol=1e-15, rtol=0)
    np.testing.assert_allclose(got.standard_errors, [0.125, 0.125], atol=1e-15, rtol=0)
    same = np.tile(np.log([0.2, 0.8]), (3, 1))
    runs = exact.samplers.SMCRuns(np.tile([[0], [1]], (3, 1, 1)), same, np.zeros(3), np.zeros(3, dtype=np.int64), 6)
    got = smc_output_distribution(runs, (2,))
    np.testing.assert_array_equal(got.standard_errors, [0.0, 0.0])


def test_proposal_tables_are_read_only_and_absorbing_after_every_eos():
    # every row after EOS is the point mass on EOS, also under prefixes of probability 0 (π(y_1 = EOS) = 0 here)
    eos = 1
    model = exact.TabularAR.from_conditionals(
        [np.array([math.log(0.6), -np.inf, math.log(0.4)]), np.log(np.full((3, 3), 1 / 3)), np.log(np.full((3, 3, 3), 1 / 3))], eos_token_id=eos)
    forms = {name: proposal_log_conditionals(model, 2.0, name) for name in ("base", "temperature", "optimal")}
    forms["top-2"] = truncated_proposal(model, 2.0, top_k=2)
    forms["dense"] = proposal_log_conditionals(model, 2.0, model.log_joint())
    point_mass = np.where(np.arange(3) == eos, 0.0, -np.inf)
    for name, tables in forms.items():
        for t in (1, 2):
            after = np.moveaxis(tables[t], t - 1, 0)[eos]  # rows whose previous token y_t is EOS
            np.testing.assert_array_equal(after, np.broadcast_to(point_mass, after.shape), err_msg=name)
        for table in tables:
            assert not table.flags.writeable, name
            with pytest.raises(ValueError, match="read-only"):
                table[...] = 0.0


def test_proposal_tables_accept_any_real_dtype_and_an_inclusive_tolerance():
    # an object or float32 table gives the tables of its float64 copy; a sum of exactly 1 + PROPOSAL_TOL is accepted
    model = exact.TabularAR.random((3, 2, 3), seed=3)
    dense = model.log_joint()
    steps = list(proposal_log_conditionals(model, 1.0, "base"))
    want = proposal_log_conditionals(model, 1.0, dense)
    for t in range(model.horizon):  # π's own conditionals, prefix by prefix
        for prefix in itertools.product(*[range(v) for v in model.vocab_sizes[:t]]):
            np.testing.assert_allclose(np.exp(want[t][prefix]), model.conditional(prefix), atol=1e-14, rtol=0)
    for form in (dense.astype(object), [table.astype(object) for table in steps]):
        got = proposal_log_conditionals(model, 1.0, form)
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, atol=1e-15, rtol=0)
    one = exact.TabularAR.from_joint(np.array([0.5, 0.5]))
    edge = np.array([math.log1p(exact.samplers.smc.PROPOSAL_TOL), -np.inf])
    assert math.expm1(edge[0]) == exact.samplers.smc.PROPOSAL_TOL
    np.testing.assert_array_equal(proposal_log_conditionals(one, 2.0, edge)[0], [0.0, -np.inf])
    np.testing.assert_array_equal(proposal_log_conditionals(one, 2.0, [edge])[0], edge)


def test_per_step_proposal_error_names_a_deeper_prefix():
    model, _, _ = eos_model_and_tables(seed=90)
    second = np.log(np.full((3, 3), 1 / 3))
    second[1] = 0.0  # the row after prefix [1] sums to 3
    tables = [np.log(np.full(3, 1 / 3)), second, np.log(np.full((3, 3, 3), 1 / 3))]
    with pytest.raises(ValueError, match=r"^proposal table 1: the row after prefix \[1\] sums to 3\.0"):
        sir_output_distribution(model, 2.0, 2, tables)


def test_truncation_keeps_every_token_at_the_no_op_bounds_and_ranks_ties_by_id_in_a_large_vocabulary():
    # top_k = V and top_p = 1 return the normalised row bit for bit (no second renormalisation; a token of
    # probability e^-50 is kept although the mass ranked before it rounds to 1)
    row = np.log([1.0, 1.0, 6.0])  # normalising its normalised log-probs again moves a last bit
    plain = exact.truncate_log_probs(row)
    assert not np.array_equal(exact.log_normalize(plain), plain)
    np.testing.assert_array_equal(exact.truncate_log_probs(row, top_k=3), plain)
    tiny = np.array([0.0, -50.0])
    np.testing.assert_array_equal(exact.truncate_log_probs(tiny, top_p=1.0), exact.truncate_log_probs(tiny))
    # V = 40 with ties (numpy's default sort is not stable from V = 16): against the brute force ranking by id
    # (dyadic masses k/64, and top_p away from every partial sum, so no rounding decides)
    rng = np.random.default_rng(7)
    counts = np.ones((6, 40))
    for row in counts:
        np.add.at(row, rng.integers(0, 40, size=24), 1.0)
    probs = counts / 64.0
    for top_p in (0.1, 0.3, 0.55, 0.8):
        got = np.exp(exact.truncate_log_probs(np.log(probs), top_p=top_p))
        want = [bf_truncate(list(p), top_p=top_p) for p in probs]
        np.testing.assert_allclose(got, want, atol=1e-12, rtol=0)


def test_sir_output_distribution_is_an_exact_normalised_law():
    # the trapezoid rule leaves Σ_y P(y) about 6e-14 above 1 before the final division by the sum
    model = exact.TabularAR.random((3, 2, 3), seed=0)
    dist = sir_output_distribution(model, 2.0, 3)
    assert dist.exact is True
    np.testing.assert_array_equal(dist.standard_errors, np.zeros(model.vocab_sizes))
    assert abs(math.fsum(dist.probabilities.reshape(-1)) - 1.0) <= 1e-14


def test_sir_refuses_proposals_off_the_support_of_pi_with_the_whole_message():
    p = np.zeros((2, 2))
    p[0, 0], p[1, 1] = 0.5, 0.5
    model = exact.TabularAR.from_joint(p)
    message = (r"^the proposal samples sequences with π\(y\) = 0 \(weight 0\): with probability > 0 all N weights vanish "
               r"and SIR's output is undefined; use a proposal within π's support$")
    with pytest.raises(ValueError, match=message):
        sir_output_distribution(model, 2.0, 2, np.log(np.full((2, 2), 0.25)))


@pytest.mark.parametrize("alpha", [300.0, 1000.0, 1e4])
def test_sir_at_a_huge_exponent(alpha):
    # at α = 1000 the weights span e^-1600: the law collapsed onto the best sequence when they were exponentiated
    # brute force over the ordered N = 2 tuples in log space (base proposal: log w = (α - 1) log π):
    # P(out = slot i) = w_i / (w_1 + w_2) = 1 / (1 + exp(lw_other - lw_i)); at α ≥ 300 this is [0.75, 0.12, 0.12, 0.01] to 1e-15
    probs = {(0, 0): 0.5, (0, 1): 0.2, (1, 0): 0.2, (1, 1): 0.1}
    model = exact.TabularAR.from_joint(np.array([[0.5, 0.2], [0.2, 0.1]]))
    lw = {y: (alpha - 1.0) * math.log(v) for y, v in probs.items()}
    want = np.zeros((2, 2))
    for a, b in itertools.product(probs, repeat=2):
        want[a] += probs[a] * probs[b] / (1.0 + math.exp(min(lw[b] - lw[a], 700.0)))  # slot 1 output
        want[b] += probs[a] * probs[b] / (1.0 + math.exp(min(lw[a] - lw[b], 700.0)))  # slot 2 output
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # u·w overflows to inf at α = 1000 by design: silenced, not printed
        got = sir_output_distribution(model, alpha, 2).probabilities
    np.testing.assert_allclose(got, want, atol=1e-10, rtol=0)


def test_boolean_and_string_log_probs_are_refused_not_cast():
    """``True`` is not a log-probability of 1.0 and ``"0.5"`` is not a number: truncation and proposal tables
    refuse them by name (numpy would cast both silently)."""
    model = exact.TabularAR.from_joint(np.array([[0.5, 0.2], [0.2, 0.1]]))
    with pytest.raises(ValueError, match=r"^log_probs must be an array of real numbers"):
        exact.truncate_log_probs(np.array([True, False]), top_k=1)
    with pytest.raises(ValueError, match=r"^log_probs must be an array of real numbers"):
        exact.truncate_log_probs(["0.5", "0.5"])
    with pytest.raises(ValueError, match=r"^the proposal table must be an array of real numbers"):
        sir_output_distribution(model, 2.0, 2, np.zeros((2, 2), dtype=bool))
    with pytest.raises(ValueError, match=r"^proposal table 0 must be an array of real numbers"):
        sir_output_distribution(model, 2.0, 2, [np.array(["-0.7", "-0.7"]), np.log(np.full((2, 2), 0.5))])


@pytest.mark.parametrize("alpha", [2.0, 1000.0])
def test_sir_with_one_particle_outputs_its_proposal(alpha):
    """``N = 1``: the one draw is the output, whatever its weight, so the law is the proposal's (φ^{N-1} = 1)."""
    model = exact.TabularAR.random((3, 2), seed=1)
    np.testing.assert_allclose(sir_output_distribution(model, alpha, 1).probabilities, model.joint(), rtol=0, atol=1e-13)
