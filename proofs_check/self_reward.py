"""KL-regularised RL with self-reward and power self-distillation (paper Sections 5.1-5.2, Appendix A.5).

On a support of ``N = 4`` sequences with a general base policy ``π`` (a point of
the open simplex), a general candidate policy ``q``, real rewards ``r(y)`` and a
positive symbol ``β``:

* Eq. (11) (one prompt): ``J_β(q) = E_q[r] - β KL(q ‖ π)``;
* Eq. (12): ``π*_β(y) = π(y) e^{r(y)/β} / Z_r``, ``Z_r = Σ_y π(y) e^{r(y)/β}``;
* Prop. 5 (proof): ``J_β(q) = -β KL(q ‖ π*_β) + β log Z_r``, so ``π*_β`` is the unique maximiser;
* Cor. 1, Eq. (13): with ``r = r_self = log π`` (Eq. 1), ``π*_β = π^(1+1/β) / Σ π^(1+1/β) = π_α``, ``α = 1 + 1/β``;
* Eq. (14): ``E_q[log π] - β KL(q ‖ π) = -β KL(q ‖ π_α) + β log Z_r`` with ``Z_r = Z_α``;
* Eq. (15): ``KL(π_α ‖ q) = E_{π_α}[log π_α] - E_{π_α}[log q]``.
"""

from __future__ import annotations

import sympy as sp

from ._algebra import simplex, vanishes
from ._registry import register, require

BETA = sp.Symbol("beta", positive=True)
ALPHA = sp.Symbol("alpha", positive=True)
#: Number of sequences in the symbolic support.
N_SEQUENCES = 4


def kl(p: list[sp.Expr], q: list[sp.Expr]) -> sp.Expr:
    """``KL(p ‖ q) = Σ_y p(y) log(p(y)/q(y))``."""
    return sp.Add(*(p[y] * sp.log(p[y] / q[y]) for y in range(len(p))))


def expectation(p: list[sp.Expr], values: list[sp.Expr]) -> sp.Expr:
    """``E_p[values] = Σ_y p(y) values(y)``."""
    return sp.Add(*(p[y] * values[y] for y in range(len(p))))


def kl_objective(q: list[sp.Expr], base: list[sp.Expr], reward: list[sp.Expr], beta: sp.Expr) -> sp.Expr:
    """Eq. (11) for one prompt: ``J_β(q) = E_q[r] - β KL(q ‖ π)``."""
    return expectation(q, reward) - beta * kl(q, base)


def tilted(base: list[sp.Expr], reward: list[sp.Expr], beta: sp.Expr) -> tuple[list[sp.Expr], sp.Expr]:
    """Eq. (12): ``(π*_β, Z_r)`` with ``π*_β(y) = π(y) exp(r(y)/β) / Z_r``."""
    unnormalised = [base[y] * sp.exp(reward[y] / beta) for y in range(len(base))]
    partition = sp.Add(*unnormalised)
    return [u / partition for u in unnormalised], partition


@register(
    "prop5_eq14",
    "J_β(q) + β·KL(q ‖ π*_β) - β·log Z_r = 0 for any q, reward r and β > 0 (so π*_β is the unique maximiser)",
    "Prop. 5 (proof in Appendix A.5), Eqs. (11), (12)",
)
def check_prop5_eq14() -> str:
    base, q = simplex("w", N_SEQUENCES), simplex("u", N_SEQUENCES)
    reward = list(sp.symbols(f"r0:{N_SEQUENCES}", real=True))
    optimum, partition = tilted(base, reward, BETA)
    identity = kl_objective(q, base, reward, BETA) + BETA * kl(q, optimum) - BETA * sp.log(partition)
    require(vanishes(identity), "J_β(q) ≠ -β KL(q‖π*_β) + β log Z_r")
    require(vanishes(sp.Add(*optimum) - 1), "π*_β does not sum to 1")
    require(not vanishes(identity + BETA * kl(q, optimum)), "negative control passed")
    return f"support of {N_SEQUENCES}, general π, q, real rewards, symbolic β > 0"


@register(
    "cor1_self_reward_tilt",
    "with r = log π: π*_β = π^(1+1/β)/Σ π^(1+1/β) = π_α (α = 1+1/β), Z_r = Z_α, and Eq. 14 holds with π_α",
    "Cor. 1, Eqs. (1), (13), (14)",
)
def check_cor1_self_reward_tilt() -> str:
    base, q = simplex("w", N_SEQUENCES), simplex("u", N_SEQUENCES)
    self_reward = [sp.log(value) for value in base]  # Eq. (1)
    optimum, partition = tilted(base, self_reward, BETA)
    alpha = 1 + 1 / BETA
    power_partition = sp.Add(*(value**alpha for value in base))
    power = [value**alpha / power_partition for value in base]  # Eq. (4)
    for y in range(N_SEQUENCES):
        require(vanishes(optimum[y] - power[y]), f"π*_β ≠ π^(1+1/β)/Z at y = {y}")
    require(vanishes(partition - power_partition), "Z_r ≠ Z_α")
    eq14 = kl_objective(q, base, self_reward, BETA) - (-BETA * kl(q, power) + BETA * sp.log(partition))
    require(vanishes(eq14), "Eq. (14) fails")
    wrong = [value ** (1 + BETA) for value in base]  # negative control: α = 1 + β instead of 1 + 1/β
    require(not vanishes(optimum[0] - wrong[0] / sp.Add(*wrong)), "negative control passed")
    return f"support of {N_SEQUENCES}, general π and q, symbolic β > 0"


@register(
    "eq15_forward_kl",
    "KL(π_α ‖ q) = E_{π_α}[log π_α] - E_{π_α}[log q] (the first term does not involve q)",
    "Eq. (15)",
)
def check_eq15_forward_kl() -> str:
    base, q = simplex("w", N_SEQUENCES), simplex("u", N_SEQUENCES)
    power_partition = sp.Add(*(value**ALPHA for value in base))
    power = [value**ALPHA / power_partition for value in base]
    log_power = [sp.log(value) for value in power]
    rhs = expectation(power, log_power) - expectation(power, [sp.log(value) for value in q])
    require(vanishes(kl(power, q) - rhs), "Eq. (15) fails")
    q_symbols = {sp.numer(value) for value in q}
    require(not (expectation(power, log_power).free_symbols & q_symbols), "E[log π_α] depends on q")
    return f"support of {N_SEQUENCES}, general π and q, symbolic α > 0"
