"""Algorithm 2 (block MH, Power(∞)): exact output distribution vs an independent brute force and vs simulation."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import exact
from exact.samplers import chi_square_pvalue, mh_block_target, mh_expected_cost, mh_kernel, mh_output_distribution, mh_sample


# -- independent brute-force implementation: explicit loops over states, m and suffixes ----------
def _prefix_prob(model, prefix):
    joint = model.joint()
    return float(joint[tuple(prefix)].sum())


def _proposal_prob(model, prefix, suffix, beta):
    prob, ctx = 1.0, list(prefix)
    for token in suffix:
        if prob == 0.0:
            return 0.0
        p = model.conditional(ctx) ** beta
        prob *= p[token] / p.sum()
        ctx.append(token)
    return prob


def brute_force_mh(model, alpha, block, n_mcmc, beta, greedy=False):
    """Algorithm 2 by explicit enumeration of every (state, m, proposal) triple; dict of sequence -> prob."""
    sizes = model.vocab_sizes
    dist = {(): 1.0}
    for k in range(model.horizon // block):
        L = (k + 1) * block
        new = {}
        for prefix, p in dist.items():
            if p == 0.0:
                continue
            for ext in itertools.product(*[range(v) for v in sizes[k * block : L]]):
                new[prefix + ext] = new.get(prefix + ext, 0.0) + p * _proposal_prob(model, prefix, ext, beta)
        dist = new
        states = list(itertools.product(*[range(v) for v in sizes[:L]]))
        pi = {y: _prefix_prob(model, y) for y in states}
        step = {}
        for y in states:
            if pi[y] == 0:
                continue
            row = {y: 1.0}
            for m in range(1, L + 1):
                for z in itertools.product(*[range(v) for v in sizes[m - 1 : L]]):
                    y2 = y[: m - 1] + z
                    q_fwd = _proposal_prob(model, y[: m - 1], z, beta)
                    if q_fwd == 0:
                        continue
                    if greedy:
                        acc = 1.0 if pi[y2] > pi[y] else 0.0
                    else:
                        q_back = _proposal_prob(model, y[: m - 1], y[m - 1 :], beta)
                        acc = min(1.0, (pi[y2] / pi[y]) ** alpha * q_back / q_fwd)
                    row[y2] = row.get(y2, 0.0) + q_fwd * acc / L
                    row[y] -= q_fwd * acc / L
            step[y] = row
        for _ in range(n_mcmc):
            nxt = {}
            for y, p in dist.items():
                for y2, kk in step.get(y, {y: 1.0}).items():
                    nxt[y2] = nxt.get(y2, 0.0) + p * kk
            dist = nxt
    out = np.zeros(sizes)
    for y, p in dist.items():
        out[y] += p
    return out


@pytest.mark.parametrize(
    "sizes, block, n_mcmc, alpha, beta, greedy, seed",
    [
        ((2, 2, 2, 2), 2, 3, 4.0, None, False, 0),
        ((3, 2, 3), 1, 2, 2.5, None, False, 1),
        ((2, 3, 2), 3, 4, 0.5, 1.0, False, 2),
        ((2, 2, 2, 2), 4, 3, 3.0, 2.0, False, 3),
        ((3, 3), 1, 3, 4.0, None, True, 4),
        ((2, 2, 2, 2), 2, 2, 4.0, None, True, 5),
    ],
)
def test_exact_mh_matches_brute_force(sizes, block, n_mcmc, alpha, beta, greedy, seed):
    model = exact.TabularAR.random(sizes, seed=seed)
    got = mh_output_distribution(model, alpha, block, n_mcmc, proposal_alpha=beta, greedy=greedy)
    want = brute_force_mh(model, alpha, block, n_mcmc, alpha if beta is None else beta, greedy)
    np.testing.assert_allclose(got.probabilities, want, atol=1e-10, rtol=0)
    assert got.exact and got.expected_cost == mh_expected_cost(model.horizon, block, n_mcmc)


def test_exact_mh_with_zero_probability_sequences():
    model = exact.TabularAR.random((3, 3, 2), seed=7, zero_fraction=0.4)
    got = mh_output_distribution(model, 3.0, 1, 3)
    want = brute_force_mh(model, 3.0, 1, 3, 3.0)
    np.testing.assert_allclose(got.probabilities, want, atol=1e-10, rtol=0)
    assert got.probabilities[model.joint() == 0].sum() == 0


@pytest.mark.parametrize("block, greedy, seed", [(2, False, 11), (1, False, 12), (4, False, 13), (2, True, 14)])
def test_mh_simulation_matches_exact(block, greedy, seed):
    # N = 20 000 chains on 2^4 = 16 sequences; the Pearson statistic is chi-square under H0
    model = exact.TabularAR.random(2, 4, seed=seed)
    run = mh_sample(model, 3.0, block, 3, 20_000, np.random.default_rng(seed), greedy=greedy)
    exact_dist = mh_output_distribution(model, 3.0, block, 3, greedy=greedy).probabilities
    assert chi_square_pvalue(run.sequences, exact_dist) > 0.01
    expected_cost = mh_expected_cost(4, block, 3)
    # token cost: L - m + 1 with m uniform; the mean of 20 000 chains lies within ~5 standard errors
    assert abs(run.token_evaluations / 20_000 - expected_cost) < 0.05 * expected_cost


@pytest.mark.parametrize("length, beta, greedy", [(1, None, False), (2, None, False), (3, 1.0, False), (3, 0.3, False)])
def test_kernel_is_stochastic_and_reversible_wrt_block_target(length, beta, greedy):
    model = exact.TabularAR.random(3, 3, seed=length)
    alpha = 2.7
    K = mh_kernel(model, alpha, length, proposal_alpha=beta, greedy=greedy)
    target = mh_block_target(model, alpha, length).reshape(-1)
    assert np.all(K >= -1e-15)
    np.testing.assert_allclose(K.sum(axis=1), 1.0, atol=1e-12)
    flow = target[:, None] * K
    np.testing.assert_allclose(flow, flow.T, atol=1e-13)  # detailed balance
    np.testing.assert_allclose(target @ K, target, atol=1e-13)  # invariance


def test_block_target_is_not_power_prefix_marginal():
    model = exact.TabularAR.random(3, 3, seed=0)
    alpha = 4.0
    block_target = mh_block_target(model, alpha, 1)
    power_marginal = exact.power_joint(model, alpha).sum(axis=(1, 2))
    assert np.abs(block_target - power_marginal).sum() > 1e-3
    np.testing.assert_allclose(mh_block_target(model, alpha, 3), exact.power_joint(model, alpha), atol=1e-14)


@pytest.mark.parametrize("block", [1, 2, 4])
def test_many_steps_converge_to_power_distribution(block):
    model = exact.TabularAR.random(2, 4, seed=21)
    alpha = 3.0
    dist = mh_output_distribution(model, alpha, block, 3000).probabilities
    np.testing.assert_allclose(dist, exact.power_joint(model, alpha), atol=1e-9)


def test_power_infinity_concentrates_on_unimprovable_sequences():
    model = exact.TabularAR.random((2, 3, 2), seed=5)
    logp = model.log_joint()
    sizes = model.vocab_sizes
    # sequences no single-suffix move (any m, any positive-probability suffix) improves
    unimprovable = np.zeros(sizes, dtype=bool)
    for y in itertools.product(*[range(v) for v in sizes]):
        better = any(
            logp[y[: m - 1] + z] > logp[y]
            for m in range(1, len(sizes) + 1)
            for z in itertools.product(*[range(v) for v in sizes[m - 1 :]])
        )
        unimprovable[y] = not better
    masses = [mh_output_distribution(model, 4.0, 1, n, greedy=True).probabilities[unimprovable].sum() for n in (1, 10, 100, 1000)]
    assert all(b >= a - 1e-12 for a, b in zip(masses, masses[1:]))
    assert masses[-1] > 1 - 1e-9


def test_mh_rejects_bad_input():
    model = exact.TabularAR.random(2, 4, seed=0)
    with pytest.raises(ValueError, match="divide"):
        mh_output_distribution(model, 2.0, 3, 1)
    with pytest.raises(ValueError, match="n_mcmc"):
        mh_output_distribution(model, 2.0, 2, -1)
    with pytest.raises(ValueError, match="alpha"):
        mh_output_distribution(model, 0.0, 2, 1)
    with pytest.raises(ValueError, match="Generator"):
        mh_sample(model, 2.0, 2, 1, 10, rng=0)


# -- property tests over random models (exact.testing strategies) ---------------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from exact.testing import strategies as sx  # noqa: E402


@settings(max_examples=15)
@given(
    sx.tabular_models(max_vocab=3, max_horizon=3, zeros=False),
    st.sampled_from([0.5, 2.0, 4.0]),
    st.integers(0, 3),
    st.booleans(),
    st.data(),
)
def test_property_exact_mh_matches_brute_force_on_full_support_models(model, alpha, n_mcmc, greedy, data):
    T = model.horizon
    block = data.draw(st.sampled_from([b for b in range(1, T + 1) if T % b == 0]))
    got = mh_output_distribution(model, alpha, block, n_mcmc, greedy=greedy).probabilities
    np.testing.assert_allclose(got, brute_force_mh(model, alpha, block, n_mcmc, alpha, greedy), atol=1e-10, rtol=0)
    np.testing.assert_allclose(got.sum(), 1.0, atol=1e-12)


@settings(max_examples=30)
@given(sx.tabular_models(max_vocab=4, max_horizon=3), st.sampled_from([0.3, 1.0, 3.0, 20.0]), st.sampled_from([None, 1.0, 0.5]))
def test_property_every_stage_kernel_is_reversible_wrt_its_block_target(model, alpha, beta):
    for length in range(1, model.horizon + 1):
        K = mh_kernel(model, alpha, length, proposal_alpha=beta)
        target = mh_block_target(model, alpha, length).reshape(-1)
        assert np.all(K >= -1e-15)
        np.testing.assert_allclose(K.sum(axis=1), 1.0, atol=1e-12)
        flow = target[:, None] * K
        np.testing.assert_allclose(flow, flow.T, atol=1e-13)


def test_stress_larger_state_space_converges():
    # 3^6 = 729 prefixes at the last stage: a 729 x 729 kernel raised to the 2000th power
    model = exact.TabularAR.random(3, 6, seed=30)
    for block in (2, 3, 6):
        dist = mh_output_distribution(model, 2.0, block, 2000).probabilities
        np.testing.assert_allclose(dist, exact.power_joint(model, 2.0), atol=1e-8)
