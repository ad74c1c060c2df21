"""``enumerate_exact``: a real LM restricted to a small token set, as an ``exact`` model.

For a prompt ``x``, an allowed token set ``S`` (e.g. the ten digit tokens) and
a horizon ``T``, the toy model is

    π_S(y_t | x, y_<t) = π(y_t | x, y_<t) / Σ_{s ∈ S} π(s | x, y_<t),   y ∈ S^T,

computed with one batched forward pass per level (``|S|^t`` contexts at level
``t``, ``Σ_t |S|^t`` in all: 111 for ten digits and ``T = 3``).  Token ``i`` of
the toy is ``allowed_token_ids[i]``.  The result is an ``exact.TabularAR``, so
``exact`` stays free of torch and every exact quantity can be evaluated on a
real model's distribution.
"""

from __future__ import annotations

import itertools
from typing import Sequence

import torch

import exact

from .model import LanguageModel

__all__ = ["enumerate_exact"]


def enumerate_exact(
    lm: LanguageModel, prompt: Sequence[int], allowed_token_ids: Sequence[int], horizon: int
) -> "exact.TabularAR":
    """The restricted, renormalised model ``π_S`` over ``S^T`` as a dense ``exact.TabularAR``."""
    allowed = [int(i) for i in allowed_token_ids]
    if len(allowed) < 1 or len(set(allowed)) != len(allowed):
        raise ValueError("allowed_token_ids must be a non-empty list of distinct ids")
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    size = len(allowed)
    exact._memory.check_allocation((size,) * horizon, "enumerate_exact joint table")
    prompt = [int(i) for i in prompt]
    index = torch.tensor(allowed)
    conditionals = []
    for t in range(horizon):
        prefixes = list(itertools.product(range(size), repeat=t))
        contexts = [prompt + [allowed[i] for i in prefix] for prefix in prefixes]
        logp = lm.next_token_logprobs(contexts).to(torch.float64)[:, index]  # (|S|^t, |S|)
        restricted = torch.log_softmax(logp, dim=-1).numpy()
        conditionals.append(restricted.reshape((size,) * t + (size,)))
    return exact.TabularAR.from_conditionals(conditionals)
