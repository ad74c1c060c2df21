"""Standard (ancestral) and token-level temperature sampling.

Temperature ``τ`` samples each token from ``π(· | x, y_<t)^{1/τ}`` renormalised
at that step -- the local power transform of the paper's *Temperature*
baseline (``τ = 1/α``), which is *not* the sequence-level power distribution
(Section 4).  The prompt is prefilled once and its cache shared by the ``n``
rows, which decode as one batch; each row stops at its first EOS (included).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from ..model import LanguageModel
from .common import Completions, Timer, resolve_max_new_tokens, trim

__all__ = ["TemperatureCompletions", "sample_standard", "sample_temperature"]


@dataclass(frozen=True, kw_only=True)
class TemperatureCompletions(Completions):
    """:class:`Completions` of standard / temperature sampling.

    ``processed_logprobs[i]``: ``log p_τ(y_t | x, y_<t)`` of each token under the tempered
    distribution it was actually drawn from (equal to ``logprobs[i]`` at ``τ = 1``);
    ``temperature``: ``τ``.
    """

    processed_logprobs: list[torch.Tensor]
    temperature: float


def sample_temperature(
    lm: LanguageModel,
    prompt: Sequence[int],
    n: int,
    temperature: float,
    generator: torch.Generator,
    max_new_tokens: int | None = None,
) -> TemperatureCompletions:
    """``n`` completions, token ``y_t ~ π(· | x, y_<t)^{1/τ} / Σ_v π(v | x, y_<t)^{1/τ}``, decoded as one batch.

    One ``lm.extend`` call on ``n`` forks of the prefilled prompt.  Returned log-probs are the
    raw base ``log π(y_t | x, y_<t)``; ``processed_logprobs`` holds ``log p_τ(y_t | ·)`` of the
    distribution actually sampled.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    prompt = [int(i) for i in prompt]
    steps = resolve_max_new_tokens(lm, len(prompt), max_new_tokens)
    with Timer(lm) as timer:
        state = lm.start([prompt])
        state.prefill()  # once, then the n rows share the prompt's cache
        state = state.fork([0] * n)
        out = lm.extend(state, steps, generator, temperature)
    tokens, logprobs = trim(out.tokens, out.raw, lm.eos_token_id)
    _, processed = trim(out.tokens, out.processed, lm.eos_token_id)
    return TemperatureCompletions(
        tokens, logprobs, timer.calls, timer.tokens, len(prompt) + out.sampled, timer.seconds,
        processed_logprobs=processed, temperature=float(temperature),
    )


def sample_standard(
    lm: LanguageModel, prompt: Sequence[int], n: int, generator: torch.Generator, max_new_tokens: int | None = None
) -> TemperatureCompletions:
    """``n`` ancestral samples ``y ~ π(· | x)`` (temperature 1, no top-k/top-p)."""
    return sample_temperature(lm, prompt, n, 1.0, generator, max_new_tokens)
