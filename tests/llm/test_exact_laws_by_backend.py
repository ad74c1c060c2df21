"""Every llm sampler against its exact law under EOS, on every backend: one test body per sampler.

Backends (the ``backend`` fixture):

* ``toy`` -- ``llm.ToyModel`` of ``TabularAR.random(3, 3, seed=13, eos_token_id=2)`` (empty
  prompt; completions have ``|y| = 1, 2, 3`` tokens with probabilities 0.53, 0.34, 0.13);
* ``hf`` -- ``llm.HFModel`` on ``llm.audit.tiny_causal_lm(3, horizon=3, eos_token_id=2, seed=0)``,
  a real transformers Llama (its own forward and KV cache) whose law after the prompt ``(0,)`` is
  enumerated exactly (``|y| = 1, 2, 3`` with probabilities 0.24, 0.12, 0.64).
* ``native`` -- the same toy behind tests/llm/native_engine.py's ``NativeToy``: the engine calls
  (``extend``, ``serve``, ``top_k``, ``score``) implemented natively, with no full-vocabulary row
  (reading one raises), its own token draws and its own request scheduling -- what a serving engine
  offers; it shows the samplers need nothing else;
* ``vllm`` -- ``llm.VLLMModel``: the vLLM engine serving a tiny Llama saved to disk
  (``VLLM_TINY`` in tests/llm/vllm_reference.py: the same construction at hidden size 64, for the
  head sizes vLLM's CPU attention takes), its exact law enumerated by the HF backend on the same
  weights (``|y| = 1, 2, 3`` with probabilities 0.56, 0.33, 0.11); one engine per test session,
  only where vLLM is installed (``make test-vllm``, marker ``vllm``).

Every EOS convention matters on both: MH's ``m ~ U{1..|y|}`` and Hastings factor ``|y|/|y'|``,
chains that finish in an early block, rollouts and candidates that stop at EOS, particles that
finish at different steps, the length-normalised BoN reward.  Completions come back trimmed at
EOS; ``exact.pad_completions`` pads them (it raises on a completion that is cut short without EOS
or continues after it).  The references are the exact laws of ``exact.samplers`` (each checked
against variable-length brute force in tests/exact).

Every chi-square test is Pearson's (``chi_square_pvalue``, small cells pooled) at level
``P_MIN = 1e-3`` with a fixed seed: a correct sampler fails a given test with probability 1e-3
(the MH-vs-π_α test slightly more: its law is within TV 0.01 of π_α, asserted).
"""

from typing import NamedTuple

import numpy as np
import pytest
import torch

import exact
import exact.testing
import llm
from exact.samplers import (
    best_of_n_output_distribution,
    chi_square_pvalue,
    mh_output_distribution,
    power_smc,
    scalable_output_distribution,
    smc_output_distribution,
    temperature_output_distribution,
)
from native_engine import NativeToy
from reference_law import pooled_check

P_MIN = 1e-3
EOS, T = 2, 3


class Backend(NamedTuple):
    exact_model: exact.TabularAR
    """The law of the backend's completions after ``prompt``, EOS-absorbing (``exact.eos``)."""
    lm: llm.LanguageModel
    prompt: list[int]


@pytest.fixture(scope="module", params=["toy", "native", "hf", pytest.param("vllm", marks=pytest.mark.vllm)])
def backend(request) -> Backend:
    if request.param in ("toy", "native"):
        model = exact.TabularAR.random(3, T, seed=13, eos_token_id=EOS)
        return Backend(model, llm.ToyModel(model) if request.param == "toy" else NativeToy(model), [])
    if request.param == "vllm":  # the session's one engine (conftest); skipped where vLLM is not installed
        reference, exact_model, engine = request.getfixturevalue("vllm_tiny")
        return Backend(exact_model, engine, reference.prompt)
    tiny = llm.tiny_causal_lm(vocab_size=3, horizon=T, eos_token_id=EOS, seed=0)
    return Backend(tiny.exact_model, tiny.lm, list(tiny.prompt_ids))


def _padded(out) -> np.ndarray:
    return exact.pad_completions(out.tokens, T, EOS)


def _lengths(out) -> np.ndarray:
    return np.array([len(t) for t in out.tokens])


def test_every_completion_length_has_real_mass(backend):
    model = backend.exact_model
    lengths = model.completion_lengths(np.moveaxis(np.indices(model.vocab_sizes), 0, -1).reshape(-1, T))
    assert np.bincount(lengths, model.joint().reshape(-1))[1:].min() > 0.1


def test_standard_and_temperature_sampling_stop_at_eos(backend):
    """Ancestral sampling matches π (= the padded joint) and temperature τ = 1/2 matches Eq. 5's law; n = 1500."""
    model, lm, prompt = backend
    out = llm.sample_standard(lm, prompt, 1500, torch.Generator().manual_seed(1), max_new_tokens=T)
    assert chi_square_pvalue(_padded(out), model.joint()) > P_MIN
    assert set(_lengths(out)) == {1, 2, 3} and out.required_tokens == len(prompt) + _lengths(out).sum()
    out = llm.sample_temperature(lm, prompt, 1500, 0.5, torch.Generator().manual_seed(2), max_new_tokens=T)
    assert chi_square_pvalue(_padded(out), temperature_output_distribution(model, 2.0).probabilities) > P_MIN


@pytest.mark.parametrize(
    "block, n_mcmc, alpha, proposal_alpha, greedy, seed",
    [
        (3, 2, 2.0, None, False, 3),  # B = T
        (2, 2, 2.0, None, False, 4),  # B does not divide T: blocks end at 2, 3; finished chains skip block 2
        (1, 1, 4.0, 1.0, False, 5),  # one token per block, proposal at temperature 1
        (2, 2, 2.0, None, True, 6),  # Power(∞)
    ],
)
def test_power_mh_matches_its_exact_law(backend, block, n_mcmc, alpha, proposal_alpha, greedy, seed):
    """n = 600 chains against ``exact.mh_output_distribution`` (exact at any N_MCMC); the mean tokens
    sampled per chain within 8 % of the exact expected cost (~4 standard errors)."""
    model, lm, prompt = backend
    gen = torch.Generator().manual_seed(seed)
    if greedy:
        out = llm.sample_power_inf(lm, prompt, 600, alpha, gen, block, n_mcmc, max_new_tokens=T, progress=False)
    else:
        out = llm.sample_power_mh(
            lm, prompt, 600, alpha, gen, block, n_mcmc, max_new_tokens=T, proposal_alpha=proposal_alpha, progress=False
        )
    law = mh_output_distribution(model, alpha, block, n_mcmc, proposal_alpha=proposal_alpha, greedy=greedy)
    assert chi_square_pvalue(_padded(out), law.probabilities) > P_MIN
    assert (out.required_tokens - len(prompt)) / 600 == pytest.approx(law.expected_cost, rel=0.08)


def test_power_mh_with_enough_steps_matches_pi_alpha(backend):
    """B = T, n = 600, against π_α itself, after the fewest steps whose exact law is within TV 0.01 of π_α;
    the law without the Hastings factor |y|/|y'| (→ ∝ |y| π^α) is > 0.1 away on both backends."""
    model, lm, prompt = backend
    power = exact.power_joint(model, 2.0)
    tv = lambda law: 0.5 * np.abs(law - power).sum()  # noqa: E731
    steps = next(k for k in range(1, 13) if tv(mh_output_distribution(model, 2.0, T, k).probabilities) < 0.01)
    assert tv(mh_output_distribution(model, 2.0, T, steps, hastings=False).probabilities) > 0.1
    out = llm.sample_power_mh(lm, prompt, 600, 2.0, torch.Generator().manual_seed(7), T, steps, max_new_tokens=T, progress=False)
    assert chi_square_pvalue(_padded(out), power) > P_MIN


@pytest.mark.parametrize(
    "top_k, n_rollouts, horizon, jackknife, seed",
    [(2, 2, None, False, 8), (3, 2, 1, True, 9)],
)
def test_scalable_matches_its_exact_law(backend, top_k, n_rollouts, horizon, jackknife, seed):
    """n = 400 against ``exact.scalable_output_distribution``: EOS candidates (ζ = 1), rollouts stopping at
    EOS, a truncated rollout horizon; the mean tokens per output within 5 % of the exact cost (> 4 SE)."""
    model, lm, prompt = backend
    out = llm.sample_power_scalable(
        lm, prompt, 400, 2.0, torch.Generator().manual_seed(seed), top_k=top_k, n_rollouts=n_rollouts,
        rollout_horizon=horizon, jackknife=jackknife, max_new_tokens=T, progress=False,
    )
    law = scalable_output_distribution(model, 2.0, top_k, n_rollouts, jackknife, horizon=horizon)
    assert law.exact
    assert chi_square_pvalue(_padded(out), law.probabilities) > P_MIN
    assert (out.required_tokens - len(prompt)) / 400 == pytest.approx(law.expected_cost, rel=0.07)


@pytest.mark.parametrize("n_candidates, temperature, seed", [(4, 1.0, 10), (3, 0.7, 11)])
def test_best_of_n_matches_its_exact_law(backend, n_candidates, temperature, seed):
    """n = 1000 against ``exact.best_of_n_output_distribution`` (mean self-reward over |y| tokens); the
    law that ranks by the *sum* instead is rejected wherever the check can tell them apart (on the toy; on
    the tiny HF model one completion dominates both laws)."""
    model, lm, prompt = backend
    gen = torch.Generator().manual_seed(seed)
    out = llm.sample_best_of_n(lm, prompt, 1000, n_candidates, gen, temperature, max_new_tokens=T)
    law = best_of_n_output_distribution(model, n_candidates, temperature)
    assert chi_square_pvalue(_padded(out), law.probabilities) > P_MIN
    summed = best_of_n_output_distribution(model, n_candidates, temperature, length_normalized=False)
    if exact.testing.check_power(law.probabilities, summed.probabilities, 1000, P_MIN).power > 0.999:
        assert chi_square_pvalue(_padded(out), summed.probabilities) < P_MIN  # where the two rankings differ
    assert (out.required_tokens - len(prompt)) / 1000 == pytest.approx(law.expected_cost, rel=0.05)


def test_power_smc_matches_its_exact_law(backend):
    """400 runs of ``llm.sample_power_smc`` (4 particles, resampling at ESS < 0.95 N), one output per run
    drawn by its final weight, against the Rao-Blackwellised law of 100 000 runs of ``exact.power_smc``
    (same EOS rules); the reference's own Monte Carlo error adds < 2 % to the statistic's null mean."""
    model, lm, prompt = backend
    gen = torch.Generator().manual_seed(12)
    outputs = []
    for _ in range(400):
        out = llm.sample_power_smc(lm, prompt, 4, 2.0, gen, max_new_tokens=T, ess_threshold=0.95)
        outputs.append(out.tokens[int(llm.sample_from_logprobs(out.log_weights[None, :], gen)[0])])
    runs = power_smc(model, 2.0, 4, 100_000, np.random.default_rng(13), ess_threshold=0.95)
    reference = smc_output_distribution(runs, model.vocab_sizes)
    flat = np.ravel_multi_index(tuple(exact.pad_completions(outputs, T, EOS).T), model.vocab_sizes)
    p_value, share = pooled_check(flat, reference.probabilities.ravel(), reference.standard_errors.ravel(), 400)
    assert share < 0.02 and p_value > P_MIN
