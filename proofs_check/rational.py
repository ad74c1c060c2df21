"""Exact-rational re-derivation of Props. 1, 2, 4 (and Cor. 1, Eqs. 14, 30) on a small model, against ``exact``.

The model has ``V = 3`` tokens and horizon ``T = 3``; its next-token conditionals
are fixed small-integer ratios (one of them exactly 0, so zero-probability
sequences appear), and ``α ∈ {2, 3}`` (``β = 1/(α-1) ∈ {1, 1/2}``), so every
quantity of Props. 1-2 is a ``sympy.Rational`` computed by brute-force sums over
``itertools.product`` (no floating point).  Prop. 4 and Eq. (14) involve
logarithms: their two sides are exact numbers written in the logs of primes
(rationally independent, so equality is decided exactly), evaluated to 40
digits only for the final comparison with the package.

The ``exact`` package computes the same quantities on a different route (float64
log-space, prefix totals, Eq. 21 via suffix power masses).  Each package float
must agree with the rational value within ``REL_TOL`` relative (``ABS_TOL``
absolute for values that are exactly 0), so a transcription error in the
package shows up here as a mismatch.
"""

from __future__ import annotations

import itertools
import math
import random
from functools import lru_cache
from typing import Sequence

import numpy as np
import sympy as sp

from ._registry import register, require

#: Relative tolerance for package floats against exact values (float64 closed-form tier).
REL_TOL = 1e-12
#: Absolute tolerance used only where the exact value is 0 (e.g. the optimal proposal's variance).
ABS_TOL = 1e-14
#: Integer exponents: every sum stays rational.
ALPHAS = (2, 3)
VOCAB_SIZE, HORIZON = 3, 3
#: Seed of the integer weights 1..9 of each next-token conditional.
_WEIGHTS_SEED = 20260
#: (prefix, token) given weight 0: π(y_2 = 2 | y_1 = 1) = 0.
_ZERO_AT = ((1,), 2)

Prefix = tuple[int, ...]


@lru_cache(maxsize=1)
def rational_conditionals() -> dict[Prefix, tuple[sp.Rational, ...]]:
    """``π(y_t | y_<t)`` for every prefix of length ``0 .. T-1``, as exact rationals."""
    rng = random.Random(_WEIGHTS_SEED)
    table = {}
    for length in range(HORIZON):
        for prefix in itertools.product(range(VOCAB_SIZE), repeat=length):
            weights = [rng.randint(1, 9) for _ in range(VOCAB_SIZE)]
            if prefix == _ZERO_AT[0]:
                weights[_ZERO_AT[1]] = 0
            total = sum(weights)
            table[prefix] = tuple(sp.Rational(w, total) for w in weights)
    return table


@lru_cache(maxsize=1)
def rational_joint() -> dict[Prefix, sp.Rational]:
    """``π(y_{1:T})`` for every complete sequence: the product of its conditionals."""
    conditionals = rational_conditionals()
    return {
        y: sp.Mul(*(conditionals[y[:t]][y[t]] for t in range(HORIZON)))
        for y in itertools.product(range(VOCAB_SIZE), repeat=HORIZON)
    }


def prefix_sum(prefix: Prefix, alpha: int = 1) -> sp.Rational:
    """``Σ_{suffix} π(prefix, suffix)^α`` (``α = 1``: the prefix marginal; Eq. 8's ``π̃_{α,t}`` otherwise)."""
    joint = rational_joint()
    return sp.Add(*(joint[prefix + z] ** alpha for z in itertools.product(range(VOCAB_SIZE), repeat=HORIZON - len(prefix))))


def rational_power_conditional(prefix: Prefix, alpha: int) -> list[sp.Rational]:
    """Eq. (6): ``π_pow,α(s | prefix) = π̃_{α,t}(prefix, s) / π̃_{α,t-1}(prefix)``."""
    parent = prefix_sum(prefix, alpha)
    return [prefix_sum(prefix + (s,), alpha) / parent for s in range(VOCAB_SIZE)]


def rational_temp_conditional(prefix: Prefix, alpha: int) -> list[sp.Rational]:
    """Eq. (5): ``π(s | prefix)^α / Σ_s' π(s' | prefix)^α``, with ``π(s | prefix)`` read off the joint."""
    parent = prefix_sum(prefix)
    p = [prefix_sum(prefix + (s,)) / parent for s in range(VOCAB_SIZE)]
    total = sp.Add(*(v**alpha for v in p))
    return [v**alpha / total for v in p]


def rational_suffix_distribution(prefix: Prefix, token: int) -> list[sp.Rational]:
    """``q_{t,a}(z) = π(prefix, a, z) / π(prefix, a)`` over every suffix ``z`` (Prop. 1)."""
    full = prefix + (token,)
    mass = prefix_sum(full)
    joint = rational_joint()
    return [joint[full + z] / mass for z in itertools.product(range(VOCAB_SIZE), repeat=HORIZON - len(full))]


def float_model():
    """The same model as an ``exact.TabularAR`` (float64 joint of shape ``(3, 3, 3)``)."""
    import exact

    joint = np.zeros((VOCAB_SIZE,) * HORIZON)
    for y, value in rational_joint().items():
        joint[y] = float(value)
    return exact.TabularAR.from_joint(joint)


def positive_prefixes() -> list[Prefix]:
    """Every prefix of length ``0 .. T-1`` with ``π(prefix) > 0``."""
    return [p for p in rational_conditionals() if prefix_sum(p) > 0]


def close(value: float, exact_value: sp.Expr) -> bool:
    """``value`` agrees with the exact number ``exact_value`` within ``REL_TOL`` (``ABS_TOL`` at 0)."""
    reference = float(sp.N(exact_value, 30))
    return math.isclose(float(value), reference, rel_tol=REL_TOL, abs_tol=ABS_TOL)


def _require_close(value: float, exact_value: sp.Expr, what: str) -> None:
    require(close(value, exact_value), f"{what}: package {float(value)!r} vs exact {float(sp.N(exact_value, 30))!r}")


def _require_vector(values: Sequence[float], exact_values: Sequence[sp.Expr], what: str) -> None:
    for s, (value, exact_value) in enumerate(zip(values, exact_values)):
        _require_close(value, exact_value, f"{what}[{s}]")


@register(
    "rational_prop1",
    "V=3, T=3 rational model, α = 2, 3: power/temp odds gap = Σq_a^α/Σq_b^α exactly; package matches to 1e-12",
    "Prop. 1, Eqs. (5)-(7), (21); exact.power_conditional, temp_conditional, odds_correction, renyi_entropy",
)
def check_rational_prop1() -> str:
    import exact

    model = float_model()
    n_pairs = 0
    for alpha in ALPHAS:
        for prefix in positive_prefixes():
            power = rational_power_conditional(prefix, alpha)
            temp = rational_temp_conditional(prefix, alpha)
            require(sp.Add(*power) == 1 and sp.Add(*temp) == 1, f"conditionals at {prefix} do not sum to 1")
            _require_vector(exact.power_conditional(model, prefix, alpha), power, f"power_conditional{prefix}, α={alpha}")
            _require_vector(exact.temp_conditional(model, prefix, alpha), temp, f"temp_conditional{prefix}, α={alpha}")
            support = [s for s in range(VOCAB_SIZE) if prefix_sum(prefix + (s,)) > 0]
            masses = {}
            for a in support:
                q = rational_suffix_distribution(prefix, a)
                masses[a] = sp.Add(*(v**alpha for v in q))
                entropy = sp.log(masses[a]) / (1 - alpha)  # H_α(q_{t,a})
                _require_close(exact.renyi_entropy(np.array([float(v) for v in q]), alpha), entropy,
                               f"renyi_entropy(q_(t,{a})) at {prefix}, α={alpha}")
            for a, b in itertools.permutations(support, 2):
                gap = (power[a] / power[b]) / (temp[a] / temp[b])
                require(gap == masses[a] / masses[b], f"Eq. (7) fails exactly at {prefix}, (a, b) = ({a}, {b}), α={alpha}")
                result = exact.odds_correction(model, prefix, a, b, alpha)
                _require_close(result.direct, sp.log(gap), f"odds_correction.direct {prefix} ({a},{b}) α={alpha}")
                _require_close(result.renyi_prediction, sp.log(gap),
                               f"odds_correction.renyi_prediction {prefix} ({a},{b}) α={alpha}")
                n_pairs += 1
    return f"{len(positive_prefixes())} prefixes × α ∈ {ALPHAS}, {n_pairs} ordered pairs; exact Eq. (7) and package within {REL_TOL:g}"


#: An explicit proposal vector (besides the package's named ones).
CUSTOM_PROPOSAL = (sp.Rational(1, 2), sp.Rational(1, 3), sp.Rational(1, 6))


def rational_weight_stats(f: Sequence[sp.Rational], q: Sequence[sp.Rational]) -> tuple[sp.Rational, ...]:
    """``(E[W], Var[W], CV², ESS/N)`` of ``W = f(Y)/q(Y)``, ``Y ~ q``, summing over ``q > 0`` (Eq. 9, App. B.2.5)."""
    covered = [v for v in range(len(q)) if q[v] > 0]
    mean = sp.Add(*(q[v] * (f[v] / q[v]) for v in covered))
    second = sp.Add(*(q[v] * (f[v] / q[v]) ** 2 for v in covered))
    variance = second - mean**2
    return mean, variance, variance / mean**2, mean**2 / second


@register(
    "rational_prop2",
    "V=3, T=3 rational model, α = 2, 3: Var_q[W] = Σf²/q - 1 = Cauchy-Schwarz sum of squares, 0 only at q = f; package matches",
    "Prop. 2, Eqs. (9)-(10); exact.incremental_weight_stats",
)
def check_rational_prop2() -> str:
    import exact

    model = float_model()
    count = 0
    for alpha in ALPHAS:
        for prefix in positive_prefixes():
            f = rational_power_conditional(prefix, alpha)
            # Eq. (10): the ratio of prefix marginals of the normalised π_α
            partition = prefix_sum((), alpha)
            marginal = prefix_sum(prefix, alpha) / partition
            require(all(f[v] == (prefix_sum(prefix + (v,), alpha) / partition) / marginal for v in range(VOCAB_SIZE)),
                    f"Eq. (10) fails at {prefix}")
            parent = prefix_sum(prefix)
            base = [prefix_sum(prefix + (s,)) / parent for s in range(VOCAB_SIZE)]
            proposals = {
                "optimal": list(f),
                "base": base,
                "temperature": rational_temp_conditional(prefix, alpha),
                "uniform": [sp.Rational(1, VOCAB_SIZE)] * VOCAB_SIZE,
                "custom": list(CUSTOM_PROPOSAL),
            }
            for name, q in proposals.items():
                mean, variance, cv2, ess = rational_weight_stats(f, q)
                require(mean == 1, f"E[W] = {mean} ≠ 1 for the covering proposal {name} at {prefix}")
                closed_form = sp.Add(*(f[v] ** 2 / q[v] for v in range(VOCAB_SIZE) if q[v] > 0)) - 1
                squares = sp.Rational(1, 2) * sp.Add(*(
                    (q[u] * f[v] - q[v] * f[u]) ** 2 / (q[u] * q[v])
                    for u in range(VOCAB_SIZE) for v in range(VOCAB_SIZE) if q[u] > 0 and q[v] > 0))
                require(variance == closed_form == squares, f"Var[W] identities fail for {name} at {prefix}")
                require((variance == 0) == (list(q) == list(f)), f"Var[W] = 0 iff q = f fails for {name} at {prefix}")
                argument = name if name != "custom" else np.array([float(v) for v in q])
                stats = exact.incremental_weight_stats(model, prefix, alpha, argument)
                for field, exact_value in zip(("mean", "variance", "cv2", "ess_fraction"), (mean, variance, cv2, ess)):
                    _require_close(getattr(stats, field), exact_value, f"{field} for {name} at {prefix}, α={alpha}")
                count += 1
    return f"{count} (prefix, α, proposal) cases: optimal/base/temperature/uniform/custom; package within {REL_TOL:g}"


def rational_true_reward() -> dict[Prefix, sp.Rational]:
    """A fixed true reward ``r*(y)``: rationals in ``[-3/2, 3/2]``, varying with the sequence."""
    return {y: sp.Rational((5 * i + 2) % 7 - 3, 2) for i, y in enumerate(sorted(rational_joint()))}


def prime_log(prime: int) -> sp.Symbol:
    """The symbol standing for ``log p`` of a prime ``p``."""
    return sp.Symbol(f"log{prime}", positive=True)


def log_rational(value: sp.Rational) -> sp.Expr:
    """``log v`` of a positive rational as ``Σ_p e_p log p`` over its prime factorisation (exact).

    Logs of distinct primes are linearly independent over the rationals (unique
    factorisation), so an expression linear in them with rational coefficients is
    0 iff every coefficient is 0, and a polynomial in them is 0 iff it expands to
    0: exact comparison becomes ``sympy.expand(...) == 0``.
    """
    value = sp.Rational(value)
    if value <= 0:
        raise ValueError(f"log of a non-positive rational {value}")
    numerator, denominator = sp.factorint(value.p), sp.factorint(value.q)
    return sp.Add(*(e * prime_log(p) for p, e in numerator.items())) - sp.Add(
        *(e * prime_log(p) for p, e in denominator.items())
    )


def logs_to_primes(expr: sp.Expr) -> sp.Expr:
    """Rewrite every ``log`` of a rational inside ``expr`` with :func:`log_rational`."""
    return expr.xreplace({atom: log_rational(atom.args[0]) for atom in expr.atoms(sp.log)})


def numeric(expr: sp.Expr) -> sp.Float:
    """Evaluate an expression in prime-log symbols to 40 digits."""
    values = {symbol: sp.N(sp.log(int(symbol.name[3:])), 40) for symbol in expr.free_symbols}
    return sp.N(expr.xreplace(values), 40)


def exact_reward_slope(reward: dict[Prefix, sp.Expr], alpha: int) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """``(R(α), ∂_α R(α), Cov_{π_α}(r*, log π))`` as exact numbers on ``π``'s support.

    ``∂_α R`` comes from sympy differentiating ``Σ r* π^a / Σ π^a``; the covariance
    is ``E[r* log π] - E[r*] E[log π]`` under ``π_α`` (Eq. 35).  Both are returned
    expanded, with ``log`` atoms replaced by ``log_symbols`` (see :func:`_log_atoms`).
    """
    a = sp.Symbol("alpha", positive=True)
    joint = {y: v for y, v in rational_joint().items() if v > 0}
    true_reward = sp.Add(*(reward[y] * v**a for y, v in joint.items())) / sp.Add(*(v**a for v in joint.values()))
    slope = logs_to_primes(sp.diff(true_reward, a).subs(a, alpha))
    partition = sp.Add(*(v**alpha for v in joint.values()))
    power = {y: v**alpha / partition for y, v in joint.items()}
    log_p = {y: log_rational(v) for y, v in joint.items()}
    rewards = {y: logs_to_primes(sp.sympify(reward[y])) for y in joint}
    mean_reward = sp.Add(*(power[y] * rewards[y] for y in joint))
    mean_log = sp.Add(*(power[y] * log_p[y] for y in joint))
    covariance = sp.Add(*(power[y] * rewards[y] * log_p[y] for y in joint)) - mean_reward * mean_log
    return true_reward.subs(a, alpha), sp.expand(slope), sp.expand(covariance)


def _package_slope(model, reward_table: np.ndarray, alpha: int) -> tuple[float, float, str]:
    """``(R, ∂R/∂α)`` from ``exact.true_reward``/``exact.reward_slope``; a local float fallback if absent."""
    import exact

    if hasattr(exact, "reward_slope") and hasattr(exact, "true_reward"):
        return exact.true_reward(model, reward_table, alpha), exact.reward_slope(model, reward_table, alpha), "exact.reward_slope"
    # LOCAL FALLBACK (the package has no covariance module): Cov from exact.power_joint in float64
    weights = exact.power_joint(model, alpha).reshape(-1)
    log_p = np.asarray(model.log_joint()).reshape(-1)
    support = weights > 0
    w, r, s = weights[support], reward_table.reshape(-1)[support], log_p[support]
    mean_r = float(w @ r)
    return mean_r, float(w @ ((r - mean_r) * (s - w @ s))), "LOCAL FALLBACK covariance"


@register(
    "rational_prop4",
    "V=3, T=3 rational model, α = 2, 3: d/dα E_{π_α}[r*] = Cov_{π_α}(r*, log π) exactly (in prime logs); package matches",
    "Prop. 4, Eqs. (18)-(19); exact.true_reward, exact.reward_slope, exact.self_reward_variance",
)
def check_rational_prop4() -> str:
    import exact

    model = float_model()
    reward = rational_true_reward()
    table = np.zeros((VOCAB_SIZE,) * HORIZON)
    for y, value in reward.items():
        table[y] = float(value)
    self_reward = {y: (sp.log(v) if v > 0 else sp.Integer(0)) for y, v in rational_joint().items()}
    route = ""
    for alpha in ALPHAS:
        true_reward, slope, covariance = exact_reward_slope(reward, alpha)
        require(true_reward.is_Rational, f"R({alpha}) is not rational: {true_reward}")
        require(slope - covariance == 0, f"Eq. (18) fails exactly at α = {alpha}")
        require(abs(numeric(covariance)) > 1e-6, "degenerate example: the slope is 0")
        package_reward, package_slope, route = _package_slope(model, table, alpha)
        _require_close(package_reward, true_reward, f"true reward R({alpha})")
        _require_close(package_slope, numeric(covariance), f"reward slope at α = {alpha}")
        # Eq. (19): r* = log π gives the variance of log π under π_α (positive)
        _, self_slope, self_covariance = exact_reward_slope(self_reward, alpha)
        require(self_slope - self_covariance == 0, f"Eq. (19) fails exactly at α = {alpha}")
        variance = numeric(self_covariance)
        require(variance > 0, "Var_{π_α}(log π) is not positive")
        if hasattr(exact, "self_reward_variance"):
            _require_close(exact.self_reward_variance(model, alpha), variance, f"self_reward_variance α = {alpha}")
    return f"{len([v for v in rational_joint().values() if v > 0])} support sequences, α ∈ {ALPHAS}; package via {route}"


def _support_proposal() -> dict[Prefix, sp.Rational]:
    """A rational ``q`` on ``π``'s support (weights 1-4 by position): ``KL(q ‖ π) < ∞``."""
    support = sorted(y for y, v in rational_joint().items() if v > 0)
    weights = {y: sp.Integer(i % 4 + 1) for i, y in enumerate(support)}
    total = sp.Add(*weights.values())
    return {y: w / total for y, w in weights.items()}


@register(
    "rational_cor1_prop3",
    "V=3, T=3 rational model, β = 1, 1/2: tilt π·e^{log π/β}/Z = π_α (α=1+1/β), Eq. 14 exactly; π_α(y*) rises with α; package matches",
    "Cor. 1, Eqs. (12)-(14), (30); exact.self_reward_tilt, power_joint, kl_rl_decomposition, sharpening_mass",
)
def check_rational_cor1_prop3() -> str:
    import exact

    model = float_model()
    joint = rational_joint()
    support = {y: v for y, v in joint.items() if v > 0}
    q = _support_proposal()
    q_table = np.zeros((VOCAB_SIZE,) * HORIZON)
    for y, value in q.items():
        q_table[y] = float(value)
    top = max(support.values())
    argmax = [y for y, v in support.items() if v == top]
    masses = []
    for alpha in ALPHAS:
        beta = 1 / sp.Integer(alpha - 1)  # Eq. (13): α = 1 + 1/β
        tilt_weights = {y: v * sp.exp(sp.log(v) / beta) for y, v in support.items()}  # Eq. (12), r = log π
        tilt_partition = sp.Add(*tilt_weights.values())
        partition = sp.Add(*(v**alpha for v in support.values()))
        require(tilt_partition == partition, f"Z_r ≠ Z_α at β = {beta}")
        power = {y: v**alpha / partition for y, v in support.items()}
        tilt = {y: w / tilt_partition for y, w in tilt_weights.items()}
        require(all(tilt[y].is_Rational and tilt[y] == power[y] for y in support), f"π*_β ≠ π_α at β = {beta}")
        package_tilt = exact.self_reward_tilt(model, float(beta))
        package_power = exact.power_joint(model, alpha)
        for y in joint:
            _require_close(package_tilt[y], power.get(y, 0), f"self_reward_tilt{y} at β = {beta}")
            _require_close(package_power[y], power.get(y, 0), f"power_joint{y} at α = {alpha}")
        # Eq. (14) with r = log π, for the rational q on the support
        log_p = {y: log_rational(v) for y, v in support.items()}
        expected_reward = sp.Add(*(q[y] * log_p[y] for y in support))
        kl_reference = sp.Add(*(q[y] * (log_rational(q[y]) - log_p[y]) for y in support))
        kl_optimum = sp.Add(*(q[y] * (log_rational(q[y]) - log_rational(power[y])) for y in support))
        lhs = expected_reward - beta * kl_reference
        rhs = -beta * kl_optimum + beta * log_rational(partition)
        require(sp.expand(lhs - rhs) == 0, f"Eq. (14) fails exactly at β = {beta}")
        decomposition = exact.kl_rl_decomposition(q_table, model, exact.self_reward(model), float(beta))
        for field, value in (("objective", lhs), ("rhs", rhs), ("kl_to_optimum", kl_optimum),
                             ("kl_to_reference", kl_reference), ("log_partition", log_rational(partition))):
            _require_close(getattr(decomposition, field), numeric(value), f"kl_rl_decomposition.{field} at β = {beta}")
        # Eq. (30) at finite α: π_α(y*) = |y*| m^α / Z_α
        mass = len(argmax) * top**alpha / partition
        require(mass == sp.Add(*(power[y] for y in argmax)), "π_α(y*) ≠ |y*| m^α / Z_α")
        _require_close(exact.sharpening_mass(model, alpha), mass, f"sharpening_mass at α = {alpha}")
        masses.append(mass)
    require(all(b > a for a, b in zip(masses, masses[1:])), f"π_α(y*) does not increase with α: {masses}")
    return (f"{len(support)} support sequences, β ∈ (1, 1/2), |y*| = {len(argmax)}, "
            f"π_α(y*) = {', '.join(str(m) for m in masses)}")
