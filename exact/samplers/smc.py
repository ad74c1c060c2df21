"""Importance samplers for ``π_α``: SIS, sampling-importance-resampling (SIR) and Power-SMC.

Target ``γ(y) = π(y)^α`` (unnormalised ``π_α``, Eq. 4; ``Z_α = Σ_y γ(y)``), proposal
``q(y) = Π_t q(y_t | y_<t)``, one of (Section 4.2 / Appendix B.2.5):

* ``"base"``: ``q = π``;  ``"temperature"``: ``q(y_t | y_<t) ∝ π(y_t | y_<t)^α`` (Eq. 5);
* ``"optimal"``: ``q = π_α`` through the power conditionals (Eq. 10; weights constant).

**SIS.** Final weights ``w(y) = γ(y)/q(y)``; the population ``ESS/N = E_q[w]²/E_q[w²]
= Z_α² / Σ_y γ(y)²/q(y)`` (:func:`sis_ess_fraction`).

**SIR with N particles.** Draw ``y_1..y_N ~ q`` i.i.d., output ``y_I`` with
``P(I = i) ∝ w(y_i)``.  Its output distribution is exact for any ``N`` by
``1/x = ∫_0^∞ e^{-sx} ds``:

    ``P(y) = N q(y) w(y) ∫_0^∞ e^{-s w(y)} φ(s)^{N-1} ds``,  ``φ(s) = E_q[e^{-s w}]``

(:func:`sir_output_distribution`; it tends to ``π_α`` as ``N → ∞``, and is ``q`` at ``N = 1``).

**Power-SMC** (Azizi et al. 2026, arXiv 2602.10273).  ``N`` particles grow token by
token with the proposal at temperature ``1/α``; incremental log-weight at step ``t``

    ``log w_t = α_t log π(y_{1:t}) - α_{t-1} log π(y_{1:t-1}) - log q(y_t | y_<t)``

(with a constant exponent ``α_t = α`` this is ``α log π(y_t | y_<t) - log q(y_t | y_<t)``;
``ramp=True`` uses ``α_t = 1 + (α - 1) t/T``); systematic resampling whenever
``ESS/N < ess_threshold`` (never after the last token); the output is one particle drawn
by its final weight.  Its log-evidence ``log Ẑ = Σ_t log Σ_i W_{t-1}^i w_t^i``
(``E[Ẑ] = Z_α``).  Output distribution by Monte Carlo over independent runs, using all
weighted particles of each run (Rao-Blackwellised: ``E[Σ_i W^i δ_{y^i}]`` is exactly
the law of the output), with standard errors across runs.  SIR is the special case
``ess_threshold = 0`` with the base (or any) proposal.

**Cost.** ``N·T`` token evaluations per output for SIR and Power-SMC.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._logspace import check_alpha, log_normalize, logsumexp
from ..importance import ess_fraction_from_log_weights
from ..models import AutoregressiveModel
from ..power import log_power_joint
from ._common import (
    SamplerDistribution,
    check_count,
    laplace_nodes,
    check_rng,
    prefix_marginal_tables,
    sample_rows,
    scorer,
    temperature_prefix_tables,
)

#: Proposal names understood by the importance samplers.
SMC_PROPOSALS = ("base", "temperature", "optimal")


def log_proposal_joint(model: AutoregressiveModel, alpha: float, proposal: str) -> np.ndarray:
    """``log q(y_{1:T})`` over every sequence for a named proposal (shape ``vocab_sizes``)."""
    alpha = check_alpha(alpha)
    if proposal == "optimal":
        return log_power_joint(model, alpha)
    if proposal not in SMC_PROPOSALS:
        raise ValueError(f"unknown proposal {proposal!r}; use one of {SMC_PROPOSALS}")
    marginals = prefix_marginal_tables(model)
    return marginals[-1] if proposal == "base" else temperature_prefix_tables(marginals, alpha)[-1]


def _proposal_beta(alpha: float, proposal: str) -> float:
    if proposal == "base":
        return 1.0
    if proposal == "temperature":
        return alpha
    raise ValueError(f"the sampling routines take proposal 'base' or 'temperature', got {proposal!r}")


def sis_ess_fraction(model: AutoregressiveModel, alpha: float, proposal: str = "base") -> float:
    """Population ``ESS/N = Z_α² / Σ_y π(y)^{2α}/q(y)`` of the final SIS weights (1 for ``"optimal"``)."""
    alpha = check_alpha(alpha)
    log_q = log_proposal_joint(model, alpha, proposal)
    log_gamma = alpha * np.asarray(model.log_joint())
    keep = np.isfinite(log_q) & np.isfinite(log_gamma)
    log_ess = 2 * logsumexp(log_gamma[keep], axis=None) - logsumexp(2 * log_gamma[keep] - log_q[keep], axis=None)
    return float(min(np.exp(log_ess), 1.0))


def sir_output_distribution(
    model: AutoregressiveModel, alpha: float, n_particles: int, proposal: str = "base"
) -> SamplerDistribution:
    """Exact output law of SIR with ``N`` particles (module docstring formula), shape ``vocab_sizes``."""
    alpha = check_alpha(alpha)
    N = check_count(n_particles, "n_particles")
    log_q = np.asarray(log_proposal_joint(model, alpha, proposal)).reshape(-1)
    log_w = alpha * np.asarray(model.log_joint()).reshape(-1) - log_q
    keep = np.isfinite(log_q) & np.isfinite(log_w)
    lq, lw = log_q[keep], log_w[keep]
    lw = lw - logsumexp(lq + lw)  # E_q[w] = 1: the integrand lives on s ~ 1
    w = np.exp(lw)
    # ∫_0^∞ e^{-s w(y)} φ(s)^{N-1} ds by the trapezoid rule in log s (exact.samplers.laplace_nodes);
    # the integrand decays at least like exp(-s (w(y) + (N-1) min w))
    s, weights = laplace_nodes(float(w.min() * N))
    log_phi = logsumexp(lq[None, :] - s[:, None] * w[None, :], axis=1)  # (points,)
    integral = weights @ np.exp(-s[:, None] * w[None, :] + (N - 1) * log_phi[:, None])
    out = np.zeros(log_q.shape)
    out[keep] = N * np.exp(lq + lw) * integral
    out = np.clip(out, 0.0, None)
    out /= out.sum()
    return SamplerDistribution(out.reshape(model.vocab_sizes), np.zeros(model.vocab_sizes), float(N * model.horizon), True)


class SMCRuns(NamedTuple):
    """``R`` independent runs of an ``N``-particle sequential Monte Carlo sampler."""

    particles: np.ndarray
    """``(R, N, T)`` final particles."""
    log_weights: np.ndarray
    """``(R, N)`` final log weights, normalised within each run (``Σ_i W^i = 1``)."""
    log_evidence: np.ndarray
    """``(R,)`` estimates ``log Ẑ`` of ``log Z_α``."""
    n_resampling: np.ndarray
    """``(R,)`` how many times each run resampled."""
    token_evaluations: int
    """Model token evaluations over all runs (``R·N·T``)."""


def systematic_resampling(log_weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Ancestor indices ``(R, N)`` by systematic resampling: one uniform per row, ``(u + i)/N`` positions."""
    W = np.exp(log_normalize(log_weights))
    R, N = W.shape
    cdf = np.cumsum(W, axis=1)
    cdf[:, -1] = 1.0
    positions = (rng.random(R)[:, None] + np.arange(N)[None, :]) / N
    offsets = np.arange(R)[:, None] * 2.0  # search all rows at once in one flat sorted array
    flat = np.searchsorted((cdf + offsets).reshape(-1), (positions + offsets).reshape(-1), side="right")
    return np.minimum(flat.reshape(R, N) - np.arange(R)[:, None] * N, N - 1)


def power_smc(
    model: AutoregressiveModel,
    alpha: float,
    n_particles: int,
    n_runs: int,
    rng: np.random.Generator,
    ess_threshold: float = 0.5,
    ramp: bool = False,
    proposal: str = "temperature",
) -> SMCRuns:
    """Run Power-SMC ``n_runs`` times (batched) through ``next_token_logprobs`` only (module docstring)."""
    alpha = check_alpha(alpha)
    N = check_count(n_particles, "n_particles")
    R = check_count(n_runs, "n_runs")
    rng = check_rng(rng)
    if not 0.0 <= ess_threshold <= 1.0:
        raise ValueError(f"ess_threshold must lie in [0, 1], got {ess_threshold!r}")
    beta = _proposal_beta(alpha, proposal)
    lm = scorer(model)
    T = model.horizon
    particles = np.zeros((R, N, T), dtype=np.int64)
    log_pi = np.zeros((R, N))  # log π(y_{1:t})
    log_w = np.zeros((R, N))
    log_z = np.zeros(R)
    n_resampling = np.zeros(R, dtype=np.int64)
    previous_exponent = alpha
    for t in range(T):
        exponent = 1.0 + (alpha - 1.0) * (t + 1) / T if ramp else alpha
        logits = lm.next_token_logprobs(particles[:, :, :t].reshape(R * N, t))
        log_q = log_normalize(beta * logits)
        token = sample_rows(log_q, rng)
        rows = np.arange(R * N)
        particles[:, :, t] = token.reshape(R, N)
        new_log_pi = log_pi + logits[rows, token].reshape(R, N)
        log_inc = exponent * new_log_pi - (previous_exponent * log_pi if t else 0.0) - log_q[rows, token].reshape(R, N)
        log_z += logsumexp(log_w + log_inc, axis=1) - logsumexp(log_w, axis=1)
        log_w = log_w + log_inc
        log_pi, previous_exponent = new_log_pi, exponent
        if t < T - 1 and ess_threshold > 0:
            low = np.flatnonzero(ess_fraction_from_log_weights(log_w, axis=1) < ess_threshold)
            if low.size:
                ancestors = systematic_resampling(log_w[low], rng)
                particles[low] = np.take_along_axis(particles[low], ancestors[:, :, None], axis=1)
                log_pi[low] = np.take_along_axis(log_pi[low], ancestors, axis=1)
                log_w[low] = 0.0
                n_resampling[low] += 1
    return SMCRuns(particles, log_normalize(log_w, axis=1), log_z, n_resampling, R * N * T)


def smc_output_distribution(runs: SMCRuns, vocab_sizes: tuple[int, ...]) -> SamplerDistribution:
    """Monte Carlo output law ``mean_r Σ_i W_r^i δ_{y_r^i}`` with standard errors across the ``R`` runs."""
    R, N, T = runs.particles.shape
    n_cells = int(np.prod(vocab_sizes))
    flat = np.ravel_multi_index(tuple(runs.particles.reshape(R * N, T).T), vocab_sizes).reshape(R, N)
    per_run = np.zeros((R, n_cells))
    np.add.at(per_run, (np.repeat(np.arange(R), N), flat.reshape(-1)), np.exp(runs.log_weights).reshape(-1))
    mean = per_run.mean(axis=0)
    se = per_run.std(axis=0, ddof=1) / np.sqrt(R) if R > 1 else np.full(n_cells, np.inf)
    return SamplerDistribution(mean.reshape(vocab_sizes), se.reshape(vocab_sizes), float(N * T), False)


def power_smc_output_distribution(
    model: AutoregressiveModel,
    alpha: float,
    n_particles: int,
    n_runs: int,
    rng: np.random.Generator,
    ess_threshold: float = 0.5,
    ramp: bool = False,
    proposal: str = "temperature",
) -> SamplerDistribution:
    """Power-SMC's output distribution by Monte Carlo over ``n_runs`` runs (standard errors included)."""
    runs = power_smc(model, alpha, n_particles, n_runs, rng, ess_threshold, ramp, proposal)
    return smc_output_distribution(runs, tuple(model.vocab_sizes))


def smc_sample(runs: SMCRuns, rng: np.random.Generator) -> np.ndarray:
    """One output per run: particle ``i`` with probability ``W^i`` -> ``(R, T)`` sequences."""
    rng = check_rng(rng)
    pick = sample_rows(runs.log_weights, rng)
    return runs.particles[np.arange(len(pick)), pick]


def sir_sample(
    model: AutoregressiveModel, alpha: float, n_particles: int, n: int, rng: np.random.Generator, proposal: str = "base"
) -> np.ndarray:
    """``n`` independent SIR outputs (``N`` particles each) -> ``(n, T)``."""
    runs = power_smc(model, alpha, n_particles, n, rng, ess_threshold=0.0, proposal=proposal)
    return smc_sample(runs, rng)


__all__ = [
    "SMC_PROPOSALS",
    "SMCRuns",
    "log_proposal_joint",
    "sis_ess_fraction",
    "sir_output_distribution",
    "sir_sample",
    "systematic_resampling",
    "power_smc",
    "smc_output_distribution",
    "power_smc_output_distribution",
    "smc_sample",
]
