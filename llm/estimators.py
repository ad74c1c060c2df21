"""Section 4 quantities at a prefix of a real LM, by Monte Carlo rollouts, with standard errors.

At a prefix ``x`` (prompt + completion so far) let ``p = π(· | x)`` and, for each of
the ``K`` most probable next tokens ``a`` (ties by id), ``q_a = π(· | x, a)`` the
suffix distribution up to the horizon (``max_new_tokens`` tokens in all, or EOS).
With ``M`` rollouts ``z^{(r)} ~ q_a`` (all ``K·M`` decoded as one batch):

* ``ζ̂(a) = (1/M) Σ_r q_a(z^{(r)})^{α-1}``, unbiased for ``ζ(a) = Σ_z q_a(z)^α`` (Prop. 1);
  ``se(ζ̂) = sd_r / √M``;
* suffix Rényi entropy ``Ĥ_α(q_a) = log ζ̂(a) / (1 - α)`` (Prop. 1: ``log Σ q^α = (1-α) H_α(q)``);
* power conditional over the top-K (Eq. 6, Theorem 3.1 of seed 002)
  ``π̂_pow(a) = p(a)^α ζ̂(a) / Σ_b p(b)^α ζ̂(b)``, next to the temperature conditional
  ``π_temp(a) = p(a)^α / Σ_b p(b)^α`` (Eq. 5), both renormalised over the ``K`` candidates
  (with ``K = V`` they are the paper's quantities exactly);
* one-step SIS (Eq. 9, Prop. 2): ``ESS/N = E[W]²/E[W²]`` of ``W = f/q`` with target
  ``f = π̂_pow`` and proposals ``base`` (``p`` renormalised), ``temperature`` and
  ``estimated`` (``π̂_pow`` from an independent second set of rollouts).

Standard errors of derived values use the delta method in ``log ζ̂``
(``var(log ζ̂_a) ≈ se(ζ̂_a)²/ζ̂_a²``, candidates independent), by central
differences.  Log-probs used are raw base log-probs throughout.  The model is asked only for
the top-K next tokens and the rollouts (the engine calls ``top_k`` and ``extend`` of
:mod:`llm.model`).
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple, Sequence

import torch

from exact import check_alpha

from .model import LanguageModel
from .samplers.common import resolve_max_new_tokens, rollout_suffix_logprobs

__all__ = ["PowerConditionalEstimate", "SISEstimate", "estimate_one_step_sis", "estimate_power_conditional"]


class PowerConditionalEstimate(NamedTuple):
    """Estimates over the top-K next tokens (all tensors ``(K,)``, float64)."""

    tokens: torch.Tensor
    """Candidate token ids ``a_1..a_K`` (most probable first)."""
    base: torch.Tensor
    """``π(a | x)`` (not renormalised)."""
    temperature: torch.Tensor
    """``p(a)^α / Σ_{b ≤ K} p(b)^α``."""
    power: torch.Tensor
    """``π̂_pow(a) = p(a)^α ζ̂(a) / Σ_b p(b)^α ζ̂(b)``."""
    power_se: torch.Tensor
    log_zeta: torch.Tensor
    """``log ζ̂(a)``, ``ζ̂(a) = mean_r π(z^{(r)} | x, a)^{α-1}``."""
    log_zeta_se: torch.Tensor
    renyi: torch.Tensor
    """Suffix Rényi entropy ``Ĥ_α(q_a) = log ζ̂(a)/(1-α)`` (NaN at α = 1)."""
    renyi_se: torch.Tensor
    alpha: float
    n_rollouts: int


class SISEstimate(NamedTuple):
    """One-step SIS ``ESS/N`` per proposal (``base``, ``temperature``, ``estimated``) with standard errors."""

    ess_fraction: dict
    ess_fraction_se: dict


def _delta_se(fn: Callable[[torch.Tensor], torch.Tensor], log_zeta: torch.Tensor, log_zeta_se: torch.Tensor) -> torch.Tensor:
    """``sqrt(Σ_b (∂fn/∂log ζ_b)² se_b²)`` by central differences."""
    base = fn(log_zeta)
    var = torch.zeros_like(base)
    for b in range(len(log_zeta)):
        if log_zeta_se[b] == 0 or not torch.isfinite(log_zeta_se[b]):
            continue
        h = 1e-5
        up, down = log_zeta.clone(), log_zeta.clone()
        up[b] += h
        down[b] -= h
        grad = (fn(up) - fn(down)) / (2 * h)
        var += grad**2 * log_zeta_se[b] ** 2
    return var.sqrt()


def _rollout_log_zeta(lm, state, candidates, alpha, M, h, generator):
    """``log ζ̂`` and its delta-method SE for each candidate from ``M`` rollouts of ``h`` tokens."""
    K = len(candidates)
    if h <= 0:
        zeros = torch.zeros(K, dtype=torch.float64)
        return zeros, zeros.clone()
    suffix, _ = rollout_suffix_logprobs(lm, state.fork([0] * (K * M)), candidates, M, h, generator)
    log_w = (alpha - 1.0) * suffix  # log q_a(z)^{α-1}
    log_zeta = torch.logsumexp(log_w, 1) - math.log(M)
    w = torch.exp(log_w - log_zeta[:, None])  # ratios to the mean
    se_rel = w.std(1, unbiased=True) / math.sqrt(M) if M > 1 else torch.full((K,), float("inf"))
    return log_zeta, se_rel.to(torch.float64)


def estimate_power_conditional(
    lm: LanguageModel,
    prompt: Sequence[int],
    alpha: float,
    generator: torch.Generator,
    top_k: int = 8,
    n_rollouts: int = 32,
    max_new_tokens: int | None = None,
) -> PowerConditionalEstimate:
    """Monte Carlo ``ζ̂``, power conditional, temperature conditional and suffix Rényi entropies at ``prompt``."""
    check_alpha(alpha)
    if top_k < 1 or n_rollouts < 2:
        raise ValueError("top_k must be >= 1 and n_rollouts >= 2 (standard errors need two rollouts)")
    prompt = [int(i) for i in prompt]
    steps = resolve_max_new_tokens(lm, len(prompt), max_new_tokens)
    state = lm.start([prompt])
    candidates, candidate_logprobs = lm.top_k(state, top_k)[0]  # engine calls only: top-K, then rollouts
    candidate_logprobs = candidate_logprobs.to(torch.float64)
    log_zeta, log_zeta_se = _rollout_log_zeta(lm, state, candidates, alpha, n_rollouts, steps - 1, generator)
    log_c = alpha * candidate_logprobs
    temperature = torch.softmax(log_c, 0)

    def power(lz):
        return torch.softmax(log_c + lz, 0)

    renyi = log_zeta / (1.0 - alpha) if alpha != 1.0 else torch.full_like(log_zeta, float("nan"))
    renyi_se = log_zeta_se / abs(1.0 - alpha) if alpha != 1.0 else torch.full_like(log_zeta, float("nan"))
    return PowerConditionalEstimate(
        candidates, torch.exp(candidate_logprobs), temperature, power(log_zeta), _delta_se(power, log_zeta, log_zeta_se),
        log_zeta, log_zeta_se, renyi, renyi_se, float(alpha), n_rollouts,
    )


def _ess_fraction(log_f: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """``E_q[W]² / E_q[W²]`` for ``W = f/q`` (Appendix B.2.5): ``(Σ f)² / Σ f²/q``."""
    return torch.exp(2 * torch.logsumexp(log_f, 0) - torch.logsumexp(2 * log_f - log_q, 0))


def estimate_one_step_sis(
    lm: LanguageModel,
    prompt: Sequence[int],
    alpha: float,
    generator: torch.Generator,
    top_k: int = 8,
    n_rollouts: int = 32,
    max_new_tokens: int | None = None,
) -> SISEstimate:
    """``ESS/N`` of the one-step incremental weight for base, temperature and estimated-optimal proposals.

    The target ``f`` is ``π̂_pow`` over the top-K; the ``estimated`` proposal is ``π̂_pow``
    from an independent second set of ``n_rollouts`` rollouts per candidate.
    """
    target = estimate_power_conditional(lm, prompt, alpha, generator, top_k, n_rollouts, max_new_tokens)
    proposal = estimate_power_conditional(lm, prompt, alpha, generator, top_k, n_rollouts, max_new_tokens)
    log_c = alpha * torch.log(target.base)
    log_qs = {
        "base": torch.log_softmax(torch.log(target.base), 0),
        "temperature": torch.log(target.temperature),
        "estimated": torch.log(proposal.power),
    }
    values, ses = {}, {}
    for name, log_q in log_qs.items():
        def fn(lz, log_q=log_q):
            return _ess_fraction(torch.log_softmax(log_c + lz, 0), log_q).reshape(1)

        values[name] = float(fn(target.log_zeta)[0])
        se = _delta_se(fn, target.log_zeta, target.log_zeta_se)[0] ** 2
        if name == "estimated":  # the proposal's own rollouts are independent: add their contribution
            def gn(lz):
                return _ess_fraction(torch.log_softmax(log_c + target.log_zeta, 0), torch.log_softmax(log_c + lz, 0)).reshape(1)

            se = se + _delta_se(gn, proposal.log_zeta, proposal.log_zeta_se)[0] ** 2
        ses[name] = float(se.sqrt())
    return SISEstimate(values, ses)
