"""Standard, temperature, scalable, Power-SMC and Best-of-N on ToyModel against exact truth.

References: ``exact.TabularAR.joint`` and ``exact.temp_conditionals``-free brute force
(temperature law built here from the joint), ``exact.samplers.scalable_output_distribution``
(issue 6's exact law of the scalable sampler), closed-form Best-of-N order statistics,
and the unbiasedness of the SMC evidence.  Chi-square p-value threshold 1e-3, fixed seeds.
"""

import itertools
import math

import numpy as np
import pytest
import torch

import exact
import llm
from exact.samplers import chi_square_pvalue

P_MIN = 1e-3


@pytest.fixture(scope="module")
def toy():
    return exact.TabularAR.random(3, 3, seed=11)


def temperature_law(joint: np.ndarray, tau: float) -> np.ndarray:
    """Π_t p(y_t | y_<t)^{1/τ} / Σ_v p(v | y_<t)^{1/τ}, by enumeration."""
    out = np.zeros(joint.shape)
    for y in itertools.product(*[range(v) for v in joint.shape]):
        prob = 1.0
        for t in range(len(y)):
            cond = np.array([joint[y[:t] + (v,)].sum() for v in range(joint.shape[t])]) ** (1 / tau)
            prob *= cond[y[t]] / cond.sum()
        out[y] = prob
    return out


def test_sample_from_logprobs_never_lands_past_the_last_positive_token(monkeypatch):
    """If ``u·total`` rounds up to the total (``u`` = 1 forced here), the draw is the last token of positive mass."""
    ones = lambda size, generator=None, dtype=None: torch.ones(size, dtype=dtype)  # noqa: E731
    monkeypatch.setattr(torch, "rand", ones)
    logp = torch.log(torch.tensor([[0.3, 0.7, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]], dtype=torch.float64))
    assert llm.sample_from_logprobs(logp, torch.Generator()).tolist() == [1, 3]


def test_sample_from_logprobs_matches_its_distribution():
    """Inverse-CDF draws: chi-square against the probabilities, zero-probability tokens never drawn, rows independent."""
    probs = np.array([[0.0, 0.05, 0.0, 0.25, 0.7, 0.0], [0.5, 0.0, 0.0, 0.0, 0.0, 0.5]])
    generator = torch.Generator().manual_seed(5)
    logp = torch.log(torch.tensor(probs)).expand(20_000, 2, 6).reshape(-1, 6)
    draws = llm.sample_from_logprobs(logp, generator).view(20_000, 2).numpy()
    for row in range(2):
        assert chi_square_pvalue(draws[:, row : row + 1], probs[row]) > P_MIN
    assert np.all(probs[np.arange(2), draws] > 0)
    edge = torch.tensor([[0.0, -math.inf]])  # a point mass on token 0, whatever the uniform
    assert llm.sample_from_logprobs(edge.expand(1000, 2), generator).eq(0).all()


def test_toy_model_interface(toy):
    lm = llm.ToyModel(toy)
    assert isinstance(lm, llm.LanguageModel) and lm.horizon == 3 and lm.eos_token_id is None
    contexts = [[], [1], [2, 0]]
    logp = lm.next_token_logprobs(contexts)
    for row, context in zip(logp, contexts):
        np.testing.assert_allclose(row.numpy(), np.log(toy.joint()[tuple(context)].sum(axis=tuple(range(1, 3 - len(context)))) / toy.joint()[tuple(context)].sum()), atol=1e-12)
    score = lm.score([[], [1]], [[2, 0, 1], [0, 2]])
    assert float(score[0].sum()) == pytest.approx(math.log(toy.joint()[2, 0, 1]), abs=1e-12)
    assert float(score[1].sum()) == pytest.approx(math.log(toy.joint()[1, 0, 2] / toy.joint()[1].sum()), abs=1e-12)
    with pytest.raises(ValueError):
        lm.next_token_logprobs([[0, 0, 0]])
    with pytest.raises(ValueError):
        lm.score([[]], [[3]])


def test_toy_state_fork_truncate(toy):
    lm = llm.ToyModel(toy)
    state = lm.start([[], []])
    state.append(torch.tensor([1, 2]))
    state.append(torch.tensor([0, 0]))
    fork = state.fork([1, 1, 0], length=1)
    assert fork.completion().tolist() == [[2], [2], [1]]
    np.testing.assert_allclose(fork.logprobs().numpy(), lm.next_token_logprobs([[2], [2], [1]]).numpy())
    state.truncate(0)
    assert state.length == 0 and state.completion().shape == (2, 0)


def test_standard_and_temperature_chi_square(toy):
    """N = 3000 each: ancestral sampling ~ π; temperature τ = 1/2 ~ the per-token tempered law."""
    lm = llm.ToyModel(toy)
    out = llm.sample_standard(lm, [], 3000, torch.Generator().manual_seed(0))
    assert chi_square_pvalue(np.array(out.tokens), toy.joint()) > P_MIN
    out = llm.sample_temperature(lm, [], 3000, 0.5, torch.Generator().manual_seed(1))
    assert chi_square_pvalue(np.array(out.tokens), temperature_law(toy.joint(), 0.5)) > P_MIN
    for tokens, raw, proc in zip(out.tokens[:20], out.logprobs, out.processed_logprobs):
        assert float(raw.sum()) == pytest.approx(float(toy.log_prob(np.array([tokens]))[0]), abs=1e-12)
        assert float(proc.sum()) == pytest.approx(math.log(temperature_law(toy.joint(), 0.5)[tuple(tokens)]), abs=1e-10)


@pytest.mark.parametrize("top_k,n_rollouts,jackknife,horizon,seed", [(2, 2, False, None, 0), (3, 2, True, None, 1), (2, 3, True, 1, 2)])
def test_scalable_chi_square(toy, top_k, n_rollouts, jackknife, horizon, seed):
    """N = 1500 outputs vs exact.scalable_output_distribution (issue 6), α = 4."""
    import exact.samplers as samplers
    reference = getattr(exact, "scalable_output_distribution", None) or samplers.scalable_output_distribution
    expected = reference(toy, 4.0, top_k, n_rollouts, jackknife, horizon=horizon, rng=np.random.default_rng(0))
    lm = llm.ToyModel(toy)
    out = llm.sample_power_scalable(lm, [], 1500, 4.0, torch.Generator().manual_seed(seed), top_k, n_rollouts, horizon, jackknife, progress=False)
    assert chi_square_pvalue(np.array(out.tokens), expected.probabilities) > P_MIN


def test_jackknife_probabilities_closed_form():
    """M = 2, K = 2, X = [[1, 3], [2, 2]]: p̂ = (3/8, 5/8); p̂^(-1) = (1/2, 1/2), p̂^(-2) = (1/4, 3/4);
    p̂_JK = 2 p̂ - (1/2)(p̂^(-1) + p̂^(-2)) = (3/8, 5/8)... computed by hand: (0.375, 0.625)."""
    x = torch.log(torch.tensor([[1.0, 3.0], [2.0, 2.0]], dtype=torch.float64))
    np.testing.assert_allclose(llm.jackknife_probabilities(x, False).numpy(), [3 / 8, 5 / 8])
    jk = 2 * np.array([3 / 8, 5 / 8]) - 0.5 * (np.array([0.5, 0.5]) + np.array([0.25, 0.75]))
    np.testing.assert_allclose(llm.jackknife_probabilities(x, True).numpy(), jk / jk.sum())
    # clipping: a negative jackknife entry is set to 0 and the vector renormalised
    x = torch.log(torch.tensor([[1e-6, 1.0], [10.0, 1.0]], dtype=torch.float64))
    p = llm.jackknife_probabilities(x, True)
    assert float(p.min()) >= 0 and float(p.sum()) == pytest.approx(1.0)


@pytest.mark.parametrize("proposal_alpha, ess_threshold", [(1.0, 0.9), (None, 0.9), (1.0, 0.5), (1.0, 0.0)])
def test_smc_evidence_and_weighted_particles_are_unbiased(toy, proposal_alpha, ess_threshold):
    """R = 400 runs, N = 4 particles, α = 3, proposals β = 1 (weights vary, resampling fires) and β = α: E[Ẑ] = Z_α and E[Ẑ Σ_i W_i 1{y_i = y}] = π(y)^α, within 4 SE.

    ``ess_threshold`` 0.5 resamples in some runs only (weights carried over steps elsewhere), 0 never."""
    alpha, R = 3.0, 400
    lm = llm.ToyModel(toy)
    generator = torch.Generator().manual_seed(0)
    target = toy.joint() ** alpha
    Z = target.sum()
    z_hat = np.zeros(R)
    cell = np.zeros((R,) + toy.vocab_sizes)
    resampled = 0
    for r in range(R):
        out = llm.sample_power_smc(lm, [], 4, alpha, generator, ess_threshold=ess_threshold, proposal_alpha=proposal_alpha)
        z_hat[r] = math.exp(out.log_evidence)
        W = torch.softmax(out.log_weights, 0).numpy()
        for tokens, w in zip(out.tokens, W):
            cell[(r,) + tuple(tokens)] += z_hat[r] * w
        resampled += out.n_resamples > 0
    if proposal_alpha == 1.0 and ess_threshold == 0.9:
        assert resampled > R // 4  # the resampling path is exercised
    elif ess_threshold == 0.5:
        assert R // 20 < resampled < R - R // 20, resampled  # partial: some runs resample, others carry weights
    elif ess_threshold == 0.0:
        assert resampled == 0
    assert abs(z_hat.mean() - Z) < 4 * z_hat.std(ddof=1) / math.sqrt(R)
    means, ses = cell.mean(0), cell.std(0, ddof=1) / math.sqrt(R)
    big = target > 0.05 * target.max()
    assert np.all(np.abs(means - target)[big] < 4 * ses[big] + 1e-12)


def test_best_of_n_exact_order_statistics(toy):
    """N = 3 candidates, 3000 outputs: P(best = y) = F(≤ π(y))^N - F(< π(y))^N (fixed length, no ties)."""
    lm = llm.ToyModel(toy)
    out = llm.sample_best_of_n(lm, [], 3000, 3, torch.Generator().manual_seed(4))
    p = toy.joint().ravel()
    cdf_le = np.array([p[p <= v].sum() for v in p])
    cdf_lt = np.array([p[p < v].sum() for v in p])
    expected = (cdf_le**3 - cdf_lt**3).reshape(toy.vocab_sizes)
    assert chi_square_pvalue(np.array(out.tokens), expected) > P_MIN


def test_smc_ess_and_systematic_resampling():
    assert llm.ess(torch.tensor([-math.inf, -math.inf, 0.0, -math.inf])) == pytest.approx(1.0)
    assert llm.ess(torch.zeros(5)) == pytest.approx(5.0)
    idx = llm.systematic_resample(torch.log(torch.tensor([0.5, 0.0, 0.5])), torch.Generator().manual_seed(0))
    assert sorted(idx.tolist()) in ([0, 2, 2], [0, 0, 2])


def test_temper_keeps_zeros_and_normalises():
    logp = torch.log(torch.tensor([0.5, 0.25, 0.25, 0.0], dtype=torch.float64))
    assert torch.equal(llm.temper(logp, 1.0), logp)
    tempered = llm.temper(logp, 0.5)  # p^2 / Σ p^2 = (4, 1, 1, 0) / 6
    np.testing.assert_allclose(torch.exp(tempered).numpy(), [4 / 6, 1 / 6, 1 / 6, 0.0], atol=1e-15)
    with pytest.raises(ValueError):
        llm.temper(logp, 0.0)
