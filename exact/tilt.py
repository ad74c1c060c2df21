"""KL-regularised RL and its closed-form optimum, the reward tilt (paper Section 5.1, App. A.5).

For a reward ``r`` and ``β > 0`` the objective of Eq. (11) is

    J_β(q; π, r) = E_{x~μ}[ E_{y~q(·|x)}[r(x, y)] - β KL(q(·|x) ‖ π(·|x)) ],

maximised uniquely (Prop. 5) by the reward-tilted distribution of Eq. (12),

    π*_β(y | x) = π(y | x) exp(r(x, y) / β) / Z_r(x),   Z_r(x) = Σ_y π(y | x) exp(r(x, y) / β),

because (Prop. 5's proof; Eq. 14 for the self-reward) for every ``q``

    E_q[r] - β KL(q ‖ π) = -β KL(q ‖ π*_β) + β log Z_r.               (Eq. 14)

With the self-reward ``r = log π`` (Eq. 1) the tilt is the power distribution
``π_α`` with ``α = 1 + 1/β`` (Cor. 1, Eq. 13).

Conventions (all in log space, float64):

* distributions ``q`` over sequences are arrays of shape ``vocab_sizes`` summing
  to 1 (or models, read through ``joint()``); ``0 · log 0 = 0``;
* if ``q`` puts mass where ``π = 0`` then ``KL(q ‖ π) = +inf`` and ``J = -inf``;
* a reward may be ``-inf`` (never ``+inf`` or NaN): ``π*_β`` is 0 there, and
  ``E_q[r] = -inf`` if ``q`` puts mass there; ``exp(-inf / β) · 0 = 0`` on
  ``π``'s zeros, so the self-reward's ``-inf`` needs no special case;
* for a :class:`~exact.prompts.PromptedModel`, ``q`` and ``r`` are lists with one
  entry per prompt (or one shared entry), per-prompt outputs are tuples/arrays
  and scalar outputs are ``μ``-expectations.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._logspace import logsumexp
from ._validate import check_alpha, check_positive
from .models import AutoregressiveModel
from .prompts import PromptedModel, as_prompted, per_prompt
from .rewards import reward_tables

#: Tolerance on ``|Σ_y q(y) - 1|`` for a distribution ``q`` over sequences.
DISTRIBUTION_TOL = 1e-9


def check_beta(beta: object) -> float:
    """``β``: a finite real number ``> 0`` (``ValueError`` otherwise; no upper bound: ``β → ∞`` is ``α → 1``)."""
    return check_positive(beta, "beta")


def self_reward_exponent(beta: float) -> float:
    """``α = 1 + 1/β`` (Eq. 13): the power whose distribution is the self-reward tilt at ``β``."""
    return 1.0 + 1.0 / check_beta(beta)


def beta_for_exponent(alpha: float) -> float:
    """``β = 1 / (α - 1)`` for ``α > 1``: the inverse of :func:`self_reward_exponent`."""
    alpha = check_alpha(alpha)
    if alpha <= 1.0:
        raise ValueError(f"only α > 1 is a self-reward tilt (α = 1 + 1/β with β > 0); got α = {alpha}")
    return 1.0 / (alpha - 1.0)


def distribution_tables(q: object, model: AutoregressiveModel | PromptedModel, name: str = "q") -> tuple[np.ndarray, ...]:
    """Validate ``q``: per prompt an array of shape ``vocab_sizes``, finite, ``≥ 0``, summing to 1 (or a model)."""
    prompted = as_prompted(model)
    entries = per_prompt(q, model, name)
    tables = []
    for index, (m, entry) in enumerate(zip(prompted.models, entries)):
        table = np.array(entry.joint() if isinstance(entry, AutoregressiveModel) else entry, dtype=np.float64)
        label = f"{name} (prompt {index})" if isinstance(model, PromptedModel) else name
        if table.shape != tuple(m.vocab_sizes):
            raise ValueError(f"{label} must have shape vocab_sizes = {tuple(m.vocab_sizes)}, got {table.shape}")
        if not np.all(np.isfinite(table)):
            raise ValueError(f"{label} has NaN or infinite entries")
        if np.any(table < 0):
            raise ValueError(f"{label} has negative entries (min {table.min():.3g})")
        if abs(table.sum() - 1.0) > DISTRIBUTION_TOL:
            raise ValueError(f"{label} must sum to 1 within {DISTRIBUTION_TOL:g}; it sums to {float(table.sum())!r}")
        tables.append(table)
    return tuple(tables)


def kl_from_table(q: np.ndarray, log_p: np.ndarray) -> float:
    """``KL(q ‖ p) = Σ_{q>0} q (log q - log p)``; ``+inf`` if ``q > 0`` somewhere ``p = 0``."""
    mass = q > 0
    if np.any(np.isneginf(log_p[mass])):
        return float("inf")
    qm = q[mass]
    return float(max(np.sum(qm * (np.log(qm) - log_p[mass])), 0.0))


def _expected_reward(q: np.ndarray, r: np.ndarray) -> float:
    mass = q > 0
    return float(np.sum(q[mass] * r[mass]))  # -inf if r = -inf where q > 0


def _log_joints(model: AutoregressiveModel | PromptedModel) -> tuple[np.ndarray, ...]:
    return tuple(np.asarray(m.log_joint(), dtype=np.float64) for m in as_prompted(model).models)


def _log_tilts(model, reward, beta) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """Per prompt: ``log π*_β`` (Eq. 12) and ``log Z_r``."""
    beta = check_beta(beta)
    rewards = reward_tables(model, reward)
    logs, log_zs = [], []
    for index, (log_p, r) in enumerate(zip(_log_joints(model), rewards)):
        scores = log_p + r / beta  # -inf on π's zeros and on r = -inf; never NaN (no +inf)
        log_z = float(logsumexp(scores, axis=None))
        if not np.isfinite(log_z):
            raise ValueError(f"Z_r = 0 for prompt {index}: the reward is -inf on the whole support of π")
        logs.append(scores - log_z)
        log_zs.append(log_z)
    return tuple(logs), np.array(log_zs)


def _unwrap(model, per_prompt_values: tuple):
    return per_prompt_values if isinstance(model, PromptedModel) else per_prompt_values[0]


def log_tilt_partition(model: AutoregressiveModel | PromptedModel, reward: object, beta: float) -> float | np.ndarray:
    """``log Z_r(x) = log Σ_y π(y | x) exp(r(x, y) / β)`` (Eq. 12); an array over prompts for a PromptedModel."""
    log_zs = _log_tilts(model, reward, beta)[1]
    return log_zs if isinstance(model, PromptedModel) else float(log_zs[0])


def log_tilted_optimum(model: AutoregressiveModel | PromptedModel, reward: object, beta: float):
    """``log π*_β(y | x) = log π(y | x) + r(x, y)/β - log Z_r(x)`` over all sequences (Eq. 12)."""
    return _unwrap(model, _log_tilts(model, reward, beta)[0])


def tilted_optimum(model: AutoregressiveModel | PromptedModel, reward: object, beta: float):
    """The maximiser of ``J_β`` (Eq. 12, Prop. 5): ``π*_β(y|x) ∝ π(y|x) exp(r(x,y)/β)``, shape ``vocab_sizes``.

    A tuple with one array per prompt for a :class:`PromptedModel`.  Its log
    partition is :func:`log_tilt_partition`.
    """
    return _unwrap(model, tuple(np.exp(t) for t in _log_tilts(model, reward, beta)[0]))


def self_reward_tilt(model: AutoregressiveModel | PromptedModel, beta: float):
    """Cor. 1: the tilt (Eq. 12) with ``r = r_self = log π``, which equals ``power_joint(model, 1 + 1/β)``."""
    from .rewards import self_reward

    return tilted_optimum(model, self_reward(model), beta)


def kl_rl_objective(q: object, model: AutoregressiveModel | PromptedModel, reward: object, beta: float) -> float:
    """``J_β(q; π, r) = E_{x~μ}[E_{y~q}[r] - β KL(q ‖ π)]`` (Eq. 11).

    ``-inf`` when ``q`` puts mass on a zero of ``π`` (``KL = +inf``) or on ``r = -inf``.
    """
    return kl_rl_decomposition(q, model, reward, beta).objective


class KLRLDecomposition(NamedTuple):
    """The two sides of Eq. (14) / Prop. 5's identity, term by term (``μ``-expectations over prompts).

    ``objective = expected_reward - beta * kl_to_reference`` (left side, Eq. 11) and
    ``rhs = -beta * kl_to_optimum + beta * log_partition`` (right side) agree for every ``q``.
    """

    expected_reward: float  #: E_μ E_{y~q}[r(x, y)]
    kl_to_reference: float  #: E_μ KL(q(·|x) ‖ π(·|x))
    objective: float  #: J_β(q; π, r), the left side
    kl_to_optimum: float  #: E_μ KL(q(·|x) ‖ π*_β(·|x)); for r = r_self this is KL(q ‖ π_α)
    log_partition: float  #: E_μ log Z_r(x)
    rhs: float  #: -β KL(q ‖ π*_β) + β log Z_r, the right side
    beta: float  #: β


def kl_rl_decomposition(q: object, model: AutoregressiveModel | PromptedModel, reward: object, beta: float) -> KLRLDecomposition:
    """Both sides of ``E_q[r] - β KL(q‖π) = -β KL(q‖π*_β) + β log Z_r`` (Eq. 14, Prop. 5), term by term."""
    beta = check_beta(beta)
    prompted = as_prompted(model)
    qs = distribution_tables(q, model)
    rewards = reward_tables(model, reward)
    log_tilts, log_zs = _log_tilts(model, reward, beta)
    per = np.array(
        [
            (_expected_reward(qx, rx), kl_from_table(qx, log_px), kl_from_table(qx, log_tx))
            for qx, rx, log_px, log_tx in zip(qs, rewards, _log_joints(model), log_tilts)
        ]
    )
    expected_reward = prompted.expectation(per[:, 0])
    kl_reference = prompted.expectation(per[:, 1])
    kl_optimum = prompted.expectation(per[:, 2])
    log_partition = prompted.expectation(log_zs)
    objective = -np.inf if (expected_reward == -np.inf or kl_reference == np.inf) else expected_reward - beta * kl_reference
    rhs = -np.inf if kl_optimum == np.inf else -beta * kl_optimum + beta * log_partition
    return KLRLDecomposition(expected_reward, kl_reference, float(objective), kl_optimum, log_partition, float(rhs), beta)


__all__ = [
    "DISTRIBUTION_TOL",
    "check_beta",
    "self_reward_exponent",
    "beta_for_exponent",
    "distribution_tables",
    "kl_from_table",
    "log_tilt_partition",
    "log_tilted_optimum",
    "tilted_optimum",
    "self_reward_tilt",
    "kl_rl_objective",
    "KLRLDecomposition",
    "kl_rl_decomposition",
]
