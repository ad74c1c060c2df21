"""How far a sampler's output is from ``π_α``: distances, self-reward, and a goodness-of-fit test.

For an output distribution ``P`` over complete sequences (from any
``*_output_distribution``) and the target ``π_α`` (Eq. 4):

* ``TV(P, π_α) = ½ Σ_y |P(y) - π_α(y)|``;
* ``KL(P ‖ π_α) = Σ_y P(y) log(P(y)/π_α(y))`` (finite whenever ``P`` stays in ``π``'s
  support; the reverse KL is infinite for samplers such as Power(∞) that drop mass);
* the self-reward ``E_P[log π(y)]`` (the quantity power sampling raises).

:func:`chi_square_pvalue` checks sampled sequences against an exact distribution
(Pearson, small-expectation bins pooled); it is how a sampling routine,
here or in ``llm``, is validated against its exact counterpart.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from .._logspace import check_alpha
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


def chi_square_pvalue(sequences: np.ndarray, probabilities: np.ndarray, min_expected: float = 5.0) -> float:
    """Pearson chi-square p-value of sampled ``(n, T)`` sequences against exact ``probabilities``.

    Bins with expected count below ``min_expected`` are pooled into one bin (folded into
    the smallest large bin if the pool is still small).  A sampled sequence of exact
    probability 0 gives p = 0.
    """
    from scipy import stats  # deferred: scipy.stats takes ~1 s to import

    seqs = np.asarray(sequences)
    P = np.asarray(probabilities, dtype=np.float64)
    n = len(seqs)
    counts = np.zeros(P.shape)
    np.add.at(counts, tuple(seqs.T), 1)
    counts, expected = counts.reshape(-1), n * P.reshape(-1)
    if counts[expected == 0].sum() > 0:
        return 0.0
    big = expected >= min_expected
    obs = np.append(counts[big], counts[~big].sum())
    exp = np.append(expected[big], expected[~big].sum())
    if exp[-1] < min_expected:
        obs, exp = obs[:-1], exp[:-1]
        j = int(np.argmin(exp))
        obs[j] += counts[~big].sum()
        exp[j] += expected[~big].sum()
    if len(exp) < 2:
        return 1.0
    return float(stats.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue)


__all__ = ["Distances", "distances_to_power", "chi_square_pvalue"]
