"""Sharpening as α grows (paper Section 5.3, Props. 3-4, Appendix A.3-A.4).

* Prop. 3's limit (Eq. 30): with ``m = max_y π(y)`` attained on the set ``y*`` of
  size ``k``, ``π_α(y*) = k·m^α / Z_α → 1`` as ``α → ∞``.  The symbolic support has
  ``k`` maximisers and 3 other sequences with ``π(y_i) = m·ρ_i``, ``ρ_i = 1/(1 + e_i)``
  for positive symbols ``e_i`` (so ``0 < ρ_i < 1`` for every admissible value) and
  ``m = 1/(k + Σ ρ_i)`` (so ``π`` sums to 1).
* Prop. 3's finite-sample step (Appendix A.3, Eqs. 24-26): the Hellinger reverse
  triangle inequality (Eq. 25, via Lagrange's identity), the constant
  ``c0 = (1 - 1/√2)²`` of ``(√δ - √(δ/2))² = c0·δ``, and ``(√q(B) - √p(B))² ≥ c0·δ`` on
  the event ``q(B) ≥ δ > 2·p(B)``, so Eq. (17)'s constant is ``2/c0``.  (Lemma 1, the MLE
  Hellinger bound, is probabilistic and is not checked here.)
* Prop. 4 (Eq. 18): ``∂_α E_{π_α}[r*] = Cov_{π_α}(r*, log π)`` for any real rewards
  ``r*``, and ``= c·Var_{π_α}(log π)`` when ``r* = c·log π + b`` (Eq. 19).
"""

from __future__ import annotations

import sympy as sp

from ._algebra import simplex, vanishes
from ._registry import register, require
from .self_reward import expectation

ALPHA = sp.Symbol("alpha", positive=True)
#: Sequences outside the maximiser set in the Prop. 3 support.
N_OTHERS = 3
#: Size of the Prop. 4 support.
N_SEQUENCES = 4


def prop3_support(ties: int) -> tuple[list[sp.Expr], sp.Expr, list[sp.Expr]]:
    """``(π, m, ρ)``: a normalised symbolic distribution with ``ties`` maximisers of mass ``m``."""
    excess = sp.symbols(f"e0:{N_OTHERS}", positive=True)
    ratios = [1 / (1 + e) for e in excess]
    top = 1 / (ties + sp.Add(*ratios))
    return [top] * ties + [top * rho for rho in ratios], top, ratios


def maximiser_mass(probabilities: list[sp.Expr], ties: int, alpha: sp.Expr) -> sp.Expr:
    """Eq. (30): ``π_α(y*) = Σ_{y ∈ y*} π(y)^α / Σ_y π(y)^α`` (the first ``ties`` entries are ``y*``)."""
    powers = [value**alpha for value in probabilities]
    return sp.Add(*powers[:ties]) / sp.Add(*powers)


def _check_prop3(ties: int) -> str:
    probabilities, top, ratios = prop3_support(ties)
    require(vanishes(sp.Add(*probabilities) - 1), "the support does not sum to 1")
    mass = maximiser_mass(probabilities, ties, ALPHA)
    partition = sp.Add(*(value**ALPHA for value in probabilities))
    require(vanishes(mass - ties * top**ALPHA / partition), "π_α(y*) ≠ |y*| m^α / Z_α (Eqs. 27-30)")
    reduced = ties / (ties + sp.Add(*(rho**ALPHA for rho in ratios)))  # divide through by m^α
    require(vanishes(mass - reduced), "π_α(y*) ≠ |y*| / (|y*| + Σ ρ_i^α)")
    for rho in ratios:
        require(sp.limit(rho**ALPHA, ALPHA, sp.oo) == 0, f"ρ^α does not vanish for ρ = {rho}")
    limit = sp.limit(reduced, ALPHA, sp.oo)
    require(limit == 1, f"lim π_α(y*) = {limit}, not 1")
    # control: at the other end, α → 0 flattens π_α to uniform, so the limit machinery must not say 1 there
    flat = sp.limit(reduced, ALPHA, 0)
    require(flat == sp.Rational(ties, ties + N_OTHERS), f"lim_(α→0) π_α(y*) = {flat}, not |y*|/|Y|")
    return f"|y*| = {ties} maximiser(s) + {N_OTHERS} others, symbolic gaps e_i > 0"


@register(
    "prop3_unique_max",
    "π_α(y*) → 1 as α → ∞ when the maximiser y* of π is unique (general symbolic support)",
    "Prop. 3, Eq. (30)",
)
def check_prop3_unique_max() -> str:
    return _check_prop3(1)


@register(
    "prop3_ties",
    "|y*|·m^α / Z_α → 1 as α → ∞ with two tied maximisers of mass m",
    "Prop. 3, Eqs. (27)-(30)",
)
def check_prop3_ties() -> str:
    return _check_prop3(2)


def _lagrange_gap(size: int) -> tuple[sp.Expr, sp.Expr]:
    """Eq. (25)'s gap and its sum-of-squares form on ``|B| = size`` sequences.

    With ``u_y = √q(y)``, ``v_y = √p(y)``: ``Σ_B (u - v)² - (√Σu² - √Σv²)² = 2(‖u‖‖v‖ - u·v)``,
    and ``‖u‖²‖v‖² - (u·v)² = Σ_{i<j} (u_i v_j - u_j v_i)²`` (Lagrange's identity), so the gap is
    ``≥ 0`` (Cauchy-Schwarz).  Returns ``(‖u‖²‖v‖² - (u·v)², Σ_{i<j}(u_i v_j - u_j v_i)²)``.
    """
    u = sp.symbols(f"u0:{size}", positive=True)
    v = sp.symbols(f"v0:{size}", positive=True)
    dot = sp.Add(*(a * b for a, b in zip(u, v)))
    norms = sp.Add(*(a**2 for a in u)) * sp.Add(*(b**2 for b in v))
    squares = sp.Add(*((u[i] * v[j] - u[j] * v[i]) ** 2 for i in range(size) for j in range(i + 1, size)))
    gap = sp.Add(*((a - b) ** 2 for a, b in zip(u, v))) - (sp.sqrt(sp.Add(*(a**2 for a in u))) - sp.sqrt(sp.Add(*(b**2 for b in v)))) ** 2
    cross = 2 * (sp.sqrt(norms) - dot)
    require(sp.expand(gap - cross) == 0, f"|B| = {size}: the gap is not 2(‖u‖‖v‖ - u·v)")
    return sp.expand(norms - dot**2), sp.expand(squares)


@register(
    "prop3_hellinger_step",
    "D_H² ≥ (√q(B) - √p(B))² ≥ c0·δ with c0 = (1 - 1/√2)² on q(B) ≥ δ > 2p(B), so Eq. (17) holds with 2/c0",
    "Prop. 3, Appendix A.3, Eqs. (24)-(26)",
)
def check_prop3_hellinger_step() -> str:
    for size in (2, 3):
        lagrange, squares = _lagrange_gap(size)
        require(vanishes(lagrange - squares), f"Lagrange's identity fails for |B| = {size}")
    delta = sp.Symbol("delta", positive=True)
    c0 = (1 - 1 / sp.sqrt(2)) ** 2
    require(vanishes(sp.expand((sp.sqrt(delta) - sp.sqrt(delta / 2)) ** 2 - c0 * delta)), "(√δ - √(δ/2))² ≠ c0·δ")
    # On E(x): q(B) = δ(1 + s)² ≥ δ and p(B) = δ/(2(1 + t)²) < δ/2 (s ≥ 0, t > 0 cover the event).  Then
    # √q(B) - √p(B) - (√δ - √(δ/2)) = √δ·s + √(δ/2)·t/(1 + t), both terms ≥ 0.
    s, t = sp.Symbol("s", nonnegative=True), sp.Symbol("t", positive=True)
    q_b, p_b = delta * (1 + s) ** 2, delta / (2 * (1 + t) ** 2)
    excess = sp.sqrt(q_b) - sp.sqrt(p_b) - (sp.sqrt(delta) - sp.sqrt(delta / 2))
    terms = sp.sqrt(delta) * s + sp.sqrt(delta / 2) * t / (1 + t)
    require(vanishes(excess - terms), "√q(B) - √p(B) - (√δ - √(δ/2)) ≠ the two nonnegative terms")
    require(all(term.is_nonnegative for term in sp.Add.make_args(terms)), "a term of the decomposition is not ≥ 0")
    factor = 1 - 1 / sp.sqrt(2)  # √δ - √(δ/2) = √δ·(1 - 1/√2) > 0, so squaring keeps the order
    require(vanishes(sp.sqrt(delta) - sp.sqrt(delta / 2) - sp.sqrt(delta) * factor) and factor.is_positive,
            "√δ - √(δ/2) is not √δ·(1 - 1/√2) > 0")
    constant = sp.nsimplify(sp.radsimp(2 / c0))
    require(vanishes(constant - 4 * (3 + 2 * sp.sqrt(2))), f"2/c0 = {constant}, not 4(3 + 2√2)")
    # control: the margin p(B) < δ/2 is what makes c0 > 0 -- with p(B) = δ(1 - ε) allowed, the gap closes as ε → 0
    eps = sp.Symbol("epsilon", positive=True)
    closed = sp.limit((sp.sqrt(delta) - sp.sqrt(delta * (1 - eps))) ** 2 / delta, eps, 0)
    require(closed == 0, f"control: without the margin the gap tends to {closed}, not 0")
    return f"Lagrange's identity for |B| = 2, 3; c0 = (1 - 1/√2)²; 2/c0 = 4(3 + 2√2) ≈ {float(constant):.2f}"


def true_reward_rate(base: list[sp.Expr], reward: list[sp.Expr], alpha: sp.Expr) -> sp.Expr:
    """``∂_α R(α)`` with ``R(α) = E_{π_α}[r*]``, by differentiating ``Σ r π^α / Σ π^α``."""
    powers = [value**alpha for value in base]
    return sp.diff(sp.Add(*(r * w for r, w in zip(reward, powers))) / sp.Add(*powers), alpha)


def prop4_covariance(base: list[sp.Expr], reward: list[sp.Expr], alpha: sp.Expr) -> sp.Expr:
    """Right-hand side of Eq. (18): ``Cov_{π_α}(r*, log π) = E[r* log π] - E[r*] E[log π]``."""
    partition = sp.Add(*(value**alpha for value in base))
    power = [value**alpha / partition for value in base]
    log_base = [sp.log(value) for value in base]
    return expectation(power, [r * l for r, l in zip(reward, log_base)]) - expectation(power, reward) * expectation(
        power, log_base
    )


@register(
    "prop4_covariance",
    "d/dα E_{π_α}[r*] - Cov_{π_α}(r*, log π) = 0 for any rewards; = c·Var_{π_α}(log π) when r* = c·log π + b",
    "Prop. 4, Eqs. (18)-(19), Appendix A.4 Eqs. (31)-(36)",
)
def check_prop4_covariance() -> str:
    base = simplex("w", N_SEQUENCES)
    reward = list(sp.symbols(f"r0:{N_SEQUENCES}", real=True))
    require(vanishes(true_reward_rate(base, reward, ALPHA) - prop4_covariance(base, reward, ALPHA)), "Eq. (18) fails")
    # Eq. (31): ∂_α log Z_α = E_{π_α}[log π]
    partition = sp.Add(*(value**ALPHA for value in base))
    power = [value**ALPHA / partition for value in base]
    log_base = [sp.log(value) for value in base]
    require(vanishes(sp.diff(sp.log(partition), ALPHA) - expectation(power, log_base)), "Eq. (31) fails")
    scale, shift = sp.Symbol("c", positive=True), sp.Symbol("b", real=True)
    affine = [scale * l + shift for l in log_base]  # Eq. (19)
    variance = expectation(power, [l**2 for l in log_base]) - expectation(power, log_base) ** 2
    require(vanishes(true_reward_rate(base, affine, ALPHA) - scale * variance), "∂_α R ≠ c·Var(log π) under Eq. (19)")
    require(not vanishes(true_reward_rate(base, reward, ALPHA) + prop4_covariance(base, reward, ALPHA)),
            "negative control passed")
    return f"support of {N_SEQUENCES}, general π, real rewards, symbolic α > 0"
