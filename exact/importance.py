"""One-step sequential importance sampling for the power target (Prop. 2, Section 4.2).

At a prefix ``y_<t`` with ``π_α(y_<t) > 0``, extend by ``Y_t ~ q(· | y_<t)``; the
incremental weight (Eq. 9) is

    W_t = π_α(y_<t, Y_t) / (π_α(y_<t) q(Y_t | y_<t)) = f(Y_t) / q(Y_t),

with ``f = π_pow,α(· | y_<t)`` the power next-token conditional.  Under ``q``:
``E[W] = Σ_{q>0} f``, ``E[W²] = Σ f²/q``, ``Var[W] = E[W²] - E[W]²``,
``CV² = Var/E[W]²`` and ``ESS/N = 1/(1 + CV²) = E[W]²/E[W²]`` (Appendix B.2.5).
Prop. 2: ``Var[W] = 0`` iff ``q = f`` (Eq. 10); every other proposal covering the
support has strictly larger variance.  A proposal that misses part of the
support has ``E[W] < 1`` (the weights are then biased), which the mean shows.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

from ._logspace import log_normalize, logsumexp
from ._validate import check_alpha, check_axis, check_count, check_log_probability_vector, check_log_weights, check_model, check_rng, real_array
from ._memory import check_allocation
from ._numerics import effective_sample_size
from .models import AutoregressiveModel
from .power import log_power_conditional, log_temp_conditional

#: Named proposals accepted wherever a proposal is asked for.
PROPOSALS = ("optimal", "base", "temperature", "uniform")


class WeightStats(NamedTuple):
    """Exact moments of the one-step incremental weight ``W_t`` under ``Y_t ~ q`` (Eq. 9)."""

    mean: float
    """``E_q[W_t] = Σ_{v: q(v)>0} f(v)``: 1 when ``q`` covers the support of ``f``."""
    variance: float
    """``Var_q[W_t] = Σ f²/q - E[W]²``."""
    cv2: float
    """``CV²(W_t) = Var[W_t] / E[W_t]²``."""
    ess_fraction: float
    """``ESS/N = 1 / (1 + CV²) = E[W]² / E[W²]``."""


def log_proposal(
    model: AutoregressiveModel, prefix: Sequence[int], alpha: float, proposal: str | np.ndarray
) -> np.ndarray:
    """``log q(· | y_<t)`` for a named proposal or a given probability vector.

    ``"optimal"``: the power conditional (Eq. 10); ``"base"``: ``π(· | y_<t)``;
    ``"temperature"``: ``π_temp,α`` (Eq. 5); ``"uniform"``: ``1/V_t``.
    """
    check_model(model)
    if isinstance(proposal, str):
        if proposal == "optimal":
            return log_power_conditional(model, prefix, alpha)
        if proposal == "base":
            return np.asarray(model.log_conditional(prefix), dtype=np.float64)
        if proposal == "temperature":
            return log_temp_conditional(model, prefix, alpha)
        if proposal == "uniform":
            key = model.check_prefix(prefix)
            size = model.vocab_sizes[len(key)]
            return np.full(size, -np.log(size))
        raise ValueError(f"unknown proposal {proposal!r}; use one of {PROPOSALS} or a probability vector")
    q = real_array(proposal, "proposal vector")
    size = model.vocab_sizes[len(model.check_prefix(prefix))]
    if q.shape != (size,):
        raise ValueError(f"proposal vector must have shape ({size},), got {q.shape}")
    if not np.all(np.isfinite(q)) or np.any(q < 0) or abs(q.sum() - 1.0) > 1e-9:
        raise ValueError("proposal vector must be non-negative, finite and sum to 1 within 1e-9")
    with np.errstate(divide="ignore"):
        return np.log(q)


def weight_stats_from_logs(log_target: np.ndarray, log_q: np.ndarray) -> WeightStats:
    """Exact moments of ``W = f(Y)/q(Y)``, ``Y ~ q``, from ``log f`` and ``log q`` (see module doc).

    Both are log-probability vectors over the same tokens (each summing to 1 within 1e-9).
    """
    log_f = check_log_probability_vector(log_target, "log_target")
    log_q = check_log_probability_vector(log_q, "log_q")
    if log_f.shape != log_q.shape:
        raise ValueError(f"log_target and log_q must have one shape, got {log_f.shape} and {log_q.shape}")
    covered = np.isfinite(log_q) & np.isfinite(log_f)
    log_mean = float(logsumexp(log_f[covered])) if covered.any() else -np.inf
    log_second = float(logsumexp(2 * log_f[covered] - log_q[covered])) if covered.any() else -np.inf
    mean = float(np.exp(log_mean))
    second = float(np.exp(log_second))
    # E[W²]/E[W]² - 1 evaluated as expm1 of a log difference: exact to the last digits near 0
    cv2 = float(np.expm1(log_second - 2 * log_mean)) if covered.any() else np.inf
    cv2 = max(cv2, 0.0)
    variance = cv2 * mean**2 if np.isfinite(cv2) else second
    return WeightStats(mean=mean, variance=variance, cv2=cv2, ess_fraction=1.0 / (1.0 + cv2))


def incremental_weight_stats(
    model: AutoregressiveModel, prefix: Sequence[int], alpha: float, proposal: str | np.ndarray = "optimal"
) -> WeightStats:
    """Mean, variance, CV² and ESS/N of the incremental weight ``W_t`` of Eq. (9) at ``prefix``.

    ``proposal`` is ``"optimal"`` (Eq. 10, variance 0 by Prop. 2), ``"base"``,
    ``"temperature"``, ``"uniform"`` or any probability vector over ``V_t`` tokens.
    """
    check_model(model)
    alpha = check_alpha(alpha)
    log_f = log_power_conditional(model, prefix, alpha)
    return weight_stats_from_logs(log_f, log_proposal(model, prefix, alpha, proposal))


def ess_fraction_from_log_weights(log_weights: np.ndarray, axis: int = -1) -> np.ndarray:
    """Self-normalised ``ESS/N = (Σ w)² / (N Σ w²)`` from log weights (all ``-inf`` -> 0)."""
    lw = check_log_weights(log_weights, "log weights")
    axis = check_axis(axis, lw.ndim)
    ess = effective_sample_size(lw, axis=axis)  # 0 for a slice of zero weights (and an empty one)
    return ess / lw.shape[axis] if lw.shape[axis] else ess


def sampled_ess_fraction(
    model: AutoregressiveModel,
    prefix: Sequence[int],
    alpha: float,
    proposal: str | np.ndarray,
    n_particles: int,
    rng: np.random.Generator,
    n_replicates: int = 1,
) -> np.ndarray:
    """Monte Carlo self-normalised ``ESS/N`` of ``N`` one-step draws ``Y_t ~ q`` (what Figure S.10 plots).

    Returns one value per replicate (shape ``(n_replicates,)``); as ``N`` grows it
    concentrates on :func:`incremental_weight_stats`'s ``ess_fraction``.
    """
    check_model(model)
    alpha = check_alpha(alpha)
    n_particles = check_count(n_particles, "n_particles")
    n_replicates = check_count(n_replicates, "n_replicates")
    rng = check_rng(rng)
    check_allocation((n_replicates, n_particles), "the sampled particles")
    log_f = log_power_conditional(model, prefix, alpha)
    log_q = log_proposal(model, prefix, alpha, proposal)
    q = np.exp(log_normalize(log_q))
    draws = rng.choice(q.size, size=(n_replicates, n_particles), p=q)
    return ess_fraction_from_log_weights(log_f[draws] - log_q[draws])


__all__ = [
    "PROPOSALS",
    "WeightStats",
    "log_proposal",
    "weight_stats_from_logs",
    "incremental_weight_stats",
    "ess_fraction_from_log_weights",
    "sampled_ess_fraction",
]
