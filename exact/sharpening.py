"""Self-reward sharpening (paper Eqs. 2-3, Prop. 3 / Eq. 17, App. A.3).

* ``y*(x) = argmax_y log π(y | x)`` (Eq. 2), a *set* when there are ties.  Ties
  are decided on log-probabilities with an absolute tolerance
  :data:`ARGMAX_LOG_TOL` (``1e-9``): ``y ∈ y*(x)`` iff
  ``log π(y|x) ≥ max_y' log π(y'|x) - tol``.  Probabilities built as products of
  conditionals that are equal on paper differ by a few ulps in float64
  (``~1e-15`` relative on the log scale), far below the tolerance, while
  genuinely different probabilities of a small model differ by far more.
* A policy ``π̂`` is ``(ε, δ)``-sharpened (Eq. 3) if
  ``P_{x~μ}[π̂(y*(x) | x) ≥ 1 - δ] ≥ 1 - ε``.
* The power distribution puts mass ``π_α(y*(x) | x) = |y*(x)| m(x)^α / Z_α(x)``
  on the argmax set (Eq. 30), non-decreasing in ``α`` and ``→ 1`` as ``α → ∞``.
* Prop. 3 (Eq. 17, with the constant of App. A.3): for a finite class ``Π_α ∋ π_α``
  of size ``M`` and the MLE ``π̂`` on ``n`` pairs ``x ~ μ, y ~ π_α``, with
  probability ``≥ 1 - ρ`` over the data,

      P_x[π̂(y*(x)|x) ≤ 1 - δ] ≤ (2 / c₀) log(M / ρ) / (δ n) + P_x[π_α(y*(x)|x) ≤ 1 - δ/2],

  ``c₀ = (1 - 1/√2)²`` (:data:`HELLINGER_CONSTANT`).  :func:`simulate_sharpening`
  draws the data many times, picks the MLE in a finite class, and reports the
  left side next to this bound.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import numpy as np

from ._logspace import logsumexp
from ._validate import check_alpha, check_nonnegative, check_rng
from .models import AutoregressiveModel
from .power import log_power_joint
from .prompts import PromptedModel, _check_count, as_prompted
from .tilt import distribution_tables

#: Absolute tolerance on log-probabilities for membership of the argmax set y*(x) (Eq. 2).
ARGMAX_LOG_TOL = 1e-9

#: ``c₀ = (1 - 1/√2)²`` of App. A.3: ``D_H² ≥ c₀ δ`` on the bad event E(x).
HELLINGER_CONSTANT = (1.0 - 1.0 / math.sqrt(2.0)) ** 2


def _check_open_unit(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not 0.0 < float(value) < 1.0:
        raise ValueError(f"{name} must be a number in the open interval (0, 1), got {value!r}")
    return float(value)


def _argmax_mask_one(model: AutoregressiveModel, tol: float) -> np.ndarray:
    log_p = np.asarray(model.log_joint(), dtype=np.float64)
    return log_p >= np.max(log_p) - tol


def argmax_mask(model: AutoregressiveModel | PromptedModel, tol: float = ARGMAX_LOG_TOL):
    """Boolean array of shape ``vocab_sizes``: ``True`` on ``y*(x)`` (Eq. 2, ties within ``tol`` in log space)."""
    tol = check_nonnegative(tol, "tol")
    masks = tuple(_argmax_mask_one(m, tol) for m in as_prompted(model).models)
    return masks if isinstance(model, PromptedModel) else masks[0]


def argmax_set(model: AutoregressiveModel | PromptedModel, tol: float = ARGMAX_LOG_TOL):
    """``y*(x) = argmax_y log π(y | x)`` (Eq. 2) as a ``(|y*|, T)`` integer array of sequences (row-major order).

    A tuple with one array per prompt for a :class:`PromptedModel`.
    """
    tol = check_nonnegative(tol, "tol")
    sets = tuple(np.argwhere(_argmax_mask_one(m, tol)).astype(np.int64) for m in as_prompted(model).models)
    return sets if isinstance(model, PromptedModel) else sets[0]


def sharpening_mass(model: AutoregressiveModel | PromptedModel, alpha: float, tol: float = ARGMAX_LOG_TOL):
    """``π_α(y*(x) | x) = Σ_{y ∈ y*} π(y)^α / Z_α`` (Eq. 30), in log space; ``α = inf`` gives 1.

    Equals ``|y*| m^α / Z_α`` up to the tie tolerance; non-decreasing in ``α``.
    An array over prompts for a :class:`PromptedModel`.
    """
    alpha = check_alpha(alpha, allow_inf=True)
    tol = check_nonnegative(tol, "tol")
    masses = []
    for m in as_prompted(model).models:
        log_p = np.asarray(m.log_joint(), dtype=np.float64)
        mask = log_p >= np.max(log_p) - tol
        if np.isinf(alpha):
            masses.append(1.0)
            continue
        shifted = log_p - np.max(log_p)  # ≤ 0; exact zeros stay -inf
        log_top = logsumexp(shifted[mask], axis=None, scale=alpha)
        log_rest = logsumexp(shifted[~mask], axis=None, scale=alpha)
        masses.append(float(1.0 / (1.0 + np.exp(log_rest - log_top))))  # = top / (top + rest)
    return np.array(masses) if isinstance(model, PromptedModel) else masses[0]


def _policy_tables(policy: object, model: AutoregressiveModel | PromptedModel) -> tuple[np.ndarray, ...]:
    if isinstance(policy, PromptedModel):
        policy = list(policy.models) if isinstance(model, PromptedModel) else policy.models[0]
    return distribution_tables(policy, model, "policy")


def argmax_mass(policy: object, model: AutoregressiveModel | PromptedModel, tol: float = ARGMAX_LOG_TOL):
    """``π̂(y*(x) | x)``: the mass a policy (arrays over sequences, or models) puts on ``π``'s argmax set."""
    masks = argmax_mask(model, tol)
    masks = masks if isinstance(model, PromptedModel) else (masks,)
    masses = np.array([float(q[mask].sum()) for q, mask in zip(_policy_tables(policy, model), masks)])
    return masses if isinstance(model, PromptedModel) else float(masses[0])


def sharpening_failure(
    policy: object, model: AutoregressiveModel | PromptedModel, delta: float, tol: float = ARGMAX_LOG_TOL
) -> float:
    """``P_{x~μ}[π̂(y*(x) | x) ≤ 1 - δ]``: the left side of Eq. (17)."""
    delta = _check_open_unit(delta, "delta")
    masses = np.atleast_1d(argmax_mass(policy, model, tol))
    return as_prompted(model).expectation((masses <= 1.0 - delta).astype(np.float64))


def is_sharpened(
    policy: object, model: AutoregressiveModel | PromptedModel, eps: float, delta: float, tol: float = ARGMAX_LOG_TOL
) -> bool:
    """``(ε, δ)``-sharpening (Eq. 3): ``P_{x~μ}[π̂(y*(x) | x) ≥ 1 - δ] ≥ 1 - ε``."""
    eps = _check_open_unit(eps, "eps")
    delta = _check_open_unit(delta, "delta")
    masses = np.atleast_1d(argmax_mass(policy, model, tol))
    return bool(as_prompted(model).expectation((masses >= 1.0 - delta).astype(np.float64)) >= 1.0 - eps)


class SharpeningBound(NamedTuple):
    """The right side of Eq. (17) with the constant of App. A.3 (holds with probability ≥ 1 - ρ)."""

    mle_term: float  #: (2 / c₀) log(M / ρ) / (δ n), from Lemma 1 and Eq. (26)
    teacher_term: float  #: P_x[π_α(y*(x) | x) ≤ 1 - δ/2], Eq. (24)
    total: float  #: mle_term + teacher_term
    c0: float  #: (1 - 1/√2)²


def sharpening_bound(
    model: AutoregressiveModel | PromptedModel,
    alpha: float,
    n: int,
    delta: float,
    rho: float,
    class_size: int,
    tol: float = ARGMAX_LOG_TOL,
) -> SharpeningBound:
    """Eq. (17) with constants: ``(2/c₀) log(M/ρ)/(δ n) + P_x[π_α(y*) ≤ 1 - δ/2]``."""
    delta = _check_open_unit(delta, "delta")
    rho = _check_open_unit(rho, "rho")
    n = _check_count(n, "n")
    if n == 0:
        raise ValueError("n must be >= 1")
    class_size = _check_count(class_size, "class_size")
    if class_size < 1:
        raise ValueError("class_size must be >= 1")
    mle = 2.0 / HELLINGER_CONSTANT * math.log(class_size / rho) / (delta * n)
    masses = np.atleast_1d(sharpening_mass(model, alpha, tol))
    teacher = as_prompted(model).expectation((masses <= 1.0 - delta / 2.0).astype(np.float64))
    return SharpeningBound(mle, teacher, mle + teacher, HELLINGER_CONSTANT)


def power_class(
    model: AutoregressiveModel | PromptedModel,
    alpha: float,
    exponents: Sequence[float] | None = None,
    n_distractors: int = 0,
    rng: np.random.Generator | None = None,
) -> tuple[tuple[np.ndarray, ...], ...]:
    """A finite class ``Π_α ∋ π_α`` for Prop. 3: ``log q(·|x)`` per member, per prompt.

    Members: the power distributions ``π_a`` for ``a`` in ``exponents`` (default
    ``(1, α/2, α, 2α)``; an exponent within ``1e-12·α`` of ``α`` is taken as ``α``, which is
    added if missing, so ``π_α`` is a member exactly), then ``n_distractors``
    policies drawn per prompt from a flat Dirichlet on ``π``'s support (needs ``rng``).
    Member ``j`` is a tuple of arrays of shape ``vocab_sizes`` (one per prompt).
    """
    alpha = check_alpha(alpha)
    grid = [1.0, alpha / 2.0, alpha, 2.0 * alpha] if exponents is None else [check_alpha(a, "exponent") for a in exponents]
    grid = [alpha if abs(a - alpha) <= 1e-12 * alpha else a for a in grid]
    if alpha not in grid:
        grid.append(alpha)
    unique: list[float] = []
    for a in grid:
        if not any(abs(a - b) <= 1e-12 * max(a, b) for b in unique):
            unique.append(a)
    prompted = as_prompted(model)
    members = [tuple(np.asarray(log_power_joint(m, a)) for m in prompted.models) for a in unique]
    n_distractors = _check_count(n_distractors, "n_distractors")
    if n_distractors:
        rng = check_rng(rng)  # random distractors need one
    for _ in range(n_distractors):
        member = []
        for m in prompted.models:
            support = np.isfinite(np.asarray(m.log_joint()))
            log_q = np.full(support.shape, -np.inf)
            with np.errstate(divide="ignore"):
                log_q[support] = np.log(rng.dirichlet(np.ones(int(support.sum()))))
            member.append(log_q)
        members.append(tuple(member))
    return tuple(members)


class SharpeningSimulation(NamedTuple):
    """Monte Carlo check of Eq. (17): ``n_trials`` data sets of ``n`` pairs, the MLE in ``Π_α`` on each."""

    failure: np.ndarray  #: (n_trials,) P_x[π̂(y*(x)|x) ≤ 1 - δ] for the MLE of each data set (exact in x)
    selected: np.ndarray  #: (n_trials,) index in the class of each MLE (ties: the first)
    hellinger_squared: np.ndarray  #: (n_trials,) E_μ D_H²(π̂, π_α) of each MLE; Lemma 1: ≤ 2 log(M/ρ)/n w.p. ≥ 1 - ρ
    true_index: int  #: index of π_α in the class
    class_size: int  #: M = |Π_α|
    exceed_fraction: float  #: fraction of data sets whose failure exceeds bound.total (Prop. 3: ≲ ρ)
    failure_quantile: float  #: the empirical (1 - ρ)-quantile of failure, to set next to bound.total
    bound: SharpeningBound  #: the right side of Eq. (17)
    n: int
    delta: float
    rho: float


def simulate_sharpening(
    model: AutoregressiveModel | PromptedModel,
    alpha: float,
    n: int,
    delta: float,
    rho: float,
    n_trials: int,
    rng: np.random.Generator,
    exponents: Sequence[float] | None = None,
    n_distractors: int = 0,
    tol: float = ARGMAX_LOG_TOL,
) -> SharpeningSimulation:
    """Simulate Prop. 3: draw ``x_i ~ μ``, ``y_i ~ π_α(·|x_i)`` (``i ≤ n``), take the MLE (Eq. 16) in
    :func:`power_class`, and record ``P_x[π̂(y*) ≤ 1 - δ]`` next to the bound of Eq. (17)."""
    alpha = check_alpha(alpha)
    delta = _check_open_unit(delta, "delta")
    rho = _check_open_unit(rho, "rho")
    n = _check_count(n, "n")
    n_trials = _check_count(n_trials, "n_trials")
    if n == 0 or n_trials == 0:
        raise ValueError("n and n_trials must be >= 1")
    rng = check_rng(rng)
    prompted = as_prompted(model)
    members = power_class(model, alpha, exponents, n_distractors, rng)
    size = len(members)
    true_index = _true_index(members, prompted, alpha)
    masks = [_argmax_mask_one(m, check_nonnegative(tol, "tol")) for m in prompted.models]
    def fails(member) -> float:  # P_x[q(y*(x)|x) ≤ 1 - δ] for one class member
        return prompted.expectation([float(np.exp(logsumexp(lq[mask], axis=None)) <= 1.0 - delta) for lq, mask in zip(member, masks)])

    member_fail = np.array([fails(member) for member in members])
    member_hellinger = np.array(
        [
            prompted.expectation(
                [np.sum((np.exp(0.5 * lq) - np.exp(0.5 * lt)) ** 2) for lq, lt in zip(member, members[true_index])]
            )
            for member in members
        ]
    )
    prompt_counts = rng.multinomial(n, prompted.weights, size=n_trials)  # (n_trials, K)
    log_lik = np.zeros((n_trials, size))
    for x, m in enumerate(prompted.models):
        teacher = np.exp(members[true_index][x]).reshape(-1)
        teacher = teacher / teacher.sum()
        counts = rng.multinomial(prompt_counts[:, x], teacher).astype(np.float64)  # (n_trials, |Y_x|)
        tables = np.stack([member[x].reshape(-1) for member in members])  # (M, |Y_x|)
        finite = np.isfinite(tables)
        log_lik += counts @ np.where(finite, tables, 0.0).T
        impossible = (counts @ (~finite).T.astype(np.float64)) > 0
        log_lik[impossible] = -np.inf
    selected = np.argmax(log_lik, axis=1)
    failure = member_fail[selected]
    bound = sharpening_bound(model, alpha, n, delta, rho, size, tol)
    return SharpeningSimulation(
        failure,
        selected,
        member_hellinger[selected],
        true_index,
        size,
        float(np.mean(failure > bound.total)),
        float(np.quantile(failure, 1.0 - rho)),
        bound,
        n,
        delta,
        rho,
    )


def _true_index(members, prompted: PromptedModel, alpha: float) -> int:
    target = tuple(np.asarray(log_power_joint(m, alpha)) for m in prompted.models)
    for j, member in enumerate(members):
        if all(np.array_equal(a, b) for a, b in zip(member, target)):
            return j
    raise AssertionError("π_α is not in the class")  # pragma: no cover - power_class always holds it exactly


__all__ = [
    "ARGMAX_LOG_TOL",
    "HELLINGER_CONSTANT",
    "argmax_mask",
    "argmax_set",
    "sharpening_mass",
    "argmax_mass",
    "sharpening_failure",
    "is_sharpened",
    "SharpeningBound",
    "sharpening_bound",
    "power_class",
    "SharpeningSimulation",
    "simulate_sharpening",
]
