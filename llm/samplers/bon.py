"""Self-reward Best-of-N (Section 6.1): keep the candidate with the largest length-normalised self-reward.

For each of ``n`` outputs, ``N`` candidates are sampled (temperature ``τ``,
default 1) -- all ``n·N`` in one batch sharing the prompt prefill -- and the one
with the largest ``r_self(y) = (1/|y|) Σ_t log π(y_t | x, y_<t)`` (prompt masked) is
returned; ties go to the first candidate.  Under EOS ``|y|`` is the
completion's own length (EOS included), so completions of different lengths
are ranked by their mean, not their total, log-probability
(``exact.best_of_n_output_distribution`` is the exact law).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from ..model import LanguageModel
from .basic import sample_temperature
from .common import Completions

__all__ = ["BestOfNCompletions", "sample_best_of_n"]


@dataclass(frozen=True, kw_only=True)
class BestOfNCompletions(Completions):
    """:class:`Completions` of self-reward Best-of-N.

    ``candidate_rewards``: ``(n, N)`` length-normalised self-rewards of every candidate
    (output ``i`` is the argmax of row ``i``); ``n_candidates`` ``N``; ``temperature`` of the candidates.
    """

    candidate_rewards: torch.Tensor
    n_candidates: int
    temperature: float


def sample_best_of_n(
    lm: LanguageModel,
    prompt: Sequence[int],
    n: int,
    n_candidates: int,
    generator: torch.Generator,
    temperature: float = 1.0,
    max_new_tokens: int | None = None,
) -> BestOfNCompletions:
    """``n`` self-reward Best-of-``N`` completions (the ``n·N`` candidates: one ``sample_temperature`` batch)."""
    if n_candidates < 1:
        raise ValueError(f"n_candidates must be >= 1, got {n_candidates}")
    pool = sample_temperature(lm, prompt, n * n_candidates, temperature, generator, max_new_tokens)
    rewards = pool.mean_logprob.view(n, n_candidates)
    best = torch.argmax(torch.nan_to_num(rewards, nan=-torch.inf), dim=1)
    index = [i * n_candidates + int(b) for i, b in enumerate(best)]
    return BestOfNCompletions(
        [pool.tokens[i] for i in index],
        [pool.logprobs[i] for i in index],
        pool.model_calls,
        pool.forward_tokens,
        pool.required_tokens,
        pool.seconds,
        candidate_rewards=rewards,
        n_candidates=n_candidates,
        temperature=float(temperature),
    )
