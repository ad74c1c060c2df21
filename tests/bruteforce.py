"""Independent brute-force reference for the exact engine (plain Python over ``itertools.product``).

Everything here starts from a dictionary ``{sequence: log π(sequence)}`` and uses
only the definitions of the paper, written with Python floats and ``math``:

* ``π̃_{α,t}(y_{1:t}) = Σ_{y_{t+1:T}} π(y)^α``                       (Eq. 8)
* ``π_pow,α(s | y_<t) = π̃_{α,t}(y_<t, s) / π̃_{α,t-1}(y_<t)``         (Eqs. 6, 10)
* ``π_temp,α(s | y_<t) ∝ π(s | y_<t)^α``                            (Eq. 5)
* ``q_{t,a}(z) = π(y_<t, a, z) / π(y_<t, a)``, ``H_α(q) = log Σ q^α / (1 - α)`` (Prop. 1)

Log-sums use a hand-written max-shift (``lse``) so that probabilities down to
1e-300 and ``α = 1e4`` stay representable.  No function of ``exact`` is called.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict

NEG_INF = float("-inf")


def lse(values) -> float:
    """``log Σ exp(v)`` in plain Python; an empty or all ``-inf`` list gives ``-inf``."""
    values = [v for v in values if v != NEG_INF]
    if not values:
        return NEG_INF
    peak = max(values)
    return peak + math.log(math.fsum(math.exp(v - peak) for v in values))


def sequences(sizes):
    """Every sequence of ``Π V_t`` as a tuple, in C order."""
    return list(itertools.product(*[range(v) for v in sizes]))


def log_joint_from_array(log_joint_array) -> dict:
    """``{y: log π(y)}`` read entry by entry from a dense array (the model's data)."""
    sizes = log_joint_array.shape
    return {y: float(log_joint_array[y]) for y in sequences(sizes)}


def log_joint_markov(log_initial, log_transition, horizon: int) -> dict:
    """``{y: log p₀(y₁) + Σ_t log P[y_{t-1}, y_t]}`` by direct multiplication along each sequence."""
    V = len(log_initial)
    out = {}
    for y in sequences((V,) * horizon):
        value = float(log_initial[y[0]])
        for prev, nxt in zip(y[:-1], y[1:]):
            value += float(log_transition[prev][nxt])
        out[y] = value
    return out


def prefix_totals(logp: dict, alpha: float) -> dict:
    """``{prefix: log Σ_{suffix} π(prefix, suffix)^α}`` for every prefix of every length (Eq. 8)."""
    buckets = defaultdict(list)
    for y, lp in logp.items():
        term = alpha * lp if lp != NEG_INF else NEG_INF
        for t in range(len(y) + 1):
            buckets[y[:t]].append(term)
    return {prefix: lse(terms) for prefix, terms in buckets.items()}


def prefix_marginals(logp: dict) -> dict:
    """``{prefix: log π(prefix)}`` for every prefix (Eq. 8 with α = 1)."""
    return prefix_totals(logp, 1.0)


def power_conditional(totals: dict, prefix, vocab: int) -> list:
    """``π_pow,α(s | prefix)`` from a :func:`prefix_totals` table (Eq. 10)."""
    parent = totals[tuple(prefix)]
    return [math.exp(totals[tuple(prefix) + (s,)] - parent) for s in range(vocab)]


def temp_conditional(marginals: dict, prefix, vocab: int, alpha: float) -> list:
    """``π_temp,α(s | prefix) ∝ π(s | prefix)^α`` (Eq. 5)."""
    parent = marginals[tuple(prefix)]
    scores = [alpha * (marginals[tuple(prefix) + (s,)] - parent) if marginals[tuple(prefix) + (s,)] != NEG_INF
              else NEG_INF for s in range(vocab)]
    norm = lse(scores)
    return [math.exp(v - norm) if v != NEG_INF else 0.0 for v in scores]


def base_conditional(marginals: dict, prefix, vocab: int) -> list:
    """``π(s | prefix)``."""
    parent = marginals[tuple(prefix)]
    return [math.exp(marginals[tuple(prefix) + (s,)] - parent) for s in range(vocab)]


def log_suffix_distribution(logp: dict, marginals: dict, prefix, token: int) -> dict:
    """``{z: log q_{t,a}(z)}`` with ``q_{t,a}(z) = π(prefix, a, z) / π(prefix, a)`` (Prop. 1)."""
    head = tuple(prefix) + (token,)
    norm = marginals[head]
    return {y[len(head):]: lp - norm for y, lp in logp.items() if y[: len(head)] == head}


def log_renyi_mass(log_q) -> callable:
    """``α ↦ log Σ_z q(z)^α = (1 - α) H_α(q)`` for a list of log-probabilities."""
    values = list(log_q)
    return lambda alpha: lse([alpha * v for v in values if v != NEG_INF])


def renyi_entropy(probs, alpha: float) -> float:
    """``H_α(p)`` in nats from its definition, in 60-digit mpmath: Shannon at 1, ``-log max p`` at ∞.

    The probabilities are renormalised in high precision first, so the
    cancellation of ``log Σ p^α / (1 - α)`` near ``α = 1`` is harmless.
    """
    import mpmath

    with mpmath.workdps(60):
        probs = [mpmath.mpf(float(p)) for p in probs if p > 0]
        total = mpmath.fsum(probs)
        probs = [p / total for p in probs]
        if alpha == 1.0:
            return float(-mpmath.fsum(p * mpmath.log(p) for p in probs))
        if math.isinf(alpha):
            return float(-mpmath.log(max(probs)))
        a = mpmath.mpf(alpha)
        return float(mpmath.log(mpmath.fsum(p**a for p in probs)) / (1 - a))


def weight_moments(f, q):
    """``(E_q[W], E_q[W²])`` for ``W = f(Y)/q(Y)``, ``Y ~ q``: ``Σ_{q>0} f`` and ``Σ_{q>0} f²/q``."""
    mean = math.fsum(fi for fi, qi in zip(f, q) if qi > 0)
    second = math.fsum(fi * fi / qi for fi, qi in zip(f, q) if qi > 0)
    return mean, second


def log_power_conditional(totals: dict, prefix, vocab: int) -> list:
    """``log π_pow,α(s | prefix) = log π̃_{α,t}(prefix, s) - log π̃_{α,t-1}(prefix)`` (Eq. 10, log form)."""
    parent = totals[tuple(prefix)]
    return [totals[tuple(prefix) + (s,)] - parent for s in range(vocab)]


def log_temp_conditional(marginals: dict, prefix, vocab: int, alpha: float) -> list:
    """``log π_temp,α(s | prefix) = α log π(s | prefix) - log Σ_s' π(s' | prefix)^α`` (Eq. 5, log form)."""
    parent = marginals[tuple(prefix)]
    scores = [alpha * (marginals[tuple(prefix) + (s,)] - parent) if marginals[tuple(prefix) + (s,)] != NEG_INF
              else NEG_INF for s in range(vocab)]
    norm = lse(scores)
    return [v - norm for v in scores]


# -- variable-length completions (EOS) -------------------------------------------------------
# A completion stops at its first EOS (included) or after T tokens.  These helpers enumerate the
# completions themselves (never the padded table) and give π(y) as the product of the model's
# conditionals along y only; the prefix-total / conditional / suffix helpers above then apply
# unchanged to the resulting {completion: log π} dictionary (their keys may have any length).


def completions(sizes, eos) -> list:
    """Every completion, by ``itertools.product``: ``(y_1..y_k)`` with ``y_k = EOS`` its only EOS
    (``1 ≤ k ≤ T``), then the length-``T`` sequences without EOS (``eos=None``: all of ``Π V_t``)."""
    horizon = len(sizes)
    if eos is None:
        return sequences(sizes)
    plain = [[v for v in range(size) if v != eos] for size in sizes]
    out = []
    for k in range(1, horizon + 1):
        out.extend(head + (eos,) for head in itertools.product(*plain[: k - 1]))
    out.extend(itertools.product(*plain))
    return out


def completion_log_probs(log_conditional, sizes, eos) -> dict:
    """``{y: Σ_{t ≤ |y|} log π(y_t | y_<t)}`` over every completion.

    ``log_conditional(prefix)`` returns the ``V_t`` next-token log-probs after a prefix of
    positive probability; it is only ever asked about the proper prefixes of a completion
    (never about a row after EOS, never about a zero-probability prefix: the product
    stops at the first ``-inf``).
    """
    cache = {}
    out = {}
    for y in completions(sizes, eos):
        total = 0.0
        for t in range(len(y)):
            if y[:t] not in cache:
                cache[y[:t]] = [float(v) for v in log_conditional(y[:t])]
            total += cache[y[:t]][y[t]]
            if total == NEG_INF:
                break
        out[y] = total
    return out


def padded(completion, horizon: int, eos) -> tuple:
    """The padded length-``T`` index of a completion: ``y`` followed by ``T - |y|`` EOS tokens."""
    return tuple(completion) + (eos,) * (horizon - len(completion))
