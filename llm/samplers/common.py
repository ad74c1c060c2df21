"""What every sampler shares: the result type, the timer, rollouts, EOS handling.

EOS convention (real models).  A row stops at the first EOS it samples (the
EOS token is part of the completion and its log-prob counts) or after
``max_new_tokens``.  Rows of one batch stay aligned: after a row has stopped
it is fed the EOS id as padding with log-prob 0 and is trimmed on return, so
completions may have unequal lengths.  Every sequence-level quantity (the
target ``π(y | x)^α``, proposal densities, self-reward sums) is a sum over the
completion's own tokens up to and including its EOS; the length-normalised
self-reward divides by that length.  An ``exact`` toy with an absorbing EOS
(``exact.eos``) behaves the same through ``llm.ToyModel``; its dense table holds
each completion padded with EOS, which is how every sampler's exact law is
compared with these variable-length outputs (``exact.pad_completions``).
Toy models without EOS have a fixed length ``T``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import torch

from ..model import DecodeState, Decoded, LanguageModel, Request  # noqa: F401  (Decoded, Request: the engine contract)

__all__ = ["Completions", "Timer", "resolve_max_new_tokens", "rollout_suffix_logprobs", "top_candidates", "trim"]


@dataclass(frozen=True)
class Completions:
    """Sampled completions and the work it took.

    ``tokens[i]``: completion token ids of sample ``i`` (EOS included when reached);
    ``logprobs[i]``: raw base ``log π(y_t | x, y_<t)`` of each of those tokens (float64);
    ``model_calls`` / ``forward_tokens``: forward passes and tokens pushed through the model;
    ``required_tokens``: prompt tokens plus every token the algorithm sampled (what it
    must score at the least); ``seconds``: wall-clock.  Each sampler returns a subclass
    with its own typed diagnostics (:class:`llm.TemperatureCompletions`,
    :class:`llm.MHCompletions`, :class:`llm.ScalableCompletions`,
    :class:`llm.SMCCompletions`, :class:`llm.SMCDraws`, :class:`llm.BestOfNCompletions`).
    """

    tokens: list[list[int]]
    logprobs: list[torch.Tensor]
    model_calls: int = 0
    forward_tokens: int = 0
    required_tokens: int = 0
    seconds: float = 0.0

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def log_likelihood(self) -> torch.Tensor:
        """``Σ_t log π(y_t | x, y_<t)`` per sample (the self-reward sum), float64 ``(n,)``."""
        return torch.tensor([float(lp.sum()) for lp in self.logprobs], dtype=torch.float64)

    @property
    def mean_logprob(self) -> torch.Tensor:
        """Length-normalised self-reward ``(1/|y|) Σ_t log π(y_t | x, y_<t)`` (Sec. 6.1, B.1); NaN for empty."""
        return torch.tensor([float(lp.mean()) if len(lp) else float("nan") for lp in self.logprobs], dtype=torch.float64)

    @property
    def efficiency(self) -> float:
        """Forward-token efficiency ``required_tokens / forward_tokens``."""
        return self.required_tokens / self.forward_tokens if self.forward_tokens else float("nan")


class Timer:
    """Measures wall-clock and the model's counter difference over a ``with`` block."""

    def __init__(self, lm: LanguageModel):
        self.lm = lm

    def __enter__(self) -> "Timer":
        self.start_calls, self.start_tokens = self.lm.counter.snapshot()
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.start
        calls, tokens = self.lm.counter.snapshot()
        self.calls, self.tokens = calls - self.start_calls, tokens - self.start_tokens


def resolve_max_new_tokens(lm: LanguageModel, prompt_length: int, max_new_tokens: int | None) -> int:
    """``max_new_tokens``, or the rest of the toy horizon ``T - len(prompt)`` when ``None``."""
    if lm.horizon is not None:
        remaining = lm.horizon - prompt_length
        if max_new_tokens is None or max_new_tokens > remaining:
            max_new_tokens = remaining
    if max_new_tokens is None:
        raise ValueError("max_new_tokens is required for a model without a fixed horizon")
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    return int(max_new_tokens)


def top_candidates(logprobs: torch.Tensor, k: int) -> torch.Tensor:
    """The ``k`` most probable tokens of a ``(V,)`` log-prob vector (ties by token id; probability 0 never kept)."""
    from exact._numerics import top_candidates as candidates  # the one top-K rule (numpy)

    return torch.from_numpy(candidates(logprobs.detach().to("cpu", torch.float64).numpy(), k))


def rollout_suffix_logprobs(
    lm: LanguageModel, rollouts: DecodeState, candidates: torch.Tensor, n_rollouts: int, horizon: int,
    generator: torch.Generator,
) -> tuple[torch.Tensor, int]:
    """``log π(z_k^{(r)} | ·, a_k)`` for ``n_rollouts`` base-model rollouts of ``horizon`` tokens after each candidate.

    ``rollouts`` holds ``K · M`` copies of the prefix; row ``k·M + r`` gets candidate ``k`` and
    its ``r``-th rollout (a row whose candidate is EOS decodes nothing): one ``lm.extend`` call
    at temperature 1.  Returns the ``(K, M)`` suffix log-probs (Theorem 3.1 of arXiv 2601.21590:
    ``ζ`` averages their ``(α-1)``-th powers) and the tokens sampled.
    """
    eos = lm.eos_token_id
    repeated = candidates.repeat_interleave(n_rollouts)
    rollouts.append(repeated)
    first = repeated == eos if eos is not None else None
    out = lm.extend(rollouts, horizon, generator, 1.0, finished=first)
    return out.raw.sum(1).view(len(candidates), n_rollouts), out.sampled


def trim(tokens: torch.Tensor, logprobs: torch.Tensor, eos_token_id: int | None) -> tuple[list[list[int]], list[torch.Tensor]]:
    """Split ``(n, k)`` rows into per-row lists ending at the first EOS (included)."""
    out_tokens, out_logprobs = [], []
    for row_tokens, row_logp in zip(tokens.tolist(), logprobs):
        end = len(row_tokens)
        if eos_token_id is not None and eos_token_id in row_tokens:
            end = row_tokens.index(eos_token_id) + 1
        out_tokens.append(row_tokens[:end])
        out_logprobs.append(row_logp[:end].clone().to(torch.float64))
    return out_tokens, out_logprobs


