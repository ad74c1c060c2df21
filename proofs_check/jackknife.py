"""Bias of a ratio of Monte Carlo means and its jackknife correction (Scalable Power Sampling, Lemmas 3.2-3.3).

The SPS estimator of the power conditional is a smooth function of sample means,
``p̂(s) = p(s)^α ζ̂(s) / Σ_{s'} p(s')^α ζ̂(s')`` with ``ζ̂(s)`` the mean of ``M`` rollouts.
For ``θ̂_M = g(Ū)``, ``Ū`` the mean of ``M`` i.i.d. vectors with mean ``μ``, covariance
``σ`` and third central moments ``κ``, a fourth-order Taylor expansion of ``g`` and the
exact moments of a sample mean,

    E[d_i d_j] = σ_ij / M,   E[d_i d_j d_k] = κ_ijk / M²,
    E[d_i d_j d_k d_l] = (σ_ij σ_kl + σ_ik σ_jl + σ_il σ_jk)(M - 1)/M³ + O(M⁻³)     (d = Ū - μ),

give the delta-method series ``E[θ̂_M] = g(μ) + c₁/M + c₂/M² + O(M⁻³)`` (Lemma 3.2:
bias ``O(1/M)``, ``c₁ = ½ Σ_ij ∂_ij g σ_ij``).  The jackknife
``θ̂_JK = M θ̂_M - (M-1)/M Σ_s θ̂_{-s}`` has ``E[θ̂_{-s}] = E[θ̂_{M-1}]``, hence
``E[θ̂_JK] - g(μ) = M b(M) - (M-1) b(M-1) = -c₂/M² + O(M⁻³)`` (Lemma 3.3), which the
checks expand in ``h = 1/M`` with the unknown higher coefficient ``c₃`` kept symbolic.

An exact-rational corroboration enumerates every sample of size ``M`` from a
3-point distribution (multinomial counts, ``fractions.Fraction``) and confirms
``M² b(M) - M c₁ → c₂`` and ``M² b_JK(M) → -c₂`` at the predicted ``O(1/M)`` rate.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from typing import Sequence

import sympy as sp

from ._algebra import vanishes
from ._registry import register, require

M = sp.Symbol("M", positive=True)
H = sp.Symbol("h", positive=True)  # h = 1/M


def moment_symbols(size: int, independent: bool) -> tuple[list[sp.Symbol], dict, dict]:
    """Means ``μ_i``, covariances ``σ[(i, j)]`` and third central moments ``κ[(i, j, k)]`` (sorted keys).

    With ``independent=True`` every mixed moment is 0 (independent rollouts per candidate).
    """
    means = list(sp.symbols(f"mu0:{size}", positive=True))
    covariance, third = {}, {}
    for key in itertools.combinations_with_replacement(range(size), 2):
        mixed = len(set(key)) > 1
        covariance[key] = sp.Integer(0) if independent and mixed else sp.Symbol(f"sigma{key[0]}{key[1]}", real=True)
    for key in itertools.combinations_with_replacement(range(size), 3):
        mixed = len(set(key)) > 1
        third[key] = sp.Integer(0) if independent and mixed else sp.Symbol("kappa" + "".join(map(str, key)), real=True)
    return means, covariance, third


def delta_method_coefficients(
    g: sp.Expr, variables: Sequence[sp.Symbol], means: Sequence[sp.Expr], covariance: dict, third: dict
) -> tuple[sp.Expr, sp.Expr]:
    """``(c₁, c₂)`` of ``E[g(Ū)] = g(μ) + c₁/M + c₂/M² + O(M⁻³)`` (see the module doc)."""
    at_mean = dict(zip(variables, means))
    derivatives: dict[tuple[int, ...], sp.Expr] = {}

    def derivative(index: tuple[int, ...]) -> sp.Expr:
        key = tuple(sorted(index))
        if key not in derivatives:
            derivatives[key] = sp.diff(g, *(variables[i] for i in key)).subs(at_mean)
        return derivatives[key]

    def sigma(i: int, j: int) -> sp.Expr:
        return covariance[tuple(sorted((i, j)))]

    size = len(variables)
    second = sp.Add(*(derivative((i, j)) * sigma(i, j) for i, j in itertools.product(range(size), repeat=2)))
    third_order = sp.Add(
        *(derivative(ijk) * third[tuple(sorted(ijk))] for ijk in itertools.product(range(size), repeat=3))
    )
    fourth = sp.Add(
        *(
            derivative((i, j, k, l)) * (sigma(i, j) * sigma(k, l) + sigma(i, k) * sigma(j, l) + sigma(i, l) * sigma(j, k))
            for i, j, k, l in itertools.product(range(size), repeat=4)
        )
    )
    c1 = second / 2
    c2 = third_order / 6 + fourth / 24  # the (M-1)/M³ of the fourth moments contributes 1/M² at this order
    return sp.together(c1), sp.together(c2)


def jackknife_bias_series(order: int = 3) -> list[sp.Expr]:
    """Coefficients of ``h⁰ .. h^(order-1)`` in ``M b(M) - (M-1) b(M-1)``, ``b(M) = c₁/M + c₂/M² + c₃/M³``.

    ``c₁, c₂, c₃`` stay symbols (``C1, C2, C3``): the cancellation is a property of the
    jackknife combination, whatever the delta-method coefficients are.
    """
    c1, c2, c3 = sp.symbols("C1 C2 C3", real=True)

    def bias(m: sp.Expr) -> sp.Expr:
        return c1 / m + c2 / m**2 + c3 / m**3

    jackknife = (M * bias(M) - (M - 1) * bias(M - 1)).subs(M, 1 / H)
    series = sp.expand(sp.series(jackknife, H, 0, order).removeO())
    return [series.coeff(H, n) for n in range(order)]


def ratio_problem() -> tuple[sp.Expr, list[sp.Symbol], list[sp.Expr], dict, dict]:
    """``g(x, y) = x / y`` with correlated ``(X, Y)``: the plain ratio of two sample means."""
    x, y = sp.symbols("x y", positive=True)
    means, covariance, third = moment_symbols(2, independent=False)
    return x / y, [x, y], means, covariance, third


def sps_problem(candidates: int = 3) -> tuple[sp.Expr, list[sp.Symbol], list[sp.Expr], dict, dict]:
    """SPS form: ``g(ζ) = w₀ ζ₀ / Σ_s w_s ζ_s`` with ``w_s = p(s)^α`` symbols and independent ``ζ̂_s``."""
    zetas = list(sp.symbols(f"z0:{candidates}", positive=True))
    weights = sp.symbols(f"v0:{candidates}", positive=True)
    means, covariance, third = moment_symbols(candidates, independent=True)
    g = weights[0] * zetas[0] / sp.Add(*(w * z for w, z in zip(weights, zetas)))
    return g, zetas, means, covariance, third


@register(
    "sps_lemma32_bias",
    "E[θ̂_M] - θ = c₁/M + O(1/M²) for a ratio of sample means, c₁ = μ_X σ_YY/μ_Y³ - σ_XY/μ_Y² ≠ 0 (delta method)",
    "Scalable Power Sampling, Lemma 3.2",
)
def check_sps_lemma32_bias() -> str:
    g, variables, means, covariance, third = ratio_problem()
    c1, _ = delta_method_coefficients(g, variables, means, covariance, third)
    mx, my = means
    classical = mx * covariance[(1, 1)] / my**3 - covariance[(0, 1)] / my**2
    require(vanishes(c1 - classical), f"c₁ = {c1} is not the classical ratio bias")
    require(not vanishes(c1), "c₁ vanishes identically: the plain estimator would be unbiased to O(1/M²)")
    g, variables, means, covariance, third = sps_problem()
    c1_sps, _ = delta_method_coefficients(g, variables, means, covariance, third)
    require(not vanishes(c1_sps), "the SPS estimator's c₁ vanishes identically")
    return "ratio X̄/Ȳ (correlated) and SPS p̂(s) with 3 candidates (independent ζ̂): leading bias c₁/M ≠ 0"


@register(
    "sps_lemma33_jackknife",
    "jackknife M·θ̂_M - (M-1)/M·Σ_s θ̂_{-s} has bias -c₂/M² + O(1/M³): the c₁/M term cancels (series in 1/M)",
    "Scalable Power Sampling, Lemma 3.3",
)
def check_sps_lemma33_jackknife() -> str:
    constant, first, second = jackknife_bias_series()
    c1, c2 = sp.symbols("C1 C2", real=True)
    require(constant == 0, f"jackknife bias has an O(1) term {constant}")
    require(first == 0, f"jackknife bias keeps an O(1/M) term {first}")
    require(sp.expand(second + c2) == 0, f"O(1/M²) jackknife coefficient {second} ≠ -c₂")
    # the plain estimator keeps its c₁/M: the same expansion without the jackknife combination
    plain = sp.series((c1 / M + c2 / M**2).subs(M, 1 / H), H, 0, 2).removeO().coeff(H, 1)
    require(plain == c1, "negative control: the plain estimator's O(1/M) term vanished")
    details = []
    for label, problem in (("ratio X̄/Ȳ", ratio_problem()), ("SPS p̂, 3 candidates", sps_problem())):
        _, delta_c2 = delta_method_coefficients(*problem)
        require(not vanishes(delta_c2), f"{label}: c₂ vanishes identically (O(1/M²) would not be sharp)")
        details.append(label)
    return "h⁰, h¹ coefficients of E[θ̂_JK] - θ are 0, h² is -c₂; c₂ ≠ 0 for " + " and ".join(details)


# -- exact-rational corroboration by enumeration -------------------------------------------------

#: A 3-point distribution of (X, Y) with positive Y: probabilities and values, all rational.
ENUMERATION_LAW = (
    (Fraction(1, 2), Fraction(1), Fraction(2)),
    (Fraction(1, 3), Fraction(3), Fraction(1)),
    (Fraction(1, 6), Fraction(1, 2), Fraction(4)),
)


def exact_ratio_expectation(m: int, law=ENUMERATION_LAW) -> Fraction:
    """``E[X̄_m / Ȳ_m]`` exactly, summing over the multinomial counts of ``m`` draws from ``law``."""
    total = Fraction(0)
    for n0 in range(m + 1):
        for n1 in range(m - n0 + 1):
            counts = (n0, n1, m - n0 - n1)
            weight = Fraction(math.factorial(m), math.prod(math.factorial(c) for c in counts))
            for (prob, _, _), count in zip(law, counts):
                weight *= prob**count
            sum_x = sum(count * x for (_, x, _), count in zip(law, counts))
            sum_y = sum(count * y for (_, _, y), count in zip(law, counts))
            total += weight * sum_x / sum_y
    return total


def law_moments(law=ENUMERATION_LAW) -> dict[str, Fraction]:
    """Means, covariances and third central moments of ``(X, Y)`` under ``law`` (exact)."""
    mx = sum(p * x for p, x, _ in law)
    my = sum(p * y for p, _, y in law)

    def central(a: int, b: int) -> Fraction:
        return sum(p * (x - mx) ** a * (y - my) ** b for p, x, y in law)

    return {"mx": mx, "my": my, "sxx": central(2, 0), "sxy": central(1, 1), "syy": central(0, 2),
            "kxxx": central(3, 0), "kxxy": central(2, 1), "kxyy": central(1, 2), "kyyy": central(0, 3)}


@register(
    "sps_jackknife_enumeration",
    "exact enumeration (rational, M = 40, 80): M²·bias - M·c₁ → c₂ and M²·jackknife bias → -c₂ at rate O(1/M)",
    "Scalable Power Sampling, Lemmas 3.2-3.3 (corroborates the symbolic expansion)",
)
def check_sps_jackknife_enumeration() -> str:
    g, variables, means, covariance, third = ratio_problem()
    c1, c2 = delta_method_coefficients(g, variables, means, covariance, third)
    moments = law_moments()
    values = {means[0]: moments["mx"], means[1]: moments["my"], covariance[(0, 0)]: moments["sxx"],
              covariance[(0, 1)]: moments["sxy"], covariance[(1, 1)]: moments["syy"],
              third[(0, 0, 0)]: moments["kxxx"], third[(0, 0, 1)]: moments["kxxy"],
              third[(0, 1, 1)]: moments["kxyy"], third[(1, 1, 1)]: moments["kyyy"]}
    c1_value = Fraction(str(sp.Rational(c1.subs(values))))
    c2_value = Fraction(str(sp.Rational(c2.subs(values))))
    theta = moments["mx"] / moments["my"]
    sizes = (40, 80)
    expectations = {m: exact_ratio_expectation(m) for m in sizes + tuple(m - 1 for m in sizes)}
    plain_error, jackknife_error = [], []
    for m in sizes:
        bias = expectations[m] - theta
        jackknife_bias = m * bias - (m - 1) * (expectations[m - 1] - theta)
        plain_error.append(m * m * bias - m * c1_value - c2_value)
        jackknife_error.append(m * m * jackknife_bias + c2_value)
    for label, errors in (("plain", plain_error), ("jackknife", jackknife_error)):
        ratio = errors[1] / errors[0]
        require(Fraction(2, 5) <= ratio <= Fraction(3, 5), f"{label}: remainder ratio {float(ratio):.3f} is not ≈ 1/2")
    return (f"c₁ = {float(c1_value):.4g}, c₂ = {float(c2_value):.4g}; remainders × M at M = 40, 80: "
            f"plain {float(plain_error[0]) * 40:.3g}, {float(plain_error[1]) * 80:.3g}; "
            f"jackknife {float(jackknife_error[0]) * 40:.3g}, {float(jackknife_error[1]) * 80:.3g}")
