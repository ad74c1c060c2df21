"""Suffix Rényi entropies and the power-vs-temperature odds correction (Prop. 1).

For a prefix ``y_<t`` and a next token ``a`` with ``π(a | y_<t) > 0`` the suffix
distribution is ``q_{t,a}(z) = π(y_{t+1:T} = z | x, y_<t, y_t = a)``.  Prop. 1:

    log[(π_pow,α(a)/π_pow,α(b)) / (π_temp,α(a)/π_temp,α(b))] = (1 - α)(H_α(q_{t,a}) - H_α(q_{t,b}))   (Eq. 7)

with ``H_α(p) = log(Σ_z p(z)^α) / (1 - α)`` in nats.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

from ._logspace import logsumexp
from ._memory import check_allocation
from ._validate import check_alpha, check_model, real_array
from .models import AutoregressiveModel, TabularAR
from .power import log_power_conditional, log_temp_conditional


#: Below this ``|α - 1|`` the entropy is evaluated with ``log1p``/``expm1`` (see ``renyi_entropy_from_logp``).
_NEAR_ONE = 1e-3
#: Also when ``|log Σ p^α| <`` this (``Σ p^α`` near 1), for relative precision of small ``H_α``.
_SMALL_LOG_MASS = 0.5


def renyi_entropy_from_logp(log_p: np.ndarray, alpha: float) -> float:
    """``H_α`` in nats of the distribution with log-probabilities ``log_p`` (``-inf`` = zero mass).

    ``α = 1`` gives the Shannon entropy, ``α = ∞`` the min-entropy ``-log max p``;
    any ``α > 0`` is allowed.  For ``|α - 1| < 1e-3``, or whenever ``|log Σ p^α| < 0.5``,
    the sum is evaluated as ``log1p(Σ p·expm1((α-1) log p))`` (assuming ``Σ p = 1``; the
    terms share one sign), which avoids the ``0/0`` cancellation of ``log Σ p^α / (1 - α)``
    near ``α = 1`` and keeps the relative precision of a small ``H_α``.
    """
    alpha = check_alpha(alpha, allow_inf=True)
    logp = real_array(log_p, "log_p").reshape(-1)
    if logp.size == 0 or np.any(np.isnan(logp)) or np.any(logp == np.inf):
        raise ValueError("log_p must be a non-empty array of log-probabilities (no NaN, no +inf)")
    log_total = float(logsumexp(logp))
    if abs(log_total) > 1e-9:
        raise ValueError(f"the distribution must sum to 1 within 1e-9; it sums to {float(np.exp(log_total))!r}")
    if np.isinf(alpha):
        return float(-logp.max())
    if alpha == 1.0:
        support = np.isfinite(logp)
        return float(-np.sum(np.exp(logp[support]) * logp[support]))
    epsilon = alpha - 1.0
    log_mass = float(logsumexp(logp, scale=alpha))
    if abs(epsilon) < _NEAR_ONE or abs(log_mass) < _SMALL_LOG_MASS:
        # log Σ p^α = log1p(Σ p·expm1(ε log p)): the terms share one sign, so no cancellation
        # when Σ p^α is near 1 (α → 1, or a peaked p): H_α → Shannon smoothly, and a small
        # H_α keeps its relative precision (logsumexp loses ~1e-9 of it at H ~ 1e-3, α ~ 0.996)
        support = logp[np.isfinite(logp)]
        with np.errstate(over="ignore", invalid="ignore"):
            excess = float(np.sum(np.exp(support) * np.expm1(epsilon * support)))
        if np.isfinite(excess):
            return float(-np.log1p(excess) / epsilon)
    return log_mass / (1.0 - alpha)


def renyi_entropy(p: np.ndarray, alpha: float) -> float:
    """Rényi entropy ``H_α(p) = log(Σ_z p(z)^α) / (1 - α)`` in nats (Prop. 1); ``α = 1`` Shannon, ``α = ∞`` min-entropy."""
    arr = real_array(p, "p")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError("p must be a non-negative, finite probability array")
    with np.errstate(divide="ignore"):
        return renyi_entropy_from_logp(np.log(arr), alpha)


def log_suffix_distribution(model: AutoregressiveModel, prefix: Sequence[int], token: int) -> np.ndarray:
    """``log q_{t,a}(z) = log π(y_{t+1:T} = z | y_<t, y_t = a)``, shape ``vocab_sizes[t:]`` (``()`` at t = T)."""
    check_model(model)
    key = model.check_prefix(prefix)
    log_cond = model.log_conditional(key)
    token = _check_token(log_cond, token)
    if not np.isfinite(log_cond[token]):
        raise ValueError(f"token {token} has probability zero after prefix {list(key)}: q_(t,a) is undefined")
    full = key + (token,)
    sizes = model.vocab_sizes[len(full):]
    check_allocation(sizes, "the suffix distribution")
    if isinstance(model, TabularAR):  # q_{t,a}(z) = π(y_<t, a, z) / π(y_<t, a)
        return model.log_joint()[full] - model.log_prefix_marginals(len(full))[full]
    table = np.zeros(sizes)
    for step in range(len(sizes)):
        # add log π(z_{step} | full, z_<step) for every suffix prefix, by broadcasting
        shape = sizes[: step + 1] + (1,) * (len(sizes) - step - 1)
        table = table + _suffix_step(model, full, sizes, step).reshape(shape)
    return table


def _suffix_step(model: AutoregressiveModel, full: tuple[int, ...], sizes: tuple[int, ...], step: int) -> np.ndarray:
    """``log π(z_step | full, z_<step)`` for every ``z_{<=step}`` (zeros where the prefix is impossible)."""
    out = np.full(sizes[: step + 1], -np.inf)
    for index in np.ndindex(*sizes[:step]):
        prefix = full + index
        try:
            out[index] = model.log_conditional(prefix)
        except ValueError:  # impossible prefix: its entries are already -inf through earlier steps
            out[index] = 0.0
    return out


def suffix_distribution(model: AutoregressiveModel, prefix: Sequence[int], token: int) -> np.ndarray:
    """The suffix distribution ``q_{t,a}`` of Prop. 1 as probabilities, shape ``vocab_sizes[t:]``."""
    check_model(model)
    return np.exp(log_suffix_distribution(model, prefix, token))


def suffix_renyi_entropies(model: AutoregressiveModel, prefix: Sequence[int], alpha: float) -> np.ndarray:
    """``H_α(q_{t,a})`` for every next token ``a`` (NaN where ``π(a | y_<t) = 0``), without enumeration."""
    check_model(model)
    alpha = check_alpha(alpha)
    mass = model.log_power_suffix_mass(prefix, alpha)
    if alpha == 1.0:
        raise ValueError("use renyi_entropy(suffix_distribution(...), 1.0) for the Shannon case")
    return np.where(np.isfinite(mass), mass / (1.0 - alpha), np.nan)


class OddsCorrection(NamedTuple):
    """Both sides of Eq. (7) for one token pair ``(a, b)`` at one prefix."""

    direct: float
    """``log[(π_pow,α(a)/π_pow,α(b)) / (π_temp,α(a)/π_temp,α(b))]``, from the two conditionals."""
    renyi_prediction: float
    """``(1 - α)(H_α(q_{t,a}) - H_α(q_{t,b}))``, from the enumerated suffix distributions."""


def odds_correction(model: AutoregressiveModel, prefix: Sequence[int], a: int, b: int, alpha: float) -> OddsCorrection:
    """Prop. 1, Eq. (7): the power-vs-temperature log odds gap and its suffix-Rényi prediction.

    The direct side comes from :func:`power_conditional` and :func:`temp_conditional`;
    the prediction enumerates ``q_{t,a}`` and ``q_{t,b}`` and uses ``(1-α) H_α(q) = log Σ q^α``
    (which also covers ``α = 1``, where both sides are 0).  Both tokens need ``π(· | y_<t) > 0``.
    """
    check_model(model)
    alpha = check_alpha(alpha)
    key = model.check_prefix(prefix)
    log_cond = model.log_conditional(key)
    a, b = _check_token(log_cond, a), _check_token(log_cond, b)
    for token in (a, b):
        if not np.isfinite(log_cond[token]):
            raise ValueError(f"token {token} has probability zero after prefix {list(key)}; Prop. 1 needs π(a), π(b) > 0")
    log_pow = log_power_conditional(model, key, alpha)
    log_temp = log_temp_conditional(model, key, alpha)
    direct = (log_pow[a] - log_pow[b]) - (log_temp[a] - log_temp[b])
    mass_a = float(logsumexp(log_suffix_distribution(model, key, a), axis=None, scale=alpha))
    mass_b = float(logsumexp(log_suffix_distribution(model, key, b), axis=None, scale=alpha))
    return OddsCorrection(direct=float(direct), renyi_prediction=mass_a - mass_b)


def _check_token(log_cond: np.ndarray, token: int) -> int:
    if isinstance(token, bool) or not isinstance(token, (int, np.integer)) or not 0 <= token < log_cond.size:
        raise ValueError(f"token id {token!r} is out of range [0, {log_cond.size})")
    return int(token)


__all__ = [
    "renyi_entropy",
    "renyi_entropy_from_logp",
    "suffix_distribution",
    "log_suffix_distribution",
    "suffix_renyi_entropies",
    "OddsCorrection",
    "odds_correction",
]
