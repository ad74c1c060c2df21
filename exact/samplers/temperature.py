"""Per-token temperature sampling (Eq. 5): the cheapest and most common stand-in for ``π_α``.

Draws ``y_t ~ π_temp,α(· | y_<t) ∝ π(· | y_<t)^α``; its output law is
``Π_t π_temp,α(y_t | y_<t)``, which differs from ``π_α`` by the missing future
factor ``ζ_t`` of Theorem 3.1 (seed 002).  Cost: ``T`` token evaluations.
"""

from __future__ import annotations

import numpy as np

from .._logspace import check_alpha, log_normalize
from ..models import AutoregressiveModel
from ._common import SamplerDistribution, SamplerRun, check_count, check_rng, prefix_marginal_tables, sample_rows, scorer, temperature_prefix_tables


def temperature_output_distribution(model: AutoregressiveModel, alpha: float) -> SamplerDistribution:
    """Exact ``Π_t π_temp,α(y_t | y_<t)`` over every sequence (Eq. 5)."""
    alpha = check_alpha(alpha)
    log_q = temperature_prefix_tables(prefix_marginal_tables(model), alpha)[-1]
    probs = np.exp(log_q)
    return SamplerDistribution(probs, np.zeros_like(probs), float(model.horizon), True)


def temperature_sample(model: AutoregressiveModel, alpha: float, n: int, rng: np.random.Generator) -> SamplerRun:
    """``n`` sequences by per-token temperature sampling through ``next_token_logprobs``."""
    alpha = check_alpha(alpha)
    n = check_count(n, "n", minimum=0)
    rng = check_rng(rng)
    lm = scorer(model)
    y = np.zeros((n, model.horizon), dtype=np.int64)
    for t in range(model.horizon):
        y[:, t] = sample_rows(log_normalize(alpha * lm.next_token_logprobs(y[:, :t])), rng)
    return SamplerRun(y, n * model.horizon)


__all__ = ["temperature_output_distribution", "temperature_sample"]
