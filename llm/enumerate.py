"""``enumerate_exact``: a real LM restricted to a small token set, as an ``exact`` model.

For a prompt ``x``, an allowed token set ``S`` (e.g. the ten digit tokens) and
a horizon ``T``, the toy model is

    π_S(y_t | x, y_<t) = π(y_t | x, y_<t) / Σ_{s ∈ S} π(s | x, y_<t),   y ∈ S^T,

computed with one batched forward pass per level (``|S|^t`` contexts at level
``t``, ``Σ_t |S|^t`` in all: 111 for ten digits and ``T = 3``).  Token ``i`` of
the toy is ``allowed_token_ids[i]``.  The result is an ``exact.TabularAR``, so
``exact`` stays free of torch and every exact quantity can be evaluated on a
real model's distribution.

EOS.  When ``lm.eos_token_id`` is among the allowed ids, the toy is
EOS-absorbing (``exact.eos``): its EOS is the index of ``lm.eos_token_id`` in
``allowed_token_ids``, completions end at their first EOS or at ``T``, and
``π_S(y) = Π_{t ≤ |y|} π_S(y_t | x, y_<t)`` over a completion's own tokens, the
sampler convention of ``llm``.  What the LM says after its EOS is never asked
(contexts that contain EOS are not evaluated; those rows are the point mass on EOS).
"""

from __future__ import annotations

import itertools
from typing import Sequence

import numpy as np
import torch

import exact

from .model import LanguageModel

__all__ = ["enumerate_exact"]


def enumerate_exact(
    lm: LanguageModel, prompt: Sequence[int], allowed_token_ids: Sequence[int], horizon: int
) -> "exact.TabularAR":
    """The restricted, renormalised model ``π_S`` over ``S^T`` as a dense ``exact.TabularAR``.

    EOS-absorbing (``eos_token_id`` = index of ``lm.eos_token_id`` in ``allowed_token_ids``)
    when the LM's EOS is allowed; no EOS otherwise.
    """
    allowed = [int(i) for i in allowed_token_ids]
    if len(allowed) < 1 or len(set(allowed)) != len(allowed):
        raise ValueError("allowed_token_ids must be a non-empty list of distinct ids")
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    size = len(allowed)
    exact._memory.check_allocation((size,) * horizon, "enumerate_exact joint table")
    prompt = [int(i) for i in prompt]
    lm_eos = getattr(lm, "eos_token_id", None)
    eos = allowed.index(int(lm_eos)) if lm_eos is not None and int(lm_eos) in allowed else None
    index = torch.tensor(allowed)
    conditionals = []
    for t in range(horizon):
        prefixes = list(itertools.product(range(size), repeat=t))
        open_rows = [i for i, prefix in enumerate(prefixes) if eos not in prefix]  # finished prefixes: never asked
        restricted = np.full((len(prefixes), size), -np.inf)
        if eos is not None:
            restricted[:, eos] = 0.0  # the point mass on EOS, kept on the finished rows
        if open_rows:
            contexts = [prompt + [allowed[i] for i in prefixes[row]] for row in open_rows]
            logp = lm.next_token_logprobs(contexts).to(torch.float64)[:, index]  # (open rows, |S|)
            restricted[open_rows] = torch.log_softmax(logp, dim=-1).numpy()
        conditionals.append(restricted.reshape((size,) * t + (size,)))
    return exact.TabularAR.from_conditionals(conditionals, eos_token_id=eos)
