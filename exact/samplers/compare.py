"""How far a sampler's output is from ``π_α``: distances and self-reward.

For an output distribution ``P`` over complete sequences (from any
``*_output_distribution``) and the target ``π_α`` (Eq. 4):

* ``TV(P, π_α) = ½ Σ_y |P(y) - π_α(y)|``;
* ``KL(P ‖ π_α) = Σ_y P(y) log(P(y)/π_α(y))`` (finite whenever ``P`` stays in ``π``'s
  support; the reverse KL is infinite for samplers such as Power(∞) that drop mass);
* the self-reward ``E_P[log π(y)]`` (the quantity power sampling raises).

:func:`chi_square_pvalue` (``exact.chi_square_pvalue``, re-exported here)
checks sampled sequences against an exact distribution; it is how a sampling
routine, here or in ``llm``, is validated against its exact counterpart.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._logspace import check_alpha
from .._goodness import chi_square_pvalue
from ..models import AutoregressiveModel
from ..power import log_power_joint


class Distances(NamedTuple):
    """Distances of an output distribution ``P`` to ``π_α`` and its self-reward."""

    tv: float
    """``½ Σ |P - π_α|``."""
    kl: float
    """``KL(P ‖ π_α)`` in nats."""
    self_reward: float
    """``E_P[log π(y)]`` in nats."""


def distances_to_power(model: AutoregressiveModel, alpha: float, probabilities: np.ndarray) -> Distances:
    """TV and ``KL(P ‖ π_α)`` of ``probabilities`` (shape ``vocab_sizes``) to ``π_α``, and ``E_P[log π]``."""
    alpha = check_alpha(alpha)
    P = np.asarray(probabilities, dtype=np.float64)
    if P.shape != tuple(model.vocab_sizes):
        raise ValueError(f"probabilities must have shape {tuple(model.vocab_sizes)}, got {P.shape}")
    if np.any(P < 0) or abs(P.sum() - 1.0) > 1e-8:
        raise ValueError("probabilities must be non-negative and sum to 1")
    log_target = log_power_joint(model, alpha)
    logp = np.asarray(model.log_joint())
    mass = P > 0
    if np.any(~np.isfinite(log_target[mass])):
        kl = np.inf
    else:
        kl = float(np.sum(P[mass] * (np.log(P[mass]) - log_target[mass])))
    tv = 0.5 * float(np.abs(P - np.exp(log_target)).sum())
    reward = float(np.sum(P[mass] * logp[mass]))
    return Distances(tv, max(kl, 0.0), reward)


__all__ = ["Distances", "distances_to_power", "chi_square_pvalue"]
