"""Next-token conditionals of the power distribution (paper Section 4.1, Appendix A.1; SPS Theorem 3.1).

Setting, as in the proof of Prop. 1: one fixed prefix ``y_<t`` of probability
``π(y_<t) = P0 > 0``, a next token ``s`` out of ``V = 3`` with ``p(s) = π(y_t = s | y_<t)``
a general point of the simplex, and after each ``s`` a suffix ``z`` out of 3 with
its own general suffix distribution ``q_s(z)``.  The joint is the autoregressive
factorisation ``π(y_<t, s, z) = P0 · p(s) · q_s(z)``; ``α`` is a positive symbol.

* Eq. (6), definition: ``π_pow,α(s) = Σ_z π(y_<t,s,z)^α / Σ_{s',z} π(y_<t,s',z)^α``.
* Eq. (21): ``π_pow,α(s) = p(s)^α Σ_z q_s(z)^α / Σ_{s'} p(s')^α Σ_z q_{s'}(z)^α``.
* Eq. (5): ``π_temp,α(s) = p(s)^α / Σ_{s'} p(s')^α``.
* Eq. (7): ``(π_pow(a)/π_pow(b)) / (π_temp(a)/π_temp(b)) = exp((1-α)(H_α(q_a) - H_α(q_b)))``
  with ``H_α(q) = log(Σ_z q(z)^α) / (1-α)``.
* Scalable Power Sampling, Theorem 3.1: ``π_pow,α(s) = p(s)^α ζ(s) / Σ_{s'} p(s')^α ζ(s')``
  with ``ζ(s) = E_{z ~ q_s}[q_s(z)^(α-1)]``.
"""

from __future__ import annotations

import itertools

import sympy as sp

from ._algebra import simplex, vanishes
from ._registry import register, require

ALPHA = sp.Symbol("alpha", positive=True)
#: Next tokens and suffixes of the symbolic model (3 × 3: no identity here is a special case).
N_TOKENS, N_SUFFIXES = 3, 3


def symbolic_model() -> tuple[sp.Symbol, list[sp.Expr], list[list[sp.Expr]], list[list[sp.Expr]]]:
    """``(P0, p, q, joint)``: prefix mass, next-token conditional, suffix distributions, ``joint[s][z]``."""
    prefix_mass = sp.Symbol("P0", positive=True)
    p = simplex("a", N_TOKENS)
    q = [simplex(f"b{s}_", N_SUFFIXES) for s in range(N_TOKENS)]
    joint = [[prefix_mass * p[s] * q[s][z] for z in range(N_SUFFIXES)] for s in range(N_TOKENS)]
    return prefix_mass, p, q, joint


def power_conditional_definition(joint: list[list[sp.Expr]], alpha: sp.Expr) -> list[sp.Expr]:
    """Eq. (6): ``Σ_z π(y_<t,s,z)^α / Σ_{s',z} π(y_<t,s',z)^α`` for every ``s``."""
    numerators = [sp.Add(*(value**alpha for value in row)) for row in joint]
    total = sp.Add(*numerators)
    return [n / total for n in numerators]


def power_conditional_eq21(p: list[sp.Expr], q: list[list[sp.Expr]], alpha: sp.Expr) -> list[sp.Expr]:
    """Eq. (21): ``p(s)^α Σ_z q_s(z)^α`` normalised over ``s``."""
    scores = [p[s] ** alpha * sp.Add(*(v**alpha for v in q[s])) for s in range(len(p))]
    total = sp.Add(*scores)
    return [score / total for score in scores]


def temp_conditional(p: list[sp.Expr], alpha: sp.Expr) -> list[sp.Expr]:
    """Eq. (5): ``p(s)^α / Σ_{s'} p(s')^α``."""
    total = sp.Add(*(v**alpha for v in p))
    return [v**alpha / total for v in p]


def renyi_entropy(q: list[sp.Expr], alpha: sp.Expr) -> sp.Expr:
    """``H_α(q) = log(Σ_z q(z)^α) / (1 - α)`` (Prop. 1)."""
    return sp.log(sp.Add(*(v**alpha for v in q))) / (1 - alpha)


def eq7_prediction(entropy_a: sp.Expr, entropy_b: sp.Expr, alpha: sp.Expr) -> sp.Expr:
    """Right-hand side of Eq. (7): ``exp((1 - α)(H_α(q_a) - H_α(q_b)))``."""
    return sp.exp((1 - alpha) * (entropy_a - entropy_b))


def zeta(q_s: list[sp.Expr], alpha: sp.Expr) -> sp.Expr:
    """SPS Theorem 3.1 scaling factor in expectation form, ``ζ(s) = Σ_z q_s(z) · q_s(z)^(α-1)``."""
    return sp.Add(*(v * v ** (alpha - 1) for v in q_s))


@register(
    "prop1_eq21",
    "power conditional (Eq. 6) of an autoregressive joint P0·p(s)·q_s(z) equals p(s)^α Σ q_s^α / Σ_s' (same) (Eq. 21)",
    "Prop. 1 proof, Appendix A.1, Eqs. (6), (21)",
)
def check_prop1_eq21() -> str:
    _, p, q, joint = symbolic_model()
    definition = power_conditional_definition(joint, ALPHA)
    eq21 = power_conditional_eq21(p, q, ALPHA)
    for s in range(N_TOKENS):
        require(vanishes(definition[s] - eq21[s]), f"Eq. (6) and Eq. (21) differ at token s = {s}")
    require(vanishes(sp.Add(*definition) - 1), "Eq. (6) does not sum to 1 over the next token")
    # negative control: Eq. (21) without its p(s)^α factor must be rejected
    wrong = power_conditional_eq21([sp.Integer(1)] * N_TOKENS, q, ALPHA)
    require(not vanishes(definition[0] - wrong[0]), "decision procedure is vacuous: a wrong Eq. (21) passed")
    return f"V = {N_TOKENS} tokens × {N_SUFFIXES} suffixes, symbolic α > 0"


@register(
    "prop1_eq7",
    "(π_pow odds a:b)/(π_temp odds a:b) = exp((1-α)(H_α(q_a) - H_α(q_b))) for every token pair (Eq. 7)",
    "Prop. 1, Eq. (7), with Eqs. (5), (6) and the Rényi entropy definition",
)
def check_prop1_eq7() -> str:
    _, p, q, joint = symbolic_model()
    power = power_conditional_definition(joint, ALPHA)
    temp = temp_conditional(p, ALPHA)
    entropies = [renyi_entropy(q[s], ALPHA) for s in range(N_TOKENS)]
    pairs = list(itertools.combinations(range(N_TOKENS), 2))
    for a, b in pairs:
        odds_gap = (power[a] / power[b]) / (temp[a] / temp[b])
        prediction = eq7_prediction(entropies[a], entropies[b], ALPHA)
        require(vanishes(odds_gap - prediction), f"Eq. (7) fails for the pair (a, b) = ({a}, {b})")
        # Prop. 1 also names the intermediate step: the gap is Σ q_a^α / Σ q_b^α
        masses = [sp.Add(*(v**ALPHA for v in q[s])) for s in (a, b)]
        require(vanishes(odds_gap - masses[0] / masses[1]), f"odds gap ≠ Σq_a^α/Σq_b^α for ({a}, {b})")
    # negative control: the opposite sign, exp((α-1)(H_a - H_b)), must be rejected
    flipped = sp.exp((ALPHA - 1) * (entropies[0] - entropies[1]))
    require(not vanishes((power[0] / power[1]) / (temp[0] / temp[1]) - flipped), "a sign-flipped Eq. (7) passed")
    return f"V = {N_TOKENS} tokens × {N_SUFFIXES} suffixes, {len(pairs)} pairs, symbolic α > 0"


@register(
    "sps_theorem31",
    "power conditional = p^α(s)·ζ(s) / Σ_s' p^α(s')·ζ(s') with ζ(s) = E_{z~q_s}[q_s(z)^(α-1)] (SPS Thm 3.1)",
    "Scalable Power Sampling (arXiv 2601.21590), Theorem 3.1",
)
def check_sps_theorem31() -> str:
    _, p, q, joint = symbolic_model()
    definition = power_conditional_definition(joint, ALPHA)
    scores = [p[s] ** ALPHA * zeta(q[s], ALPHA) for s in range(N_TOKENS)]
    total = sp.Add(*scores)
    for s in range(N_TOKENS):
        require(vanishes(definition[s] - scores[s] / total), f"Theorem 3.1 fails at token s = {s}")
        # the expectation form equals the suffix power mass Σ_z q_s(z)^α (the SPS summary's second form)
        require(vanishes(zeta(q[s], ALPHA) - sp.Add(*(v**ALPHA for v in q[s]))), f"ζ(s) ≠ Σ q_s^α at s = {s}")
    # negative controls: ζ alone (no p(s)^α) and p(s)^α alone (no ζ: the temperature conditional) must be rejected
    for wrong in ([zeta(q[s], ALPHA) for s in range(N_TOKENS)], [p[s] ** ALPHA for s in range(N_TOKENS)]):
        require(not vanishes(definition[0] - wrong[0] / sp.Add(*wrong)), "decision procedure is vacuous: a wrong Thm 3.1 passed")
    return f"V = {N_TOKENS} tokens × {N_SUFFIXES} suffixes, symbolic α > 0"
