"""SIS / SIR / Power-SMC and temperature sampling: exact laws vs brute force, simulation vs exact."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import exact
from exact.samplers import (
    chi_square_pvalue,
    distances_to_power,
    power_smc,
    sir_output_distribution,
    sir_sample,
    sis_ess_fraction,
    smc_output_distribution,
    smc_sample,
    systematic_resampling,
    temperature_output_distribution,
    temperature_sample,
)


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
    # n = 20 000 outputs of 3-particle SIR over 12 sequences; Pearson chi-square
    model = exact.TabularAR.random((3, 2, 2), seed=seed)
    sampled = sir_sample(model, 3.0, 3, 20_000, np.random.default_rng(seed), proposal)
    assert chi_square_pvalue(sampled, sir_output_distribution(model, 3.0, 3, proposal).probabilities) > 0.01


def test_power_smc_without_resampling_is_sir_with_temperature_proposal():
    model = exact.TabularAR.random((3, 2, 2), seed=6)
    runs = power_smc(model, 3.0, 4, 20_000, np.random.default_rng(6), ess_threshold=0.0)
    exact_sir = sir_output_distribution(model, 3.0, 4, "temperature").probabilities
    rb = smc_output_distribution(runs, model.vocab_sizes)
    # R = 20 000 runs; k = 5 standard errors per cell, plus a floor for cells with tiny variance
    assert np.all(np.abs(rb.probabilities - exact_sir) <= 5 * rb.standard_errors + 1e-3)
    assert chi_square_pvalue(smc_sample(runs, np.random.default_rng(7)), exact_sir) > 0.01
    assert runs.token_evaluations == 20_000 * 4 * 3 and np.all(runs.n_resampling == 0)


@pytest.mark.parametrize("ramp, threshold, proposal", [(False, 1.0, "temperature"), (True, 1.0, "temperature"), (False, 1.0, "base")])
def test_power_smc_unnormalised_estimates_are_unbiased(ramp, threshold, proposal):
    # SMC identity: E[Ẑ Σ_i W^i δ(y^i)] = π(y)^α for any N, resampling scheme and exponent ramp.
    model = exact.TabularAR.random((2, 3, 2), seed=8, concentration=3.0)
    alpha, R = 2.0, 40_000
    runs = power_smc(model, alpha, 3, R, np.random.default_rng(9), ess_threshold=threshold, ramp=ramp, proposal=proposal)
    assert runs.n_resampling.mean() > 0.5
    log_z = exact.log_partition(model, alpha)
    ratio = np.exp(runs.log_evidence - log_z)
    assert abs(ratio.mean() - 1) < 5 * ratio.std() / np.sqrt(R)
    R_, N, T = runs.particles.shape
    flat = np.ravel_multi_index(tuple(runs.particles.reshape(-1, T).T), model.vocab_sizes).reshape(R_, N)
    per_run = np.zeros((R, np.prod(model.vocab_sizes)))
    np.add.at(per_run, (np.repeat(np.arange(R), N), flat.reshape(-1)), (ratio[:, None] * np.exp(runs.log_weights)).reshape(-1))
    target = exact.power_joint(model, alpha).reshape(-1)
    se = per_run.std(axis=0) / np.sqrt(R)
    # R = 40 000 runs, k = 5 standard errors per sequence (smallest target mass 4e-4: ~50 hits)
    assert np.all(np.abs(per_run.mean(axis=0) - target) <= 5 * se)


def test_systematic_resampling_edge_cases():
    rng = np.random.default_rng(0)
    anc = systematic_resampling(np.array([[-np.inf, -np.inf, 0.0, -np.inf]]), rng)
    assert np.all(anc == 2)
    W = np.array([[0.1, 0.25, 0.4, 0.25], [0.7, 0.1, 0.1, 0.1]])
    for _ in range(50):
        counts = np.stack([np.bincount(row, minlength=4) for row in systematic_resampling(np.log(W), rng)])
        assert np.all(counts >= np.floor(4 * W)) and np.all(counts <= np.ceil(4 * W))


def test_temperature_sampler_matches_exact():
    model = exact.TabularAR.random((3, 2, 2), seed=10)
    dist = temperature_output_distribution(model, 2.0)
    for y in all_sequences(model):
        assert dist.probabilities[y] == pytest.approx(brute_proposal(model, y, 2.0, "temperature"), abs=1e-14)
    run = temperature_sample(model, 2.0, 20_000, np.random.default_rng(10))
    assert chi_square_pvalue(run.sequences, dist.probabilities) > 0.01 and run.token_evaluations == 60_000


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
