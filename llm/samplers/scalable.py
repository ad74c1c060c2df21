"""Scalable power sampling: token-level Monte Carlo lookahead with jackknife (seed 002, arXiv 2601.21590).

Theorem 3.1: ``π_α(a | x, y_<t) = p(a)^α ζ_t(a) / Σ_b p(b)^α ζ_t(b)`` with
``p = π(· | x, y_<t)`` and ``ζ_t(a) = E_{z ~ π(· | x, y_<t, a)}[π(z | x, y_<t, a)^{α-1}]``.
At each step the sampler

1. keeps the ``K`` most probable next tokens (ties broken by token id, zero-probability
   tokens never kept);
2. draws ``M`` rollouts ``z`` of ``h_t = min(H, tokens left after a)`` tokens from the
   base model for every candidate -- all ``K·M`` rollouts decoded as **one batch**
   forked from the shared prefix cache -- and sets
   ``ζ̂(a) = (1/M) Σ_r π(z_a^{(r)} | ·)^{α-1}`` (a truncated suffix probability when
   ``H`` is short; rollouts stop at EOS);
3. samples ``y_t`` from ``p̂(a) ∝ p(a)^α ζ̂(a)`` (Lemma 3.2, bias ``O(1/M)``) or, with
   ``jackknife=True``, from ``p̂_JK = M p̂ - ((M-1)/M) Σ_s p̂^{(-s)}`` (Lemma 3.3), where
   ``p̂^{(-s)}`` leaves the ``s``-th rollout out *for all candidates at once*; negative
   entries are clipped at 0 and the vector renormalised.

The ``r``-th rollouts of the ``K`` candidates form the ``r``-th draw, which is
what the exact reference ``exact.scalable_output_distribution`` assumes.

EOS: a completion ends at the first EOS it samples; an EOS candidate has an
empty suffix (``ζ̂ = 1``, no rollout decoded); a rollout stops at EOS and its
weight is the product of its own tokens' probabilities (the sum of log-probs,
never a per-token mean, which targets a different law).
``reuse_cache=False`` is the naive reference that re-encodes prompt + prefix +
candidate for every rollout; it consumes the generator identically.

Engine calls per step (:mod:`llm.model`): one ``top_k`` (the candidates and their raw
``log π``) and one ``extend`` of the ``K·M`` rollouts at temperature 1 -- never a
full-vocabulary row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from tqdm.auto import tqdm

from exact import check_alpha

from ..model import LanguageModel, sample_from_logprobs
from .common import Completions, Timer, resolve_max_new_tokens, rollout_suffix_logprobs

__all__ = ["ScalableCompletions", "jackknife_probabilities", "sample_power_scalable"]


@dataclass(frozen=True, kw_only=True)
class ScalableCompletions(Completions):
    """:class:`Completions` of the scalable power sampler.

    ``sampling_logprobs[i]``: ``log p̂(y_t)`` of each token under the estimated candidate
    distribution it was actually drawn from (plain or jackknife); ``top_k`` ``K``,
    ``n_rollouts`` ``M`` and ``jackknife`` as run.
    """

    sampling_logprobs: list[torch.Tensor]
    top_k: int
    n_rollouts: int
    jackknife: bool


def jackknife_probabilities(log_values: torch.Tensor, jackknife: bool = True) -> torch.Tensor:
    """Candidate probabilities from ``log X[r, k] = α log p(a_k) + (α-1) log π(z_k^{(r)})``, shape ``(M, K)``.

    Plain: ``p̂_k = Σ_r X_rk / Σ_{r,j} X_rj``.  Jackknife: ``M p̂ - ((M-1)/M) Σ_s p̂^{(-s)}``
    with ``p̂^{(-s)}`` computed without row ``s`` (all candidates at once), clipped at 0 and
    renormalised.  ``exact._numerics.jackknife_probabilities`` (float64, log space: when one rollout
    dominates and the others underflow, ``p̂^{(-s)}`` is still the ratio of the others' values; the
    jackknife sums to 1, so clipping never removes every entry).  ``M < 2``: the plain estimate.
    """
    from exact._numerics import jackknife_probabilities as estimate  # the one implementation (numpy, log space)

    log_x = log_values.detach().to("cpu", torch.float64).numpy()
    return torch.from_numpy(estimate(log_x, jackknife=jackknife and log_x.shape[0] >= 2))


def sample_power_scalable(
    lm: LanguageModel,
    prompt: Sequence[int],
    n: int,
    alpha: float,
    generator: torch.Generator,
    top_k: int = 8,
    n_rollouts: int = 8,
    rollout_horizon: int | None = None,
    jackknife: bool = True,
    max_new_tokens: int | None = None,
    reuse_cache: bool = True,
    progress: bool | None = None,
) -> ScalableCompletions:
    """``n`` completions from the scalable power sampler (see the module docstring).

    ``rollout_horizon`` ``H`` (``None``: to ``max_new_tokens``); ``sampling_logprobs``
    holds ``log p̂(y_t)`` of the distribution each token was actually drawn from.
    """
    check_alpha(alpha)
    if top_k < 1 or n_rollouts < 1 or n < 1:
        raise ValueError("top_k, n_rollouts and n must be >= 1")
    if jackknife and n_rollouts < 2:
        raise ValueError("the jackknife needs n_rollouts >= 2")
    prompt = [int(i) for i in prompt]
    steps = resolve_max_new_tokens(lm, len(prompt), max_new_tokens)
    horizon = steps if rollout_horizon is None else int(rollout_horizon)
    if horizon < 0:
        raise ValueError(f"rollout_horizon must be >= 0, got {horizon}")
    eos = lm.eos_token_id
    show = progress if progress is not None else n * steps >= 64
    tokens_out, logprobs_out, sampling_out = [], [], []
    required = len(prompt)
    with Timer(lm) as timer:
        root = lm.start([prompt])
        if reuse_cache:
            root.prefill()
        bar = tqdm(total=n * steps, disable=not show, desc="power-scalable", leave=False)
        for _ in range(n):
            state = root.fork()
            y: list[int] = []
            raw: list[float] = []
            chosen: list[float] = []
            for t in range(steps):
                if not reuse_cache:
                    state = lm.start([prompt + y])
                candidates, candidate_logprobs = lm.top_k(state, top_k)[0]  # (K,), raw log π of each
                required += 1
                K, M = len(candidates), n_rollouts
                h = min(horizon, steps - t - 1)
                log_x = (alpha * candidate_logprobs.to(torch.float64))[None, :].expand(M, K).clone()  # (M, K)
                if h > 0 and K > 1:
                    if reuse_cache:
                        rollouts = state.fork([0] * (K * M))
                    else:
                        rollouts = lm.start([prompt + y] * (K * M))
                    suffix, sampled = rollout_suffix_logprobs(lm, rollouts, candidates, M, h, generator)
                    required += sampled
                    log_x = log_x + (alpha - 1.0) * suffix.T  # (M, K): the r-th rollouts form the r-th draw
                probs = jackknife_probabilities(log_x, jackknife) if K > 1 else torch.ones(1, dtype=torch.float64)
                k = int(sample_from_logprobs(torch.log(probs)[None, :], generator)[0])
                token = int(candidates[k])
                y.append(token)
                raw.append(float(candidate_logprobs[k]))
                chosen.append(float(torch.log(probs[k])))
                state.append(torch.tensor([token]))
                bar.update(1)
                if eos is not None and token == eos:
                    bar.update(steps - t - 1)
                    break
            tokens_out.append(y)
            logprobs_out.append(torch.tensor(raw, dtype=torch.float64))
            sampling_out.append(torch.tensor(chosen, dtype=torch.float64))
        bar.close()
    return ScalableCompletions(
        tokens_out, logprobs_out, timer.calls, timer.tokens, required, timer.seconds,
        sampling_logprobs=sampling_out, top_k=top_k, n_rollouts=n_rollouts, jackknife=jackknife,
    )
