"""Scalable power sampling: token-level Monte Carlo lookahead with jackknife (arXiv 2601.21590), exactly.

Theorem 3.1 writes the power conditional (Eq. 6 of the main paper) as a scaled
low-temperature one,

    ``π_pow,α(a | y_<t) = p(a)^α ζ_t(a) / Σ_b p(b)^α ζ_t(b)``,
    ``ζ_t(a) = Σ_z q_{t,a}(z)^α = E_{z ~ q_{t,a}}[q_{t,a}(z)^{α-1}]``,

with ``p = π(· | y_<t)`` and ``q_{t,a}`` the base model's suffix distribution
after ``(y_<t, a)``.  The sampler at step ``t``:

1. keeps the ``K`` most probable tokens (ties broken by token id; zero-probability
   tokens are never candidates);
2. draws ``M`` rollouts ``z^{(1..M)}`` of ``H`` tokens (default: to the end) per
   candidate from the base model, the ``r``-th rollouts of all candidates forming
   the ``r``-th i.i.d. draw of a ``K``-vector, and sets
   ``ζ̂(a) = (1/M) Σ_r q(z_a^{(r)})^{α-1}`` (the truncated suffix probability when ``H < T - t``);
3. samples ``y_t`` from ``p̂(a) = p(a)^α ζ̂(a) / Σ_b p(b)^α ζ̂(b)`` (Lemma 3.2: bias ``O(1/M)``),
   or from the jackknife ``p̂_JK = M p̂ - ((M-1)/M) Σ_s p̂^{(-s)}`` where ``p̂^{(-s)}``
   drops the ``s``-th rollout vector (Lemma 3.3: bias ``O(1/M²)``).

**Negative jackknife values.** ``p̂_JK`` always sums to 1 (the coefficients
``M - (M-1)`` sum to 1) but can have negative entries; the sampler clips them
at 0 and renormalises (``clip=True``, what ``llm.sample_power_scalable`` does).
Lemma 3.3 is about the unclipped estimator (``clip=False``).  The top-``K`` rule and
the estimators are those of :mod:`exact._numerics` (``top_candidates``,
``jackknife_probabilities``), the same code the ``llm`` sampler runs; the sampler itself
is ``llm.sample_power_scalable``, whose draws on ``llm.ToyModel`` follow the law here.

**Exact output distribution.** The sampler outputs ``y`` with probability
``Π_t E[p̂_t(y_t | y_<t)]``.  The plain and the unclipped jackknife expectations
are computed exactly for any ``M`` from the identity ``1/x = ∫_0^∞ e^{-sx} ds``
(:func:`~exact.samplers.laplace_ratio_expectations`): ``E[p̂_JK] = M E_M[p̂] -
(M-1) E_{M-1}[p̂]`` by exchangeability.  The clipped jackknife is computed by
enumerating the multisets of rollout vectors when there are at most
``ENUMERATION_LIMIT`` of them, else as the exact unclipped value plus a Monte
Carlo estimate of the (rarely non-zero) clipping correction, with its standard error.

**Cost** per step: ``1 + K_eff · M · h_t`` token evaluations (``h_t = min(H, T - t)``).

**EOS** (models with ``eos_token_id``; the EOS-absorbing tables of :mod:`exact.eos`),
as ``llm.sample_power_scalable`` does it: the sampler stops once it has drawn EOS;
a rollout stops at EOS, so its weight is the probability of the variable-length
suffix it drew; a candidate that *is* EOS has the empty suffix, ``q = 1`` and weight
``1^{α-1} = 1`` (``ζ(EOS) = 1``).  On the padded table all three are automatic --
after EOS the only candidate is EOS (probability 1), the padding of a rollout has
probability 1, and the suffix after an EOS candidate is the padding -- so the
output law needs no special case.  The cost does: a step after EOS costs nothing,
and a rollout samples only up to its EOS (``E[tokens] = Σ_{j<h_t} P(no EOS in the
first j suffix tokens)``; none after an EOS candidate).  One difference remains:
``llm`` skips the rollouts when a single candidate is left (``K_eff = 1``), which
leave ``p̂`` unchanged; the cost here counts them.
"""

from __future__ import annotations

import itertools
import math
from typing import NamedTuple, Sequence

import numpy as np

from .._logspace import check_alpha, log_normalize
from .._numerics import jackknife_probabilities, top_candidate_mask, top_candidates
from .._tables import conditional_table, conditional_tables, prefix_marginal_tables
from .._validate import check_count, check_rng
from ..models import AutoregressiveModel
from ..power import power_conditional
from ._common import SamplerDistribution, laplace_ratio_expectations

#: Largest number of rollout-vector multisets enumerated for the exact clipped jackknife.
ENUMERATION_LIMIT = 20_000

#: Monte Carlo replications of the clipping correction when enumeration is too large.
DEFAULT_REPLICATIONS = 4_000


class ConditionalExpectation(NamedTuple):
    """``E[p̂_t(· | y_<t)]`` over the rollouts, a length-``V_t`` vector."""

    mean: np.ndarray
    """The expected estimated conditional (zero outside the top-``K`` candidates)."""
    standard_error: np.ndarray
    """Monte Carlo standard error per entry (zeros when ``exact``)."""
    exact: bool
    """True when no Monte Carlo was needed."""


def _check_args(model, alpha, top_k, n_rollouts, jackknife, horizon):
    alpha = check_alpha(alpha)
    top_k = check_count(top_k, "top_k")
    n_rollouts = check_count(n_rollouts, "n_rollouts", minimum=2 if jackknife else 1)
    horizon = model.horizon if horizon is None else check_count(horizon, "horizon", minimum=0)
    return alpha, top_k, n_rollouts, horizon


def _rollout_tables(marginals, prefix: tuple[int, ...], tokens: np.ndarray, alpha: float, horizon: int):
    """Per candidate: ``log`` rollout weights ``(α-1) log q(z)`` and ``log q(z)`` over the ``h``-token suffixes."""
    t = len(prefix) + 1
    h = min(horizon, len(marginals) - 1 - t)
    log_w, log_q = [], []
    for a in tokens:
        full = prefix + (int(a),)
        lq = conditional_table(marginals[t + h][full], marginals[t][full]).reshape(-1)
        log_q.append(lq)
        log_w.append(np.where(np.isfinite(lq), (alpha - 1.0) * np.where(np.isfinite(lq), lq, 0.0), -np.inf))
    return log_w, log_q, h


def _plain_expectation(log_c, log_w, log_q, M):
    return laplace_ratio_expectations([c + w for c, w in zip(log_c, log_w)], log_q, [M] * len(log_c))


def _conditional_from_tables(marginals, prefix, alpha, top_k, M, jackknife, horizon, clip, rng, n_replications):
    t = len(prefix)
    log_p = conditional_table(marginals[t + 1][prefix], marginals[t][prefix])
    tokens = top_candidates(log_p, top_k)
    log_c = [alpha * log_p[a] for a in tokens]
    log_w, log_q, h = _rollout_tables(marginals, prefix, tokens, alpha, horizon)
    keep = [np.isfinite(lq) for lq in log_q]  # impossible suffixes (most of a padded EOS table) never occur
    log_w, log_q = [w[k] for w, k in zip(log_w, keep)], [lq[k] for lq, k in zip(log_q, keep)]
    mean = np.zeros(log_p.size)
    se = np.zeros(log_p.size)
    exact = True
    if len(tokens) == 1:
        mean[tokens] = 1.0
        return ConditionalExpectation(mean, se, True), h, len(tokens)
    if not jackknife:
        mean[tokens] = _plain_expectation(log_c, log_w, log_q, M)
    else:
        linear = M * _plain_expectation(log_c, log_w, log_q, M) - (M - 1) * _plain_expectation(log_c, log_w, log_q, M - 1)
        if not clip:
            mean[tokens] = linear
        else:
            sizes = [lq.size for lq in log_q]
            n_vectors = math.prod(sizes)
            if math.comb(n_vectors + M - 1, M) <= ENUMERATION_LIMIT:
                mean[tokens] = _enumerate_clipped(log_c, log_w, log_q, M)
            else:
                exact = False
                gen = np.random.default_rng(0) if rng is None else check_rng(rng)
                diff = _sampled_clip_correction(log_c, log_w, log_q, M, n_replications, gen)
                mean[tokens] = linear + diff.mean(axis=0)
                se[tokens] = diff.std(axis=0, ddof=1) / np.sqrt(len(diff))
    return ConditionalExpectation(mean, se, exact), h, len(tokens)


def _log_values(log_c, log_w):
    """Log rollout values ``log c_k + log w_k(z)`` per candidate (the jackknife is computed in log space)."""
    return [c + w for c, w in zip(log_c, log_w)]


def _enumerate_clipped(log_c, log_w, log_q, M):
    vals = _log_values(log_c, log_w)
    sizes = [v.size for v in vals]
    log_vec_q = sum(np.ix_(*log_q)).reshape(-1) if len(log_q) > 1 else log_q[0]
    grids = np.stack(np.unravel_index(np.arange(math.prod(sizes)), sizes), axis=-1)  # (S, K)
    vec_vals = np.stack([vals[k][grids[:, k]] for k in range(len(vals))], axis=-1)  # (S, K)
    combos = np.array(list(itertools.combinations_with_replacement(range(len(vec_vals)), M)))  # (C, M)
    counts = np.stack([np.bincount(row, minlength=len(vec_vals)) for row in combos])
    log_factorial = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, M + 1)))])  # log k!, k = 0..M
    log_prob = log_factorial[M] - log_factorial[counts].sum(axis=1) + log_vec_q[combos].sum(axis=1)
    jk = jackknife_probabilities(vec_vals[combos], clip=True)  # (C, K)
    keep = np.isfinite(log_prob)
    return (np.exp(log_prob[keep])[:, None] * jk[keep]).sum(axis=0)


def _sampled_clip_correction(log_c, log_w, log_q, M, n_replications, rng):
    vals = _log_values(log_c, log_w)
    draws = np.stack(
        [v[rng.choice(v.size, size=(n_replications, M), p=np.exp(log_normalize(lq)))] for v, lq in zip(vals, log_q)],
        axis=-1,
    )  # (R, M, K)
    return jackknife_probabilities(draws, clip=True) - jackknife_probabilities(draws, clip=False)


def scalable_conditional_expectation(
    model: AutoregressiveModel,
    prefix: Sequence[int],
    alpha: float,
    top_k: int,
    n_rollouts: int,
    jackknife: bool,
    horizon: int | None = None,
    clip: bool = True,
    rng: np.random.Generator | None = None,
    n_replications: int = DEFAULT_REPLICATIONS,
) -> ConditionalExpectation:
    """``E[p̂_t(· | y_<t)]``: the sampler's actual next-token distribution at ``prefix`` (see module doc).

    ``rng`` drives only the Monte Carlo fallback of the clipped jackknife (default: seed 0).
    """
    alpha, top_k, n_rollouts, horizon = _check_args(model, alpha, top_k, n_rollouts, jackknife, horizon)
    key = model.check_prefix(prefix)
    marginals = prefix_marginal_tables(model)
    if not np.isfinite(marginals[len(key)][key]):
        raise ValueError(f"prefix {list(key)} has probability zero under the model")
    result, _, _ = _conditional_from_tables(
        marginals, key, alpha, top_k, n_rollouts, jackknife, horizon, clip, rng, check_count(n_replications, "n_replications", 2)
    )
    return result


class ConditionalBias(NamedTuple):
    """``E[p̂_t(· | y_<t)] - π_pow,α(· | y_<t)`` with the Monte Carlo standard error of the first term."""

    bias: np.ndarray
    standard_error: np.ndarray
    exact: bool


def scalable_conditional_bias(
    model: AutoregressiveModel,
    prefix: Sequence[int],
    alpha: float,
    top_k: int,
    n_rollouts: int,
    jackknife: bool,
    horizon: int | None = None,
    clip: bool = True,
    rng: np.random.Generator | None = None,
) -> ConditionalBias:
    """Bias of the scalable sampler's next-token distribution against the power conditional (Eq. 6).

    Lemma 3.2: ``O(1/M)`` plain; Lemma 3.3: ``O(1/M²)`` with the (unclipped) jackknife, when
    ``K = V`` and ``H`` reaches the end (otherwise a non-vanishing truncation bias remains).
    """
    got = scalable_conditional_expectation(model, prefix, alpha, top_k, n_rollouts, jackknife, horizon, clip, rng)
    return ConditionalBias(got.mean - power_conditional(model, prefix, alpha), got.standard_error, got.exact)


def scalable_expected_cost(model: AutoregressiveModel, distribution: np.ndarray, top_k: int, n_rollouts: int, horizon: int | None = None) -> float:
    """``E[Σ_t (1 + K_eff M h_t)]`` under the sampler's own output ``distribution`` (full support: ``K_eff = min(K, V_t)``).

    Under EOS: ``E[Σ_{t ≤ |y|} (1 + M Σ_{a ∈ top-K} E[tokens of a rollout after a])]``, a rollout
    stopping at EOS (see the module docstring).
    """
    T = model.horizon
    H = T if horizon is None else horizon
    if model.eos_token_id is not None:
        return _expected_cost_eos(model, distribution, top_k, n_rollouts, H)
    cost = 0.0
    for t in range(1, T + 1):
        prefix_mass = distribution.sum(axis=tuple(range(t - 1, T))) if t > 1 else np.ones(())
        marg = np.asarray(model.log_prefix_marginals(t))
        n_pos = np.isfinite(marg).sum(axis=-1)  # positive tokens per prefix
        k_eff = np.minimum(n_pos, top_k)
        cost += float((prefix_mass * (1 + k_eff * n_rollouts * min(H, T - t))).sum())
    return cost


def _expected_cost_eos(model: AutoregressiveModel, distribution: np.ndarray, top_k: int, n_rollouts: int, H: int) -> float:
    eos, T = model.eos_token_id, model.horizon
    marginals = prefix_marginal_tables(model)
    conditionals = conditional_tables(marginals)
    # mass of the prefixes of length s that do not end at EOS (a rollout samples a token after them)
    open_mass = [np.exp(marginals[0])] + [
        np.where(np.arange(model.vocab_sizes[s - 1]) == eos, 0.0, np.exp(marginals[s])) for s in range(1, T + 1)
    ]
    cost = 0.0
    for t in range(1, T + 1):  # choosing y_t after the prefix y_{<t}
        h = min(H, T - t)
        sampled = np.zeros(model.vocab_sizes[:t])  # Σ_{j<h} P(y_{t+j} ≠ EOS | y_{1:t}): tokens one rollout samples
        for j in range(h):
            sampled += open_mass[t + j].sum(axis=tuple(range(t, t + j)))
        with np.errstate(divide="ignore", invalid="ignore"):
            sampled = np.where(np.isfinite(marginals[t]), sampled / np.exp(marginals[t]), 0.0)
        cond = conditionals[t - 1]
        candidate = top_candidate_mask(cond, top_k)  # the top-K rule, per prefix
        step = 1.0 + n_rollouts * (candidate * sampled).sum(axis=-1)  # per prefix y_{<t}
        prefix_mass = distribution.sum(axis=tuple(range(t - 1, T))) if t > 1 else np.ones(())
        if t > 1:
            prefix_mass = np.where(np.arange(model.vocab_sizes[t - 2]) == eos, 0.0, prefix_mass)  # stopped at EOS
        cost += float((prefix_mass * step).sum())
    return cost


def scalable_output_distribution(
    model: AutoregressiveModel,
    alpha: float,
    top_k: int,
    n_rollouts: int,
    jackknife: bool,
    horizon: int | None = None,
    clip: bool = True,
    rng: np.random.Generator | None = None,
    n_replications: int = DEFAULT_REPLICATIONS,
) -> SamplerDistribution:
    """Output distribution ``Π_t E[p̂_t(y_t | y_<t)]`` of the scalable sampler over all sequences.

    Exact unless the clipped jackknife needs its Monte Carlo fallback; then the
    standard errors combine the per-step ones by the delta method
    (``se(Π p_t)/Π p_t ≈ sqrt(Σ (se_t/p_t)²)``).

    A step's expectation can be negative (the unclipped jackknife, ``clip=False``, or a Monte
    Carlo estimate): a prefix whose product is ``<= 0`` is not extended (its sequences get 0,
    even when a later factor is negative too), and the law is then clipped at 0 and renormalised.
    """
    alpha, top_k, n_rollouts, horizon = _check_args(model, alpha, top_k, n_rollouts, jackknife, horizon)
    n_replications = check_count(n_replications, "n_replications", 2)
    marginals = prefix_marginal_tables(model)
    sizes = model.vocab_sizes
    dist = np.ones(())
    rel_var = np.zeros(())
    all_exact = True
    for t in range(model.horizon):
        new = np.zeros(sizes[: t + 1])
        new_rel = np.zeros(sizes[: t + 1])
        for key in itertools.product(*[range(v) for v in sizes[:t]]):
            if dist[key] <= 0:
                continue
            cond, _, _ = _conditional_from_tables(
                marginals, key, alpha, top_k, n_rollouts, jackknife, horizon, clip, rng, n_replications
            )
            all_exact &= cond.exact
            new[key] = dist[key] * cond.mean
            with np.errstate(divide="ignore", invalid="ignore"):
                new_rel[key] = rel_var[key] + np.where(cond.mean > 0, (cond.standard_error / cond.mean) ** 2, 0.0)
        dist, rel_var = new, new_rel
    dist = np.clip(dist, 0.0, None)
    dist /= dist.sum()
    return SamplerDistribution(
        dist, dist * np.sqrt(rel_var), scalable_expected_cost(model, dist, top_k, n_rollouts, horizon), all_exact
    )


__all__ = [
    "ENUMERATION_LIMIT",
    "ConditionalExpectation",
    "ConditionalBias",
    "scalable_conditional_expectation",
    "scalable_conditional_bias",
    "scalable_expected_cost",
    "scalable_output_distribution",
]
