"""Self-reward ``r_self`` (paper Eq. 1, Section 6.1 and Appendix B.1).

``r_self(x, y) = log π(y | x) = Σ_t log π(y_t | x, y_<t)`` summed over completion
tokens only (prompt masked); the experiments report the length-normalised
mean ``(1/|y|) Σ_t log π(y_t | x, y_<t)`` so completions of different lengths
compare.  Both come from one batched scoring pass.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import torch

from .model import LanguageModel

__all__ = ["SelfReward", "self_reward"]


class SelfReward(NamedTuple):
    """``total[i] = Σ_t log π(y_t | x_i, y_<t)``; ``mean[i] = total[i] / |y_i|`` (NaN for an empty completion)."""

    total: torch.Tensor
    mean: torch.Tensor


def self_reward(lm: LanguageModel, prompts: Sequence[Sequence[int]], completions: Sequence[Sequence[int]]) -> SelfReward:
    """Sequence log-likelihood and its length-normalised mean over completion tokens (prompt masked)."""
    scores = lm.score(prompts, completions)
    total = torch.tensor([float(s.sum()) for s in scores], dtype=torch.float64)
    mean = torch.tensor([float(s.mean()) if len(s) else float("nan") for s in scores], dtype=torch.float64)
    return SelfReward(total, mean)
