"""MH power sampling (Algorithm 2) and Power(∞) on ToyModel against exact output distributions.

The reference is a brute-force transition matrix built here from the joint table
with ``itertools.product`` (independent of ``llm``), cross-checked against
``exact.power_joint`` (many MCMC steps, ``B = T``) and, when available, against
``exact.mh_output_distribution``.  Chi-square tests use fixed seeds; N and the
p-value threshold are written next to each test.
"""

import itertools
import math

import numpy as np
import pytest
import torch

import exact
import llm
from exact.samplers import chi_square_pvalue

P_MIN = 1e-3  # a correct sampler fails one fixed-seed test with probability 1e-3


def _prefix_prob(joint: np.ndarray, prefix) -> float:
    return float(joint[tuple(prefix)].sum())


def mh_bruteforce(joint: np.ndarray, alpha, block_size, n_mcmc, proposal_alpha=None, greedy=False, flip_sign=False):
    """Exact output distribution of Algorithm 2, by enumeration (``flip_sign``: the buggy forward/reverse swap)."""
    beta = alpha if proposal_alpha is None else proposal_alpha
    sizes = joint.shape
    T = len(sizes)

    def prop(prefix, suffix):  # p_prop(suffix | prefix), base at temperature 1/beta, token by token
        total, current = 1.0, list(prefix)
        for token in suffix:
            cond = np.array([_prefix_prob(joint, current + [v]) for v in range(sizes[len(current)])])
            cond = cond ** beta
            total *= cond[token] / cond.sum()
            current.append(token)
        return total

    dist = {(): 1.0}
    for k in range(math.ceil(T / block_size)):
        L = min((k + 1) * block_size, T)
        new = {}
        for y, p in dist.items():
            for ext in itertools.product(*[range(v) for v in sizes[len(y) : L]]):
                new[y + ext] = new.get(y + ext, 0.0) + p * prop(y, ext)
        states = list(itertools.product(*[range(v) for v in sizes[:L]]))
        index = {s: i for i, s in enumerate(states)}
        K = np.zeros((len(states), len(states)))
        for y in states:
            for m in range(1, L + 1):
                head = y[: m - 1]
                for z in itertools.product(*[range(v) for v in sizes[m - 1 : L]]):
                    y2 = head + z
                    forward, reverse = prop(head, z), prop(head, y[m - 1 :])
                    if forward == 0:
                        continue
                    if flip_sign:
                        forward, reverse = reverse, forward
                    target = (_prefix_prob(joint, y2) / _prefix_prob(joint, y)) ** alpha
                    A = float(_prefix_prob(joint, y2) > _prefix_prob(joint, y)) if greedy else min(1.0, target * reverse / forward)
                    K[index[y], index[y2]] += prop(head, z) * A / L
                    K[index[y], index[y]] += prop(head, z) * (1 - A) / L
        vec = np.array([new.get(s, 0.0) for s in states]) @ np.linalg.matrix_power(K, n_mcmc)
        dist = {s: vec[index[s]] for s in states}
    return np.array([dist[s] for s in itertools.product(*[range(v) for v in sizes])]).reshape(sizes)


@pytest.fixture(scope="module")
def toy():
    return exact.TabularAR.random(2, 3, seed=3)


def test_bruteforce_kernel_converges_to_power_joint(toy):
    """Independent check of the reference: B = T, 60 MCMC steps -> π_α (exact.power_joint) to 1e-6."""
    dist = mh_bruteforce(toy.joint(), 2.0, block_size=3, n_mcmc=60)
    np.testing.assert_allclose(dist, exact.power_joint(toy, 2.0), atol=1e-6)


@pytest.mark.parametrize("block_size,n_mcmc,greedy", [(1, 2, False), (3, 3, False), (1, 2, True)])
def test_bruteforce_matches_exact_engine(toy, block_size, n_mcmc, greedy):
    """Two routes to the same law: this file's enumeration vs exact.mh_output_distribution (when it exists)."""
    reference = getattr(exact, "mh_output_distribution", None)
    if reference is None:
        import exact.samplers as samplers
        reference = samplers.mh_output_distribution
    ours = mh_bruteforce(toy.joint(), 4.0, block_size, n_mcmc, greedy=greedy)
    theirs = reference(toy, 4.0, block_size, n_mcmc, greedy=greedy).probabilities
    np.testing.assert_allclose(ours, theirs, atol=1e-10)


N_CHAINS = 1500


@pytest.fixture(scope="module")
def chains_b1(toy):
    """N = 1500 chains, α = 4, B = 1, n_mcmc = 2 (shared by two tests)."""
    lm = llm.ToyModel(toy)
    return llm.sample_power_mh(lm, [], N_CHAINS, 4.0, torch.Generator().manual_seed(0), 1, 2, progress=False)


def test_mh_sampler_chi_square_block_1(toy, chains_b1):
    """N = 1500 chains; chi-square p-value > 1e-3 against the exact MH output distribution."""
    expected = mh_bruteforce(toy.joint(), 4.0, 1, 2)
    assert chi_square_pvalue(np.array(chains_b1.tokens), expected) > P_MIN


@pytest.mark.parametrize("alpha,block_size,n_mcmc,greedy,seed", [(2.0, 3, 2, False, 1), (4.0, 1, 1, True, 2)])
def test_mh_sampler_chi_square(toy, alpha, block_size, n_mcmc, greedy, seed):
    """N = 1500 chains; chi-square p-value > 1e-3 against the exact MH / Power(∞) output distribution."""
    lm = llm.ToyModel(toy)
    sampler = llm.sample_power_inf if greedy else llm.sample_power_mh
    out = sampler(lm, [], N_CHAINS, alpha, torch.Generator().manual_seed(seed), block_size, n_mcmc, progress=False)
    expected = mh_bruteforce(toy.joint(), alpha, block_size, n_mcmc, greedy=greedy)
    assert chi_square_pvalue(np.array(out.tokens), expected) > P_MIN


def test_flipped_proposal_sign_is_detected(toy, chains_b1):
    """Regression guard for the public bug (proposal term inverted): the buggy law differs and is rejected.

    The N = 1500 correct chains (α = 4, B = 1, n_mcmc = 2) give p < 1e-3 against the flipped law.
    """
    out = chains_b1
    flipped = mh_bruteforce(toy.joint(), 4.0, 1, 2, flip_sign=True)
    correct = mh_bruteforce(toy.joint(), 4.0, 1, 2)
    assert np.abs(flipped - correct).sum() > 0.05
    assert chi_square_pvalue(np.array(out.tokens), flipped) < P_MIN


def test_mh_from_a_prompt_prefix(toy):
    """A prompt is a prefix: MH from ``y_1 = 1`` is MH on the conditional model ``π(· | y_1 = 1)`` (N = 1000)."""
    lm = llm.ToyModel(toy)
    out = llm.sample_power_mh(lm, [1], 1000, 2.0, torch.Generator().manual_seed(5), 1, 2, progress=False)
    conditional = toy.joint()[1] / toy.joint()[1].sum()
    assert chi_square_pvalue(np.array(out.tokens), mh_bruteforce(conditional, 2.0, 1, 2)) > P_MIN


def test_returned_logprobs_are_base_logprobs(toy):
    lm = llm.ToyModel(toy)
    out = llm.sample_power_mh(lm, [], 20, 4.0, torch.Generator().manual_seed(0), 1, 2, progress=False)
    for tokens, logp in zip(out.tokens, out.logprobs):
        assert len(tokens) == 3
        assert float(logp.sum()) == pytest.approx(float(toy.log_prob(np.array([tokens]))[0]), abs=1e-12)


def test_naive_reencoding_gives_identical_samples(toy):
    lm = llm.ToyModel(toy)
    fast = llm.sample_power_mh(lm, [], 50, 4.0, torch.Generator().manual_seed(7), 1, 3, progress=False)
    slow = llm.sample_power_mh(lm, [], 50, 4.0, torch.Generator().manual_seed(7), 1, 3, reuse_cache=False, progress=False)
    assert fast.tokens == slow.tokens
    assert slow.forward_tokens > fast.forward_tokens


@pytest.mark.parametrize("bad", [dict(alpha=0.0), dict(alpha=float("inf")), dict(block_size=0), dict(n_mcmc=-1)])
def test_bad_arguments_raise(toy, bad):
    args = dict(alpha=4.0, block_size=1, n_mcmc=1) | bad
    with pytest.raises(ValueError):
        llm.sample_power_mh(llm.ToyModel(toy), [], 2, generator=torch.Generator(), **args)
