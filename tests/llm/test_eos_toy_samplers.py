"""Every llm sampler on an EOS toy (``llm.ToyModel`` of an EOS-absorbing exact model) against its exact law.

The toy: ``TabularAR.random(3, 3, seed=13, eos_token_id=2)``, whose completions have
``|y| = 1, 2, 3`` tokens with probabilities 0.53, 0.34, 0.13, so every EOS convention matters: MH's ``m ~ U{1..|y|}`` and Hastings factor ``|y|/|y'|``, chains that finish
in an early block, rollouts and candidates that stop at EOS, the length-normalised BoN reward.
Completions come back trimmed at EOS; ``exact.pad_completions`` pads them (it raises on a
completion that is cut short without EOS or continues after it).  The references are the exact
laws of ``exact.samplers`` (each checked against variable-length brute force in tests/exact).

Every chi-square test is Pearson's (``chi_square_pvalue``, small cells pooled) at level
``P_MIN = 1e-3`` with a fixed seed: a correct sampler fails a given test with probability 1e-3
(the MH-vs-π_α test about 1.14e-3: its 6-step law is 0.007 in TV from π_α, noncentrality 0.15
at n = 600).  Sample sizes are chosen for speed (the ToyModel MH costs ~1 ms per decode request).
"""

import numpy as np
import pytest
import torch

import exact
import llm
from exact.samplers import (
    best_of_n_output_distribution,
    chi_square_pvalue,
    mh_output_distribution,
    scalable_output_distribution,
    temperature_output_distribution,
)

P_MIN = 1e-3
EOS, T = 2, 3


@pytest.fixture(scope="module")
def toy():
    model = exact.TabularAR.random(3, T, seed=13, eos_token_id=EOS)
    lengths = model.completion_lengths(np.moveaxis(np.indices(model.vocab_sizes), 0, -1).reshape(-1, T))
    np.testing.assert_allclose(np.bincount(lengths, model.joint().reshape(-1))[1:], [0.53, 0.34, 0.13], atol=0.01)
    return model


@pytest.fixture(scope="module")
def lm(toy):
    return llm.ToyModel(toy)


def _padded(out) -> np.ndarray:
    return exact.pad_completions(out.tokens, T, EOS)


def _lengths(out) -> np.ndarray:
    return np.array([len(t) for t in out.tokens])


def test_standard_and_temperature_sampling_stop_at_eos(toy, lm):
    """Ancestral sampling matches π (= the padded joint) and temperature τ = 1/2 matches Eq. 5's law; n = 1500."""
    out = llm.sample_standard(lm, [], 1500, torch.Generator().manual_seed(1))
    assert chi_square_pvalue(_padded(out), toy.joint()) > P_MIN
    assert set(_lengths(out)) == {1, 2, 3} and out.required_tokens == _lengths(out).sum()
    out = llm.sample_temperature(lm, [], 1500, 0.5, torch.Generator().manual_seed(2))
    assert chi_square_pvalue(_padded(out), temperature_output_distribution(toy, 2.0).probabilities) > P_MIN


@pytest.mark.parametrize(
    "block, n_mcmc, alpha, proposal_alpha, greedy, seed",
    [
        (3, 2, 2.0, None, False, 3),  # B = T
        (2, 2, 2.0, None, False, 4),  # B does not divide T: blocks end at 2, 3; finished chains skip block 2
        (1, 1, 4.0, 1.0, False, 5),  # one token per block, proposal at temperature 1
        (2, 2, 2.0, None, True, 6),  # Power(∞)
    ],
)
def test_power_mh_matches_its_exact_law(toy, lm, block, n_mcmc, alpha, proposal_alpha, greedy, seed):
    """n = 600 chains against ``exact.mh_output_distribution`` (exact at any N_MCMC); the mean tokens
    sampled per chain within 8 % of the exact expected cost (~4 standard errors)."""
    gen = torch.Generator().manual_seed(seed)
    if greedy:
        out = llm.sample_power_inf(lm, [], 600, alpha, gen, block, n_mcmc, progress=False)
    else:
        out = llm.sample_power_mh(lm, [], 600, alpha, gen, block, n_mcmc, proposal_alpha=proposal_alpha, progress=False)
    law = mh_output_distribution(toy, alpha, block, n_mcmc, proposal_alpha=proposal_alpha, greedy=greedy)
    assert chi_square_pvalue(_padded(out), law.probabilities) > P_MIN
    assert out.required_tokens / 600 == pytest.approx(law.expected_cost, rel=0.08)


def test_power_mh_with_enough_steps_matches_pi_alpha(toy, lm):
    """B = T, 6 MH steps, n = 600, against π_α itself.  Exactly, the 6-step law is within TV 0.01 of
    π_α, while the law without the Hastings factor |y|/|y'| (→ ∝ |y| π^α) is 0.165 away (noncentrality
    81 at n = 600: that bug fails this test with probability 0.9999)."""
    power = exact.power_joint(toy, 2.0)
    assert 0.5 * np.abs(mh_output_distribution(toy, 2.0, T, 6).probabilities - power).sum() < 0.01
    assert 0.5 * np.abs(mh_output_distribution(toy, 2.0, T, 6, hastings=False).probabilities - power).sum() > 0.15
    out = llm.sample_power_mh(lm, [], 600, 2.0, torch.Generator().manual_seed(7), T, 6, progress=False)
    assert chi_square_pvalue(_padded(out), power) > P_MIN


@pytest.mark.parametrize(
    "top_k, n_rollouts, horizon, jackknife, seed",
    [(2, 2, None, False, 8), (3, 2, 1, True, 9)],
)
def test_scalable_matches_its_exact_law(toy, lm, top_k, n_rollouts, horizon, jackknife, seed):
    """n = 800 against ``exact.scalable_output_distribution``: EOS candidates (ζ = 1), rollouts stopping at
    EOS, a truncated rollout horizon; the mean tokens per output within 5 % of the exact cost (> 4 SE)."""
    out = llm.sample_power_scalable(
        lm, [], 800, 2.0, torch.Generator().manual_seed(seed), top_k=top_k, n_rollouts=n_rollouts,
        rollout_horizon=horizon, jackknife=jackknife, progress=False,
    )
    law = scalable_output_distribution(toy, 2.0, top_k, n_rollouts, jackknife, horizon=horizon)
    assert law.exact
    assert chi_square_pvalue(_padded(out), law.probabilities) > P_MIN
    assert out.required_tokens / 800 == pytest.approx(law.expected_cost, rel=0.05)


@pytest.mark.parametrize("n_candidates, temperature, seed", [(4, 1.0, 10), (3, 0.7, 11)])
def test_best_of_n_matches_its_exact_law(toy, lm, n_candidates, temperature, seed):
    """n = 1000 against ``exact.best_of_n_output_distribution`` (mean self-reward over |y| tokens); the
    law that ranks by the *sum* instead is rejected (it favours short completions)."""
    out = llm.sample_best_of_n(lm, [], 1000, n_candidates, torch.Generator().manual_seed(seed), temperature)
    law = best_of_n_output_distribution(toy, n_candidates, temperature)
    assert chi_square_pvalue(_padded(out), law.probabilities) > P_MIN
    summed = best_of_n_output_distribution(toy, n_candidates, temperature, length_normalized=False)
    assert chi_square_pvalue(_padded(out), summed.probabilities) < P_MIN
    assert out.required_tokens / 1000 == pytest.approx(law.expected_cost, rel=0.05)
