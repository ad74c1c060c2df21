"""Per-token temperature sampling (Eq. 5): the cheapest and most common stand-in for ``π_α``.

Draws ``y_t ~ π_temp,α(· | y_<t) ∝ π(· | y_<t)^α``; its output law is
``Π_t π_temp,α(y_t | y_<t)``, which differs from ``π_α`` by the missing future
factor ``ζ_t`` of Theorem 3.1 (arXiv 2601.21590).  Cost: ``T`` token evaluations.  The
sampler is ``llm.sample_temperature`` (temperature ``τ = 1/α``).
"""

from __future__ import annotations

import numpy as np

from .._logspace import check_alpha
from .._tables import prefix_marginal_tables, temperature_prefix_tables
from ..models import AutoregressiveModel
from ._common import SamplerDistribution


def temperature_output_distribution(model: AutoregressiveModel, alpha: float) -> SamplerDistribution:
    """Exact ``Π_t π_temp,α(y_t | y_<t)`` over every sequence (Eq. 5)."""
    alpha = check_alpha(alpha)
    log_q = temperature_prefix_tables(prefix_marginal_tables(model), alpha)[-1]
    probs = np.exp(log_q)
    return SamplerDistribution(probs, np.zeros_like(probs), float(model.horizon), True)


__all__ = ["temperature_output_distribution"]
