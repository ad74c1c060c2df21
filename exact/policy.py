"""The autoregressive softmax policy class, and two ways to reach ``π_α`` in it (paper Sections 5.1-5.2).

**The class.**  A policy ``q_θ`` holds one logit vector per prefix:
``q_θ(y_t = a | x, y_<t = h) = softmax(θ_t[h])_a`` with ``θ_t`` of shape
``vocab_sizes[:t+1]``, so ``q_θ(y) = Π_t q_θ(y_t | y_<t)``.  Every distribution
over sequences factorises this way, so the class contains ``π_α`` and every tilt
``π*_β``.  Logits of tokens with ``π(a | h) = 0`` are fixed at ``-inf`` (the
class is masked to ``π``'s support, which contains the support of ``π_α`` and of
``π*_β``); rows of prefixes with ``π(h) = 0`` never receive mass and are kept
at 0 (uniform) so that softmax stays defined.

**RL ascent** (:func:`kl_rl_ascent`, Eqs. 11-14).  Exact gradient ascent on
``J_β(q_θ; π, r)`` from ``θ = log π`` (i.e. ``q_0 = π``).  With the per-sequence
soft reward ``g(y) = r(y) + β log π(y) - β log q(y)`` the gradient is, for every
prefix ``h`` of length ``t`` and token ``a``,

    ∂J_β / ∂θ_t[h, a] = q(h) q(a | h) (F(h, a) - F(h)),   F(h) = E_q[g | y_{1:t} = h],

computed exactly by one backward sweep ``F(h) = Σ_a q(a|h) F(h, a)`` from
``F(y) = g(y)``.  By default the step divides each row by ``q(h)`` (a positive
diagonal preconditioner; ``precondition=False`` gives the plain gradient) and
the learning rate multiplies ``∇J_β / β`` (``J_β / β`` has the same maximiser).
``natural=True`` takes natural-gradient steps instead.
Eq. (14) makes ``KL(q_k ‖ π*_β)`` the suboptimality ``(J* - J(q_k)) / β``, which
the trajectory records; for the self-reward ``π*_β = π_α`` with ``α = 1 + 1/β``.

**Distillation** (:func:`distill_power`, Eqs. 15-16).  Forward-KL maximum
likelihood on ``n`` i.i.d. pairs ``x_i ~ μ, y_i ~ π_α(·|x_i)``.  In this class the
MLE is closed form: the empirical conditional frequencies
``q̂(a | h) = N(h, a) / N(h)``.  Zero-count convention: with ``smoothing = λ``
(default ``λ = 1/2``, the Krichevsky-Trofimov estimator)
``q̂(a | h) = (N(h, a) + λ) / (N(h) + λ |supp π(·|h)|)`` on ``π(a | h) > 0`` and 0
elsewhere, which keeps the forward KL of Eq. (15) finite; ``λ = 0`` is the exact
MLE of Eq. (16), with unseen prefixes (``N(h) = 0``) set to the uniform
distribution on ``supp π(·|h)`` (any choice maximises the likelihood there).
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

from ._logspace import log_normalize, logsumexp
from ._validate import check_alpha, check_nonnegative, check_positive, check_rng
from ._tables import conditional_table, conditional_tables, cumulate, prefix_levels
from .models import AutoregressiveModel
from .power import log_power_joint, sample_power
from .prompts import PromptedModel, _check_count, as_prompted
from .rewards import check_finite_on_support, reward_tables, self_reward
from .tilt import _log_tilts, check_beta, kl_from_table


# -- the class ------------------------------------------------------------------
def log_conditionals_from_joint(log_joint: np.ndarray) -> tuple[np.ndarray, ...]:
    """``log q(y_t | y_<t)`` tables (shape ``vocab_sizes[:t+1]``) of a joint; rows of zero-mass prefixes are ``log(1/V)``."""
    levels = prefix_levels(log_joint)  # levels[t] = log q(y_{1:t})
    return tuple(
        conditional_table(levels[t + 1], levels[t], undefined=-np.log(levels[t + 1].shape[-1])) for t in range(len(levels) - 1)
    )


def log_joint_from_conditionals(log_conditionals: Sequence[np.ndarray]) -> np.ndarray:
    """``log q(y) = Σ_t log q(y_t | y_<t)`` over all sequences, shape of the last table."""
    return cumulate(log_conditionals)[-1]


def _initial_logits(log_p: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``θ = log π(·|h)`` with masks of the trainable entries; zero-mass prefixes get logits 0."""
    logits = conditional_tables(prefix_levels(log_p), undefined=0.0)
    return logits, [np.isfinite(theta) for theta in logits]


# -- RL ascent --------------------------------------------------------------------
class RLAscentTrajectory(NamedTuple):
    """Exact gradient ascent on ``J_β`` (Eq. 11) from ``q_0 = π``; arrays indexed by step ``k = 0..n_steps``."""

    steps: np.ndarray  #: (n_steps + 1,) the step index k
    kl_to_optimum: np.ndarray  #: (n_steps + 1,) E_μ KL(q_k ‖ π*_β); for r = r_self, KL(q_k ‖ π_α)
    objective: np.ndarray  #: (n_steps + 1,) J_β(q_k; π, r)
    optimum_objective: float  #: J_β(π*_β) = β E_μ log Z_r (Eq. 14)
    final_policy: object  #: q_K over all sequences: an array of shape vocab_sizes (a tuple per prompt)
    beta: float
    learning_rate: float


def kl_rl_ascent(
    model: AutoregressiveModel | PromptedModel,
    beta: float,
    n_steps: int = 200,
    learning_rate: float = 1.0,
    reward: object = None,
    precondition: bool = True,
    natural: bool = False,
) -> RLAscentTrajectory:
    """Exact-gradient ascent of ``J_β(q_θ; π, r)`` (Eq. 11) over the softmax class, from ``q_0 = π``.

    ``reward`` defaults to the self-reward ``log π`` (Eq. 1), whose optimum is
    ``π_α`` with ``α = 1 + 1/β`` (Cor. 1).  The reward must be finite on the
    support of ``π``.  Step: ``θ ← θ + learning_rate · P ∇J_β / β`` with ``P`` the
    ``1/(μ(x) q(h))`` preconditioner (or the identity if ``precondition=False``).
    ``natural=True`` also divides by ``q(a | h)`` (the softmax Fisher metric, up to
    the shift it ignores): the natural-gradient step ``θ_t[h] += lr (F(h,·) - F(h)) / β``,
    which at ``learning_rate = 1`` is soft policy iteration and reaches ``π*_β`` in
    ``T`` steps (level ``t`` is exact once the levels below it are).
    """
    beta = check_beta(beta)
    n_steps = _check_count(n_steps, "n_steps")
    learning_rate = check_positive(learning_rate, "learning_rate")
    prompted = as_prompted(model)
    rewards = reward_tables(model, self_reward(model) if reward is None else reward)
    log_targets, log_zs = _log_tilts(model, self_reward(model) if reward is None else reward, beta)
    kls = np.zeros((n_steps + 1, prompted.n_prompts))
    objectives = np.zeros((n_steps + 1, prompted.n_prompts))
    finals = []
    for x, (m, r, log_target) in enumerate(zip(prompted.models, rewards, log_targets)):
        log_p = np.asarray(m.log_joint(), dtype=np.float64)
        check_finite_on_support(log_p, r)
        support = np.isfinite(log_p)
        base = np.where(support, r + beta * log_p, 0.0)  # r + β log π on the support
        logits, masks = _initial_logits(log_p)
        scale = 1.0 if precondition else float(prompted.weights[x])
        for k in range(n_steps + 1):
            log_cond = [log_normalize(np.where(mask, theta, -np.inf)) for theta, mask in zip(logits, masks)]
            log_q = log_joint_from_conditionals(log_cond)
            q = np.exp(log_q)
            g = np.where(support, base - beta * np.where(support, log_q, 0.0), 0.0)
            objectives[k, x] = float(np.sum(q[support] * g[support]))  # E_q[r] - β KL(q‖π)
            kls[k, x] = kl_from_table(q, log_target)
            if k == n_steps:
                break
            value = g  # F at the leaves
            for t in reversed(range(m.horizon)):
                cond = np.exp(log_cond[t])
                parent = np.sum(cond * value, axis=-1)  # F(h)
                step = value - parent[..., None]  # F(h,a) - F(h)
                if not natural:
                    step = cond * step  # q(a|h) (F(h,a) - F(h))
                if not precondition:
                    step = step * np.exp(log_joint_from_conditionals(log_cond[:t]) if t else 0.0)[..., None]
                logits[t] = np.where(masks[t], logits[t] + learning_rate * scale * step / beta, logits[t])
                value = parent
        finals.append(q)
    kl_traj = np.array([prompted.expectation(row) for row in kls])
    obj_traj = np.array([prompted.expectation(row) for row in objectives])
    final = tuple(finals) if isinstance(model, PromptedModel) else finals[0]
    return RLAscentTrajectory(
        np.arange(n_steps + 1), kl_traj, obj_traj, beta * prompted.expectation(log_zs), final, beta, learning_rate
    )


# -- distillation -----------------------------------------------------------------
def mle_policy(model: AutoregressiveModel, sequences: np.ndarray, smoothing: float = 0.5) -> np.ndarray:
    """The forward-KL MLE (Eq. 16) in the masked softmax class from ``(n, T)`` samples: ``q̂`` over all sequences.

    ``q̂(a|h) = (N(h,a) + λ) / (N(h) + λ |supp π(·|h)|)`` on ``π``'s support (see the
    module docstring for the ``λ = smoothing`` and zero-count conventions).
    """
    smoothing = check_nonnegative(smoothing, "smoothing")
    sequences = np.asarray(sequences)
    if sequences.size:
        sequences = _as_sequences(model, sequences)
    sizes = tuple(model.vocab_sizes)
    log_p = np.asarray(model.log_joint(), dtype=np.float64)
    flat = np.ravel_multi_index(tuple(sequences.T), sizes) if sequences.size else np.zeros(0, dtype=np.int64)
    counts = [np.bincount(flat, minlength=int(np.prod(sizes))).reshape(sizes).astype(np.float64)]
    for _ in range(len(sizes)):
        counts.append(counts[-1].sum(axis=-1))
    counts = counts[::-1]  # counts[t][h] = N(h) for prefixes of length t
    _, masks = _initial_logits(log_p)
    log_cond = []
    for t in range(len(sizes)):
        allowed = masks[t]
        numerator = np.where(allowed, counts[t + 1] + smoothing, 0.0)
        total = numerator.sum(axis=-1, keepdims=True)
        fallback = allowed / np.maximum(allowed.sum(axis=-1, keepdims=True), 1)  # uniform on supp π(·|h)
        cond = np.where(total > 0, numerator / np.where(total > 0, total, 1.0), fallback)
        with np.errstate(divide="ignore"):
            log_cond.append(np.log(cond))
    return np.exp(log_joint_from_conditionals(log_cond))


def _as_sequences(model: AutoregressiveModel, sequences: np.ndarray) -> np.ndarray:
    arr = model.check_sequences(sequences)
    return arr.reshape(-1, model.horizon)


class DistillationTrajectory(NamedTuple):
    """Power self-distillation error against the number of teacher samples ``n`` (Eqs. 15-16)."""

    sample_sizes: np.ndarray  #: (m,) n, the number of pairs (x_i, y_i) used
    forward_kl: np.ndarray  #: (m,) E_μ KL(π_α ‖ q̂_n), the population objective of Eq. (15) minus its minimum
    reverse_kl: np.ndarray  #: (m,) E_μ KL(q̂_n ‖ π_α), the RL suboptimality (J* - J(q̂_n)) / β of Eq. (14)
    total_variation: np.ndarray  #: (m,) E_μ ½ Σ_y |q̂_n(y) - π_α(y)|
    hellinger_squared: np.ndarray  #: (m,) E_μ D_H²(q̂_n, π_α) = Σ_y (√q̂ - √π_α)² (App. A.3, no ½)
    final_policy: object  #: q̂ at the last n of sample_sizes: an array of shape vocab_sizes (a tuple per prompt)
    alpha: float
    smoothing: float


def distill_power(
    model: AutoregressiveModel | PromptedModel,
    alpha: float,
    sample_sizes: Sequence[int],
    rng: np.random.Generator,
    smoothing: float = 0.5,
) -> DistillationTrajectory:
    """Power self-distillation (Algorithm 1, Eqs. 15-16) into the softmax class, for each ``n`` in ``sample_sizes``.

    Draws ``N = max(sample_sizes)`` pairs ``x_i ~ μ``, ``y_i ~ π_α(·|x_i)`` once
    (exactly, by :func:`~exact.sample_power`) and fits the closed-form MLE on the
    first ``n`` of them, so the curve is over nested data sets.
    """
    alpha = check_alpha(alpha)
    sizes_n = np.array([_check_count(n, "sample size") for n in sample_sizes], dtype=np.int64)
    if sizes_n.ndim != 1 or sizes_n.size == 0:
        raise ValueError("sample_sizes must be a non-empty sequence of non-negative integers")
    rng = check_rng(rng)
    prompted = as_prompted(model)
    total = int(sizes_n.max())
    prompts = rng.choice(prompted.n_prompts, size=total, p=prompted.weights)
    samples = [sample_power(m, alpha, int(np.sum(prompts == x)), rng) for x, m in enumerate(prompted.models)]
    log_targets = [np.asarray(log_power_joint(m, alpha)) for m in prompted.models]
    metrics = np.zeros((sizes_n.size, 4))
    finals: list[np.ndarray] = []
    for i, n in enumerate(sizes_n):
        per = np.zeros((prompted.n_prompts, 4))
        finals = []
        for x, m in enumerate(prompted.models):
            n_x = int(np.sum(prompts[:n] == x))
            q_hat = mle_policy(m, samples[x][:n_x], smoothing)
            target = np.exp(log_targets[x])
            with np.errstate(divide="ignore"):
                log_q_hat = np.log(q_hat)
            per[x] = (
                kl_from_table(target, log_q_hat),
                kl_from_table(q_hat, log_targets[x]),
                0.5 * np.abs(q_hat - target).sum(),
                np.sum((np.sqrt(q_hat) - np.sqrt(target)) ** 2),
            )
            finals.append(q_hat)
        metrics[i] = [prompted.expectation(per[:, j]) for j in range(4)]
    final = tuple(finals) if isinstance(model, PromptedModel) else finals[0]
    forward, reverse, total_variation, hellinger = metrics.T
    return DistillationTrajectory(sizes_n, forward, reverse, total_variation, hellinger, final, alpha, float(smoothing))


__all__ = [
    "log_conditionals_from_joint",
    "log_joint_from_conditionals",
    "RLAscentTrajectory",
    "kl_rl_ascent",
    "mle_policy",
    "DistillationTrajectory",
    "distill_power",
]
