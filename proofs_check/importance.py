"""The variance-minimising one-step SIS proposal (paper Section 4.2, Prop. 2, Appendix A.2).

At a fixed prefix ``y_<t`` let ``f(v) = π_α(y_<t, v) / π_α(y_<t)`` be the power
next-token conditional and ``q`` any proposal with full support; the incremental
weight is ``W = f(Y)/q(Y)`` with ``Y ~ q`` (Eq. 9).  Prop. 2:

* ``E_q[W] = Σ_v f(v) = 1`` and ``Var_q[W] = Σ_v f(v)²/q(v) - 1``;
* the unique minimiser of ``Var_q[W]`` over the simplex is ``q = f`` (Eq. 10).

The minimiser is verified two ways: Lagrange's identity writes the
Cauchy-Schwarz gap as a sum of squares,
``Var_q[W] = ½ Σ_{u,v} (q_u f_v - q_v f_u)² / (q_u q_v)``, which is 0 iff ``q ∝ f``
(i.e. ``q = f``); and the Lagrange conditions of ``min Σ f²/q s.t. Σ q = 1`` hold at
``q = f`` (multiplier ``λ = -1``) with a positive-definite Hessian ``diag(2 f²/q³)``.
Finally ``f = π̃_{α,t}(y_{1:t}) / π̃_{α,t-1}(y_<t)`` (Eq. 10's prefix-total form).
"""

from __future__ import annotations

import itertools

import sympy as sp

from ._algebra import simplex, vanishes
from ._registry import register, require
from .power_conditionals import ALPHA

#: Size of the next-token support in the symbolic checks.
N_TOKENS = 3


def weight_moments(f: list[sp.Expr], q: list[sp.Expr]) -> tuple[sp.Expr, sp.Expr]:
    """``(E_q[W], E_q[W²])`` for ``W = f(Y)/q(Y)``, ``Y ~ q``, by summing over the support (Eq. 9)."""
    mean = sp.Add(*(q[v] * (f[v] / q[v]) for v in range(len(q))))
    second = sp.Add(*(q[v] * (f[v] / q[v]) ** 2 for v in range(len(q))))
    return mean, second


def prop2_variance(f: list[sp.Expr], q: list[sp.Expr]) -> sp.Expr:
    """Prop. 2's closed form ``Var_q[W] = Σ_v f(v)²/q(v) - 1``."""
    return sp.Add(*(f[v] ** 2 / q[v] for v in range(len(q)))) - 1


def cauchy_schwarz_gap(f: list[sp.Expr], q: list[sp.Expr]) -> sp.Expr:
    """Lagrange's identity for the Cauchy-Schwarz gap: ``½ Σ_{u,v} (q_u f_v - q_v f_u)² / (q_u q_v)``."""
    n = len(q)
    return sp.Rational(1, 2) * sp.Add(
        *((q[u] * f[v] - q[v] * f[u]) ** 2 / (q[u] * q[v]) for u in range(n) for v in range(n))
    )


@register(
    "prop2_variance",
    "E_q[W] = 1 and Var_q[W] = Σ f²/q - 1 for W = f(Y)/q(Y), Y ~ q (general f, q on 3 tokens)",
    "Prop. 2 proof, Appendix A.2.4",
)
def check_prop2_variance() -> str:
    f, q = simplex("c", N_TOKENS), simplex("d", N_TOKENS)
    mean, second = weight_moments(f, q)
    require(vanishes(mean - 1), "E_q[W] ≠ 1")
    require(vanishes((second - mean**2) - prop2_variance(f, q)), "Var_q[W] ≠ Σ f²/q - 1")
    require(not vanishes((second - mean**2) - (prop2_variance(f, q) + 1)), "negative control passed")
    return f"{N_TOKENS} tokens, f and q general points of the simplex"


@register(
    "prop2_minimiser",
    "Var_q[W] = ½ Σ_{u,v} (q_u f_v - q_v f_u)²/(q_u q_v) ≥ 0, = 0 iff q = f; Lagrange conditions hold at q = f",
    "Prop. 2 and Eq. (10) (Cauchy-Schwarz step of Appendix A.2.4)",
)
def check_prop2_minimiser() -> str:
    f, q = simplex("c", N_TOKENS), simplex("d", N_TOKENS)
    gap = cauchy_schwarz_gap(f, q)
    require(vanishes(prop2_variance(f, q) - gap), "Var_q[W] is not the Cauchy-Schwarz sum of squares")
    # every square vanishes iff q_u f_v = q_v f_u for all u, v, i.e. q ∝ f; both sum to 1, so q = f
    require(all(vanishes((q[u] * f[v] - q[v] * f[u]).subs(dict(zip(_weights(q), _weights(f)))))
                for u, v in itertools.combinations(range(N_TOKENS), 2)), "a square does not vanish at q = f")
    # Lagrange: L(q, λ) = Σ f²/q - 1 - λ (Σ q - 1) over free q_v > 0
    free_q = sp.symbols(f"q0:{N_TOKENS}", positive=True)
    lam = sp.Symbol("lambda")
    objective = prop2_variance(f, list(free_q))
    lagrangian = objective - lam * (sp.Add(*free_q) - 1)
    at_f = {**dict(zip(free_q, f)), lam: -1}
    for v in range(N_TOKENS):
        require(vanishes(sp.diff(lagrangian, free_q[v]).subs(at_f)), f"∂L/∂q_{v} ≠ 0 at q = f, λ = -1")
    require(vanishes(sp.diff(lagrangian, lam).subs(at_f)), "constraint violated at q = f")
    hessian = sp.hessian(objective, free_q)
    for u in range(N_TOKENS):
        for v in range(N_TOKENS):
            entry = hessian[u, v]
            if u == v:
                require(vanishes(entry - 2 * f[v] ** 2 / free_q[v] ** 3), f"Hessian diagonal {v} ≠ 2f²/q³")
            else:
                require(entry == 0, f"Hessian off-diagonal ({u}, {v}) ≠ 0")
    require(vanishes(objective.subs(at_f)), "Var_q[W] ≠ 0 at q = f")
    return f"{N_TOKENS} tokens; strictly convex objective (Hessian diag(2f²/q³) > 0), unique stationary point q = f"


def _weights(distribution: list[sp.Expr]) -> list[sp.Symbol]:
    """The positive symbols ``w_i`` behind a :func:`simplex` point, in order."""
    return [sp.numer(value) for value in distribution]


@register(
    "prop2_eq10",
    "f(v) = π_α(y_<t, v)/π_α(y_<t) = π̃_{α,t}(y_<t, v)/π̃_{α,t-1}(y_<t) = power conditional (Eq. 6)",
    "Prop. 2, Eq. (10), with Eq. (8)",
)
def check_prop2_eq10() -> str:
    from .power_conditionals import N_SUFFIXES, power_conditional_definition, symbolic_model

    _, _, _, joint = symbolic_model()
    rest = sp.Symbol("Z_other", positive=True)  # Σ π^α over sequences with a different prefix
    prefix_totals_t = [sp.Add(*(value**ALPHA for value in row)) for row in joint]  # π̃_{α,t}(y_<t, v), Eq. (8)
    prefix_total_parent = sp.Add(*prefix_totals_t)  # π̃_{α,t-1}(y_<t)
    partition = prefix_total_parent + rest  # Z_α
    f = [(total / partition) / (prefix_total_parent / partition) for total in prefix_totals_t]
    definition = power_conditional_definition(joint, ALPHA)
    for v in range(len(f)):
        require(vanishes(f[v] - prefix_totals_t[v] / prefix_total_parent), f"ratio of π_α ≠ ratio of π̃ at v = {v}")
        require(vanishes(f[v] - definition[v]), f"Eq. (10) ≠ Eq. (6) at v = {v}")
    return f"{len(f)} tokens × {N_SUFFIXES} suffixes, other prefixes' mass symbolic, symbolic α > 0"
