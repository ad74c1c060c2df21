"""Power-SMC: sequential Monte Carlo for ``π_α(y | x) ∝ π(y | x)^α`` with the token-level power proposal.

``N`` particles are decoded as one batch from a prompt prefilled once.  At step
``t`` each particle draws ``y_t ~ q_t ∝ π(· | x, y_<t)^β`` (``β = α`` by default,
i.e. temperature ``1/α``) -- one 1-token ``extend`` call at temperature ``1/β``,
which reports ``raw = log π(y_t | ·)`` and ``processed = log q_t(y_t)`` -- and its
log-weight gains

    log w_t = α log π(y_t | x, y_<t) - log q_t(y_t) = α·raw - processed

(for ``β = α`` this is ``log Σ_v π(v | x, y_<t)^α``), so the weights target the
intermediate distributions ``γ_t(y_{1:t}) = π(y_{1:t} | x)^α``.  When the ESS
``(Σ w)² / Σ w²`` drops below ``ess_threshold · N`` (never after the last step) the
particles are resampled systematically (one uniform from ``generator``) and the
KV cache is reordered by ``fork(ancestors)``.  The evidence estimate

    log Ẑ = Σ_{epochs} log((1/N) Σ_i w_i)

is unbiased for ``Z_α = Σ_y π(y | x)^α`` on the natural scale, and
``Ẑ · W_i`` (normalised final weights) is an unbiased estimate of ``π(y_i | x)^α`` per
particle -- the properties the tests check against ``exact``.

EOS: a particle that has drawn EOS is finished and gains log-weight 0 from
then on (its padding has probability 1 under ``π`` and the proposal); once
every particle has finished, decoding stops and no further resampling happens
(``exact.power_smc`` follows the same rule).  The proposal is the full tempered
distribution: a nucleus or top-k truncated proposal makes part of ``π_α``'s
support unreachable, whatever the weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch

from exact import check_alpha

from ..model import LanguageModel, sample_from_logprobs
from .common import Completions, Timer, resolve_max_new_tokens, trim

__all__ = ["SMCCompletions", "SMCDraws", "ess", "sample_power_smc", "systematic_resample"]


@dataclass(frozen=True, kw_only=True)
class SMCCompletions(Completions):
    """One Power-SMC run: its ``N`` weighted particles ``(y_i, W_i)`` (``tokens``, ``logprobs``) and evidence.

    ``log_weights``: final unnormalised log-weights ``(N,)`` (``W = softmax(log_weights)``);
    ``log_evidence``: ``log Ẑ``, with ``Ẑ`` unbiased for ``Z_α = Σ_y π(y | x)^α``;
    ``n_resamples``: resampling events; ``ess``: the ESS after each step, before resampling.
    """

    log_weights: torch.Tensor
    log_evidence: float
    n_resamples: int
    ess: list[float]

    @property
    def weights(self) -> torch.Tensor:
        """Normalised final weights ``W_i``, float64 ``(N,)``."""
        return torch.softmax(self.log_weights.to(torch.float64), 0)

    def pick(self, generator: torch.Generator) -> int:
        """Index ``I`` of one particle with ``P(I = i) = W_i`` (one uniform from ``generator``)."""
        return int(sample_from_logprobs(torch.log_softmax(self.log_weights, 0)[None], generator)[0])


@dataclass(frozen=True, kw_only=True)
class SMCDraws(Completions):
    """``n`` completions, completion ``j`` one particle of the ``j``-th independent Power-SMC run drawn by
    its final weight (:meth:`SMCCompletions.pick`); ``runs`` keeps every run's weighted particles and
    evidence.  The cost fields add up over the runs."""

    runs: tuple[SMCCompletions, ...]

    @property
    def log_evidence(self) -> torch.Tensor:
        """``log Ẑ`` of each run, float64 ``(n,)``."""
        return torch.tensor([run.log_evidence for run in self.runs], dtype=torch.float64)

    @property
    def n_resamples(self) -> list[int]:
        """Resampling events of each run."""
        return [run.n_resamples for run in self.runs]


def ess(log_weights: torch.Tensor) -> float:
    """Effective sample size ``(Σ w)² / Σ w²`` from log-weights (``-inf`` allowed; ``1 ≤ ESS ≤ N``; all ``-inf``: 0)."""
    from exact._numerics import effective_sample_size  # the one ESS (numpy, on a view of the tensor)

    return float(effective_sample_size(log_weights.detach().to("cpu", torch.float64).numpy()))


def systematic_resample(log_weights: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Ancestor indices by systematic resampling: ``u_i = (i + U)/N``, ``a_i = min{j : Σ_{l≤j} W_l > u_i}``."""
    from exact._numerics import systematic_resample as resample  # the one implementation (numpy)

    u = torch.rand((1,), generator=generator, dtype=torch.float64)
    return torch.from_numpy(resample(log_weights.detach().to("cpu", torch.float64).numpy(), u.numpy()[0]))


def sample_power_smc(
    lm: LanguageModel,
    prompt: Sequence[int],
    n_particles: int,
    alpha: float,
    generator: torch.Generator,
    max_new_tokens: int | None = None,
    ess_threshold: float = 0.5,
    proposal_alpha: float | None = None,
    reuse_cache: bool = True,
) -> SMCCompletions:
    """Run Power-SMC once; returns all ``N`` weighted particles and the evidence (:class:`SMCCompletions`).

    ``reuse_cache=False`` is the naive reference for ``bench llm``: the prompt is
    encoded once per particle and, after each resampling, every particle's
    prompt + prefix is re-encoded instead of reordering the cache (same draws, same output).
    """
    check_alpha(alpha)
    if n_particles < 1:
        raise ValueError(f"n_particles must be >= 1, got {n_particles}")
    if not 0.0 <= ess_threshold <= 1.0:
        raise ValueError(f"ess_threshold must lie in [0, 1], got {ess_threshold}")
    beta = alpha if proposal_alpha is None else proposal_alpha
    prompt = [int(i) for i in prompt]
    steps = resolve_max_new_tokens(lm, len(prompt), max_new_tokens)
    eos = lm.eos_token_id
    N = n_particles
    with Timer(lm) as timer:
        if reuse_cache:
            state = lm.start([prompt])
            state.prefill()  # once, then the N particles share the prompt's cache
            state = state.fork([0] * N)
        else:
            state = lm.start([prompt] * N)
        log_w = torch.zeros(N, dtype=torch.float64)
        log_evidence = 0.0
        done = torch.zeros(N, dtype=torch.bool)
        tokens = torch.empty((N, 0), dtype=torch.long)
        raw = torch.empty((N, 0), dtype=torch.float64)
        history, n_resamples, sampled = [], 0, 0
        for t in range(steps):
            if bool(done.all()):
                break
            # one token per particle from q_t ∝ π^β; finished particles decode nothing (raw = processed = 0)
            out = lm.extend(state, 1, generator, 1.0 / beta, finished=done)
            sampled += out.sampled
            raw_t = out.raw[:, 0]
            log_w = log_w + (alpha * raw_t - out.processed[:, 0])
            tokens = torch.cat([tokens, out.tokens], 1)
            raw = torch.cat([raw, raw_t[:, None]], 1)
            done = out.finished
            current = ess(log_w)
            history.append(current)
            last = t == steps - 1 or bool(done.all())
            if not last and current < ess_threshold * N:
                log_evidence += float(torch.logsumexp(log_w, 0)) - math.log(N)
                ancestors = systematic_resample(log_w, generator)
                tokens, raw, done = tokens[ancestors], raw[ancestors], done[ancestors]
                if reuse_cache:
                    state = state.fork(ancestors)  # reorders the KV cache
                else:
                    state = lm.start([prompt + row for row in tokens.tolist()])
                log_w = torch.zeros(N, dtype=torch.float64)
                n_resamples += 1
        log_evidence += float(torch.logsumexp(log_w, 0)) - math.log(N)
    out_tokens, out_logprobs = trim(tokens, raw, eos)
    return SMCCompletions(
        out_tokens, out_logprobs, timer.calls, timer.tokens, len(prompt) + sampled, timer.seconds,
        log_weights=log_w, log_evidence=log_evidence, n_resamples=n_resamples, ess=history,
    )
