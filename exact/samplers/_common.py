"""Shared plumbing of the exact laws: the result type, the table scorer, the Laplace quadrature.

``exact`` holds the ground truth only: each sampler's exact output distribution over
complete sequences (dense tables, tiny models).  The samplers themselves exist once,
in ``llm`` (run them on ``llm.ToyModel`` to compare with these laws); the one exception
is :func:`exact.power_smc`, a vectorised law-estimator for Power-SMC, which has no
closed form.  It reads the model through ``next_token_logprobs(contexts)`` only, served
by :func:`scorer` (a table-lookup stand-in with the same signature) on enumerable models.
Dense prefix/conditional tables come from :mod:`exact._tables`.

Cost is counted in **model token evaluations**: one per token position whose
next-token distribution the sampler has to compute (one forward step of an LM).
A proposal that is the base model at a temperature yields ``log π`` from the
same forward pass, so scoring a generated token costs nothing extra.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

from .._logspace import logsumexp
from .._memory import n_entries_at_most
from .._tables import conditional_tables, prefix_marginal_tables
from .._validate import check_count, check_rng  # noqa: F401  (the samplers' validators, re-exported)
from ..models import AutoregressiveModel


class SamplerDistribution(NamedTuple):
    """A sampler's output distribution over complete sequences ``y_{1:T}``."""

    probabilities: np.ndarray
    """``P(sampler outputs y)``, shape ``vocab_sizes`` (sums to 1)."""
    standard_errors: np.ndarray
    """Monte Carlo standard error of each entry (all zeros when ``exact``)."""
    expected_cost: float
    """Expected number of model token evaluations to produce one output."""
    exact: bool
    """True when ``probabilities`` is computed exactly (up to float64 / quadrature)."""


class TableScorer:
    """``next_token_logprobs`` by table lookup: a fast stand-in for an enumerable model.

    Same contract as :meth:`AutoregressiveModel.next_token_logprobs`: a batch
    ``(n, t)`` of equal-length prefixes -> ``log π(· | prefix)`` of shape
    ``(n, V_{t+1})``.  Rows under impossible prefixes are all ``-inf``.
    """

    def __init__(self, model: AutoregressiveModel):
        self.horizon = model.horizon
        self.vocab_sizes = tuple(model.vocab_sizes)
        self._cond = conditional_tables(prefix_marginal_tables(model))

    def next_token_logprobs(self, contexts: np.ndarray) -> np.ndarray:
        ctx = np.asarray(contexts)
        t = ctx.shape[1]
        table = self._cond[t]
        if t == 0:
            return np.broadcast_to(table, (ctx.shape[0],) + table.shape).copy()
        return table[tuple(ctx.T)]


def scorer(model: AutoregressiveModel):
    """A :class:`TableScorer` when the model is small enough to tabulate, else the model itself."""
    sizes = getattr(model, "vocab_sizes", None)
    if sizes is not None and hasattr(model, "log_prefix_marginals") and n_entries_at_most(sizes, 2**20):
        return TableScorer(model)
    return model


#: Step of the trapezoid rule in ``u = log s`` used for the Laplace integrals (see :func:`laplace_nodes`).
LAPLACE_STEP = 0.05


def laplace_nodes(slowest_rate: float, step: float = LAPLACE_STEP) -> tuple[np.ndarray, np.ndarray]:
    """Nodes ``s_i`` and weights for ``∫_0^∞ f(s) ds`` with ``f`` entire and decaying like ``e^{-rate·s}``.

    Substituting ``s = e^u`` gives ``∫_ℝ f(e^u) e^u du``, whose integrand is analytic and
    bounded in the strip ``|Im u| < π/2`` (where ``Re s > 0``) and decays at both ends,
    so the trapezoid rule converges geometrically, with error ``~exp(-π²/step)``
    (Trefethen & Weideman 2014, SIAM Review 56(3), Sec. 5).  The grid runs from
    ``s = 1e-18`` to ``s = 60/slowest_rate`` (``e^{-60}`` is below float64 resolution).
    """
    s = np.exp(laplace_log_nodes(float(np.log(max(slowest_rate, 1e-300))), step))
    return s, step * s


def laplace_log_nodes(log_slowest_rate: float, step: float = LAPLACE_STEP) -> np.ndarray:
    """The nodes ``u_i = log s_i`` of :func:`laplace_nodes` for a rate given by its log (weights ``step·e^{u_i}``).

    For rates below float64's range (a weight ``π(y)^α`` of ``e^{-2000}`` at a huge ``α``), where the
    nodes ``s_i`` themselves overflow: the caller keeps ``u_i`` and works in log space.
    """
    return np.arange(np.log(1e-18), np.log(60.0) - log_slowest_rate + step, step)


def laplace_ratio_expectations(
    log_values: Sequence[np.ndarray], log_probs: Sequence[np.ndarray], counts: Sequence[int]
) -> np.ndarray:
    """``E[S_a / Σ_b S_b]`` for independent sums ``S_b`` of ``counts[b]`` i.i.d. draws of a discrete ``W_b > 0``.

    ``W_b`` takes value ``exp(log_values[b][j])`` with probability ``exp(log_probs[b][j])``.
    Uses ``1/x = ∫_0^∞ e^{-sx} ds``: with ``φ_b(s) = E[e^{-s W_b}]`` and
    ``ψ_b(s) = E[W_b e^{-s W_b}]``,

        ``E[S_a / Σ S] = ∫_0^∞ n_a ψ_a(s) φ_a(s)^{n_a - 1} Π_{b≠a} φ_b(s)^{n_b} ds``,

    a one-dimensional integral of an entire function (trapezoid rule in ``log s``,
    :func:`laplace_log_nodes`, in log space) instead of an enumeration of every multiset of draws.
    Returns shape ``(K,)``.
    """
    lv = [np.asarray(v, dtype=np.float64) for v in log_values]
    lp = [np.asarray(p, dtype=np.float64) for p in log_probs]
    keep = [np.isfinite(p) for p in lp]
    lv = [v[k] for v, k in zip(lv, keep)]
    lp = [p[k] for p, k in zip(lp, keep)]
    n = np.asarray(counts, dtype=np.float64)
    # rescale so that E[Σ S] = 1: the integrand then lives on s ~ 1
    log_means = np.array([logsumexp(v + p) for v, p in zip(lv, lp)])
    shift = float(logsumexp(log_means + np.log(n)))
    width = max(v.size for v in lv)
    log_vals = np.zeros((len(lv), width))  # padded entries carry probability 0
    logq = np.full((len(lv), width), -np.inf)
    for k, (v, p) in enumerate(zip(lv, lp)):
        log_vals[k, : v.size] = v - shift
        logq[k, : p.size] = p
    # the integrand decays at least like exp(-s Σ_b n_b min W_b); everything stays in logs because at a
    # huge α the smallest values are below float64's range (e^-745) and the last nodes above it.  On
    # these nodes s·min W_b ≤ 60, so every φ_b(s) ≥ P(min W_b) e^{-60} > 0: log φ_b is finite
    log_slowest = float(logsumexp(np.log(n) + np.where(np.isfinite(logq), log_vals, np.inf).min(axis=1)))
    nodes = laplace_log_nodes(log_slowest)
    out = np.full(len(lv), -np.inf)
    block = max(1, 2**22 // log_vals.size)
    with np.errstate(over="ignore"):  # s·W = inf past float64: e^{-s W} = 0, as it should
        for start in range(0, nodes.size, block):
            t = nodes[start:start + block, None, None]
            tilted = logq[None] - np.exp(t + log_vals[None])  # (points, K, width)
            log_phi = logsumexp(tilted, axis=-1)  # (points, K)
            log_psi = logsumexp(tilted + log_vals[None], axis=-1)
            log_common = log_phi @ n  # log Π_b φ_b^{n_b}
            terms = t[:, :, 0] + np.log(LAPLACE_STEP) + log_psi - log_phi + log_common[:, None]
            out = np.logaddexp(out, logsumexp(terms, axis=0))
    return n * np.exp(out)


__all__ = ["SamplerDistribution", "TableScorer", "scorer", "laplace_nodes", "laplace_ratio_expectations"]
