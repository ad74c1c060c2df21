"""How fast a true reward improves with α: the covariance form (paper Prop. 4, Eqs. 18-19, App. A.4).

For a true reward ``r*`` and ``R(α; x) = E_{y~π_α(·|x)}[r*(x, y)]``, for every ``α > 0``

    ∂R/∂α (α; x) = Cov_{y~π_α(·|x)}(r*(x, y), r_self(x, y)),   r_self = log π      (Eq. 18)

because ``∂_α π_α(y) = π_α(y) (log π(y) - E_{π_α}[log π])`` (Eq. 31).  The covariance
is taken on the support of ``π`` (where ``log π`` is finite; ``π_α`` is zero
elsewhere, so the true reward's values there never matter, though they must
not be NaN).  For a linear reward ``r* = c r_self + b`` (Eq. 19) the slope is
``c Var_{π_α}(r_self) ≥ 0``.

For a :class:`~exact.prompts.PromptedModel`, ``R`` and its slope are
``μ``-expectations over prompts (the derivative commutes with the finite sum).
All moments are computed from ``log π_α`` in float64 with centred values.
"""

from __future__ import annotations

import numpy as np

from ._validate import check_alpha
from .models import AutoregressiveModel
from .power import log_power_joint
from .prompts import PromptedModel, as_prompted
from .rewards import check_finite_on_support, reward_tables, self_reward


def _moments(model: AutoregressiveModel | PromptedModel, reward: object, alpha: float) -> np.ndarray:
    """Per prompt: ``(E[r*], Cov(r*, log π), Var(log π))`` under ``π_α``, shape ``(K, 3)``."""
    alpha = check_alpha(alpha)
    prompted = as_prompted(model)
    rows = []
    for m, r in zip(prompted.models, reward_tables(model, reward, "true reward")):
        log_p = np.asarray(m.log_joint(), dtype=np.float64)
        check_finite_on_support(log_p, r, "true reward")
        support = np.isfinite(log_p)
        weights = np.exp(np.asarray(log_power_joint(m, alpha))[support])
        weights = weights / weights.sum()  # π_α on the support (sums to 1 up to rounding)
        values, self_values = r[support], log_p[support]
        mean_r = float(weights @ values)
        mean_s = float(weights @ self_values)
        centred_r, centred_s = values - mean_r, self_values - mean_s
        rows.append((mean_r, float(weights @ (centred_r * centred_s)), float(weights @ (centred_s * centred_s))))
    return np.array(rows)


def _combine(model, column: np.ndarray) -> float:
    return as_prompted(model).expectation(column)


def true_reward(model: AutoregressiveModel | PromptedModel, reward: object, alpha: float) -> float:
    """``R(α) = E_{x~μ} E_{y~π_α(·|x)}[r*(x, y)]`` (Section 5.3); ``r*`` finite on ``π``'s support."""
    return _combine(model, _moments(model, reward, alpha)[:, 0])


def reward_slope(model: AutoregressiveModel | PromptedModel, reward: object, alpha: float) -> float:
    """``∂R/∂α = E_{x~μ} Cov_{π_α(·|x)}(r*, r_self)`` (Prop. 4, Eq. 18), on ``π``'s support, any ``α > 0``."""
    return _combine(model, _moments(model, reward, alpha)[:, 1])


def self_reward_variance(model: AutoregressiveModel | PromptedModel, alpha: float) -> float:
    """``E_{x~μ} Var_{π_α(·|x)}(log π)``: the slope of ``R`` for ``r* = r_self`` (Eq. 19 with ``c = 1``), ``≥ 0``."""
    return _combine(model, _moments(model, self_reward(model), alpha)[:, 2])


__all__ = ["true_reward", "reward_slope", "self_reward_variance"]
