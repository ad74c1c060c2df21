"""Small sympy toolbox shared by the symbolic checks.

Probabilities are built from positive symbols, ``p(i) = w_i / Σ_j w_j``, so a
distribution is general (every point of the open simplex) and sympy knows each
probability is positive.  Identities with a symbolic exponent are decided by
:func:`vanishes`:

1. split powers and logs of products with the rules that positivity licenses,
   ``(x·y)^α = x^α y^α``, ``x^(a+b) = x^a x^b``, ``log(x·y) = log x + log y``,
   ``exp(c·log x) = x^c``;
2. replace each remaining power ``u^(c·g)`` of an atomic positive base ``u`` with a
   symbolic exponent ``g`` by ``U^c`` for a fresh positive symbol ``U = u^g``;
3. bring the result over a common denominator (``sympy.cancel``) and ask for 0.

Step 2 forgets relations between the fresh symbols, so a zero found there is a
zero of the original expression (a proof); a non-zero answer means the identity
fails for generic values (every check also confirms a deliberately wrong
variant is *not* found to vanish, so the decision procedure is not vacuous).
"""

from __future__ import annotations

from typing import Sequence

import sympy as sp


def simplex(name: str, size: int) -> list[sp.Expr]:
    """A general point of the open probability simplex: ``[w_i / Σ_j w_j]`` with positive symbols ``w_i``."""
    weights = sp.symbols(f"{name}0:{size}", positive=True)
    total = sp.Add(*weights)
    return [w / total for w in weights]


def _exp_of_logs_to_powers(argument: sp.Expr) -> sp.Expr:
    """``exp(Σ_k c_k log x_k + rest) = Π_k x_k^(c_k) · exp(rest)`` (valid for positive ``x_k``).

    The coefficients of each ``log x_k`` are collected and cancelled first, so
    ``exp((1-α) · log(S)/(1-α))`` becomes ``S`` rather than two unrelated powers.
    """
    coefficients: dict[sp.Expr, sp.Expr] = {}
    rest = []
    for term in sp.Add.make_args(sp.expand(argument)):
        logs = [factor for factor in sp.Mul.make_args(term) if isinstance(factor, sp.log)]
        if len(logs) == 1 and logs[0].args[0].is_positive:
            base = logs[0].args[0]
            coefficients[base] = coefficients.get(base, sp.Integer(0)) + term / logs[0]
        else:
            rest.append(term)
    powers = [base ** sp.cancel(coefficient) for base, coefficient in coefficients.items()]
    return sp.Mul(*powers) * sp.exp(sp.Add(*rest))


def atomize(expr: sp.Expr) -> sp.Expr:
    """Steps 1-2 of :func:`vanishes`: powers with symbolic exponents become fresh positive symbols."""
    expanded = sp.expand_log(expr, deep=True)
    expanded = expanded.replace(lambda node: isinstance(node, sp.exp), lambda node: _exp_of_logs_to_powers(node.args[0]))
    expanded = sp.expand_power_base(sp.expand_power_exp(sp.expand_power_base(expanded, deep=True)), deep=True)
    expanded = sp.expand_log(expanded, deep=True)
    atoms: dict[tuple[sp.Expr, sp.Expr], sp.Symbol] = {}

    def fresh(power: sp.Pow) -> sp.Expr:
        coefficient, rest = power.exp.as_coeff_Mul()
        key = (power.base, rest)
        if key not in atoms:
            atoms[key] = sp.Symbol(f"[{power.base}]^({rest})", positive=True)
        return atoms[key] ** coefficient

    return expanded.replace(
        lambda node: isinstance(node, sp.Pow) and not node.exp.is_Number and node.base is not sp.E, fresh
    )


def vanishes(expr: sp.Expr) -> bool:
    """True when ``expr`` is identically 0 for all admissible symbol values (see the module doc)."""
    if expr == 0:
        return True
    return sp.cancel(sp.together(atomize(expr))) == 0


def all_vanish(expressions: Sequence[sp.Expr]) -> bool:
    """:func:`vanishes` for every expression."""
    return all(vanishes(e) for e in expressions)
