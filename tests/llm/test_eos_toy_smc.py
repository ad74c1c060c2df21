"""Power-SMC, truncated proposals and ``enumerate_exact`` on EOS toys, through ``llm.ToyModel``.

* ``llm.sample_power_smc`` (particles finishing at different steps, decoding
  stopped once all have finished) against the law of ``exact.power_smc``'s
  vectorised simulation, which follows the same EOS rules: Pearson chi-square
  on the outputs and on the number of resamplings, and the evidence ``Ẑ``
  unbiased for ``Z_α = Σ_y π(y)^α`` over completions;
* ``exact.truncate_log_probs`` against transformers' own top-k / top-p warpers;
* ``llm.enumerate_exact`` on a ``ToyModel`` with EOS: EOS-absorbing, the
  original joint back, restricted token sets against brute force over completions.

Chi-square tests use ``p > 1e-3`` with fixed seeds: for a correct sampler a false
alarm has probability 1e-3 per check (the reference's own Monte Carlo error is
bounded below and adds a negligible amount).
"""

from __future__ import annotations

import itertools
import math
import os

import numpy as np
import pytest
import torch

import bruteforce as bf
from reference_law import pooled_check
import exact
import llm
from exact.samplers import chi_square_pvalue, power_smc, smc_output_distribution

P_MIN = 1e-3
THREADS = int(os.environ.get("LLM_TEST_THREADS", "1"))  # as tests/llm/conftest.py
ALPHA, N_PARTICLES, ESS_THRESHOLD = 2.0, 4, 0.95
#: llm runs (one output each) and exact simulation runs for the reference law.
N_LLM, R_EXACT = 2000, 100_000


@pytest.fixture(scope="module")
def eos_toy():
    """``V = 3`` (EOS = 2), ``T = 4``: 31 completions, mean length 1.9, so particles finish at different steps."""
    return exact.TabularAR.random(3, 4, seed=2, eos_token_id=2, concentration=3.0)


@pytest.fixture(scope="module")
def llm_runs(eos_toy):
    """``N_LLM`` runs of ``llm.sample_power_smc``: (one output per run drawn by final weight, n_resamples, Ẑ)."""
    lm = llm.ToyModel(eos_toy)
    generator = torch.Generator().manual_seed(13)
    outputs, resamples, evidence = [], [], []
    previous = torch.get_num_threads()
    torch.set_num_threads(THREADS)  # a module fixture runs before conftest's per-test thread setting
    try:
        for _ in range(N_LLM):
            out = llm.sample_power_smc(lm, [], N_PARTICLES, ALPHA, generator, ess_threshold=ESS_THRESHOLD)
            pick = int(llm.sample_from_logprobs(out.log_weights[None, :], generator)[0])
            outputs.append(out.tokens[pick])
            resamples.append(out.n_resamples)
            evidence.append(out.log_evidence)
    finally:
        torch.set_num_threads(previous)
    return outputs, np.array(resamples), np.array(evidence)


@pytest.fixture(scope="module")
def exact_runs(eos_toy):
    return power_smc(eos_toy, ALPHA, N_PARTICLES, R_EXACT, np.random.default_rng(14), ess_threshold=ESS_THRESHOLD)


def test_llm_power_smc_matches_exact_smc_law_on_eos_toy(eos_toy, llm_runs, exact_runs):
    """n = 2000 llm outputs vs the Rao-Blackwellised law of R = 100 000 exact runs (31 completions)."""
    outputs, _, _ = llm_runs
    reference = smc_output_distribution(exact_runs, eos_toy.vocab_sizes)
    padded = exact.pad_completions(outputs, eos_toy.horizon, eos_toy.eos_token_id)
    flat = np.ravel_multi_index(tuple(padded.T), eos_toy.vocab_sizes)
    p_value, share = pooled_check(flat, reference.probabilities.ravel(), reference.standard_errors.ravel(), N_LLM)
    assert share < 0.02  # the reference's Monte Carlo error adds < 2% to the statistic's null mean
    assert p_value > P_MIN
    # and the SMC law is close to π_α (Power-SMC with N = 4 is only approximately exact)
    assert exact.samplers.distances_to_power(eos_toy, ALPHA, reference.probabilities).tv < 0.1


def test_llm_and_exact_smc_resample_equally_often(llm_runs, exact_runs):
    """Law of the number of resamplings (decoding stops, and resampling with it, once every particle finished)."""
    _, resamples, _ = llm_runs
    counts = np.bincount(exact_runs.n_resampling, minlength=resamples.max() + 1) / R_EXACT
    se = np.sqrt(counts * (1 - counts) / R_EXACT)
    assert 0.1 < np.mean(resamples > 0) < 0.9  # the resampling path is exercised
    p_value, share = pooled_check(resamples, counts, se, N_LLM, floor=0.0)
    assert share < 0.05 and p_value > P_MIN  # two categories: the inflation is n/R_EXACT = 0.02 of dof 1


def test_llm_smc_evidence_is_unbiased_on_eos_toy(eos_toy, llm_runs):
    """E[Ẑ] = Z_α = Σ_{completions} π(y)^α (brute force), within 4 standard errors over 2000 runs."""
    _, _, log_evidence = llm_runs
    logp = bf.completion_log_probs(lambda u: eos_toy.log_conditional(u), eos_toy.vocab_sizes, 2)
    Z = math.exp(bf.lse([ALPHA * lp for lp in logp.values()]))
    z_hat = np.exp(log_evidence)
    assert abs(z_hat.mean() - Z) < 4 * z_hat.std(ddof=1) / math.sqrt(len(z_hat))


def test_truncation_matches_transformers_warpers():
    """``exact.truncate_log_probs`` keeps the same tokens as transformers' temperature → top-k → top-p warpers."""
    from transformers.generation.logits_process import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

    rng = np.random.default_rng(0)
    logits = rng.normal(scale=2.0, size=(200, 7))
    for beta, top_k, top_p in [(2.0, 3, None), (1.0, None, 0.8), (0.5, 4, 0.6), (3.0, 1, 0.9), (1.0, None, 0.3)]:
        scores = torch.tensor(logits)
        scores = TemperatureLogitsWarper(1.0 / beta)(None, scores)
        if top_k is not None:
            scores = TopKLogitsWarper(top_k)(None, scores)
        if top_p is not None:
            scores = TopPLogitsWarper(top_p)(None, scores)
        want = torch.log_softmax(scores, dim=-1).numpy()
        got = exact.truncate_log_probs(beta * exact.log_normalize(logits), top_k, top_p)
        np.testing.assert_array_equal(np.isfinite(got), np.isfinite(want))
        np.testing.assert_allclose(got[np.isfinite(got)], want[np.isfinite(want)], atol=1e-12)


# -- enumerate_exact with EOS -----------------------------------------------------------------------
def test_enumerate_exact_reproduces_an_eos_toy():
    model = exact.TabularAR.random(3, 3, seed=21, eos_token_id=1)
    lm = llm.ToyModel(model)
    before = lm.counter.snapshot()[1]
    got = llm.enumerate_exact(lm, [], [0, 1, 2], 3)
    assert got.eos_token_id == 1
    np.testing.assert_allclose(got.joint(), model.joint(), atol=1e-14, rtol=0)
    # contexts that contain EOS are never evaluated: Σ_t (|S| - 1)^t = 1 + 2 + 4 forward rows
    assert lm.counter.snapshot()[1] - before == 7
    # a permuted token set: toy token i is allowed[i], EOS moves to index 0
    perm = [1, 2, 0]
    permuted = llm.enumerate_exact(lm, [], perm, 3)
    assert permuted.eos_token_id == 0
    for y in itertools.product(range(3), repeat=3):
        assert permuted.joint()[y] == pytest.approx(model.joint()[tuple(perm[i] for i in y)], abs=1e-14)


def test_enumerate_exact_restricted_tokens_match_brute_force_over_completions():
    model = exact.TabularAR.random(4, 4, seed=22, eos_token_id=3, concentration=2.0)
    lm = llm.ToyModel(model)
    allowed = [3, 0, 2]  # EOS first, token 1 excluded; T = 3 after the one-token prompt [1]
    got = llm.enumerate_exact(lm, [1], allowed, 3)
    assert got.eos_token_id == 0

    def restricted(u):  # π_S(s | x, u) = π(s | x, u) / Σ_{s' ∈ S} π(s' | x, u), along the completion only
        row = model.log_conditional([1] + [allowed[i] for i in u])[allowed]
        return row - bf.lse(row)

    logp = bf.completion_log_probs(restricted, (3, 3, 3), 0)
    total = 0.0
    for y, lp in logp.items():
        index = bf.padded(y, 3, 0)
        assert got.log_prob(np.array(index)) == pytest.approx(lp, abs=1e-12)
        total += got.joint()[index]
    assert total == pytest.approx(1.0, abs=1e-12)
    # without EOS among the allowed ids the toy has fixed length and no EOS
    assert llm.enumerate_exact(lm, [1], [0, 1, 2], 3).eos_token_id is None
