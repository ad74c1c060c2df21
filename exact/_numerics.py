"""The one implementation of the samplers' numerics, shared by ``exact`` and ``llm``.

Every power sampler of arXiv 2605.04542 -- Metropolis-Hastings / Power(∞) (Karan & Du,
arXiv 2510.14901), scalable power sampling (arXiv 2601.21590), Power-SMC (arXiv
2602.10273), self-reward Best-of-N -- is built from a few numerical kernels.  They live
here once; ``llm`` calls them on ``tensor.numpy()`` views of its float64 tensors (the
random numbers stay with the caller's ``torch.Generator``), ``exact`` calls them on its
tables.

Conventions: numpy only, float64, natural logs, ``-inf`` is a legal zero.  Every
function is pure: randomness comes in as uniforms ``u ∈ [0, 1)`` drawn by the caller, so
the same uniforms give the same draws on every backend.  Arguments are not validated
here (these run once per decoded token): the public entry points that call them check
their input (``exact._validate``).

* :func:`log_normalize` -- ``log w - log Σ w`` (re-exported from ``exact._logspace``);
* :func:`effective_sample_size` -- ``ESS = (Σ w)² / Σ w²`` of log-weights;
* :func:`inverse_cdf` -- one categorical draw per row of log-probabilities, given one uniform per row;
* :func:`systematic_resample` -- ancestor indices given one uniform per row of log-weights;
* :func:`top_candidates` / :func:`top_candidate_mask` -- the top-``K`` candidate rule of the scalable sampler;
* :func:`jackknife_probabilities` -- the plain and jackknife candidate probabilities of the scalable sampler.
"""

from __future__ import annotations

import numpy as np

from ._logspace import log_normalize, logsumexp, normalize_exp

__all__ = [
    "effective_sample_size",
    "inverse_cdf",
    "jackknife_probabilities",
    "log_normalize",
    "systematic_resample",
    "top_candidate_mask",
    "top_candidates",
]


def effective_sample_size(log_weights: np.ndarray, axis: int = -1) -> np.ndarray:
    """``ESS = (Σ_i w_i)² / Σ_i w_i²`` along ``axis`` from log-weights ``log w_i`` (Kong 1992).

    The resampling trigger of Power-SMC (arXiv 2602.10273; Section 4.2 of arXiv
    2605.04542): ``1 ≤ ESS ≤ N`` when some weight is positive; a slice whose weights are
    all zero (all ``-inf``) has ESS ``0``.  Scale-free: the weights are shifted so that
    the largest is 1 before squaring, so no log-weight magnitude overflows.
    """
    lw = np.asarray(log_weights, dtype=np.float64)
    peak = np.max(lw, axis=axis, keepdims=True) if lw.size else np.zeros_like(lw)
    lw = lw - np.where(np.isfinite(peak), peak, 0.0)
    with np.errstate(invalid="ignore"):  # an all -inf slice: -inf - -inf = NaN, mapped to 0 below
        log_ess = 2 * logsumexp(lw, axis=axis) - logsumexp(2 * lw, axis=axis)
    return np.where(np.isfinite(log_ess), np.exp(log_ess), 0.0)


def _first_above(cdf: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Per row, for each point ``x``: ``#{j : cdf_j ≤ x}``, i.e. the first ``j`` with ``cdf_j > x``.

    ``cdf`` has shape ``(R, V)`` and is non-decreasing along each row; ``points`` ``(R, P)``.
    Exact comparisons (what ``searchsorted(side="right")`` does row by row): one point per
    row is a vectorised count; several (sorted) points per row are merged with the row's
    ``cdf`` by one stable sort, ``O(R (V + P) log(V + P))``, no loop over rows.
    """
    rows, width = cdf.shape
    if points.shape[1] == 1:
        return (cdf <= points).sum(axis=1, keepdims=True)
    merged = np.concatenate([cdf, points], axis=1)
    is_point = np.zeros(merged.shape, dtype=bool)
    is_point[:, width:] = True
    order = np.lexsort((is_point, merged), axis=-1)  # by value, a cdf entry before an equal point
    kind = np.take_along_axis(is_point, order, axis=1)
    below = np.cumsum(~kind, axis=1)  # cdf entries at or before each merged position
    return below[kind].reshape(rows, -1)


def _last_positive(probs: np.ndarray) -> np.ndarray:
    """Per row of ``(R, V)`` probabilities, the largest index of positive mass (``V - 1`` if none)."""
    width = probs.shape[-1]
    return width - 1 - np.argmax(probs[:, ::-1] > 0, axis=-1)


def inverse_cdf(log_probs: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """One token per row of ``log_probs`` (``(..., V)``, unnormalised allowed), given ``uniforms`` (``(...)``, in ``[0, 1)``).

    The leading axes of ``log_probs`` and the shape of ``uniforms`` broadcast (one row, many uniforms).

    With ``p_j = exp(log_probs_j)`` and ``F_j = Σ_{i ≤ j} p_i`` (float64, left to right), the
    draw is the first token whose cumulative mass exceeds ``u · F_V``:
    ``y = min{j : F_j > u F_V}``.  A zero-probability token is never drawn (``F`` does not
    grow there); if ``u F_V`` rounds up to ``F_V`` (``u`` within an ulp of 1) the draw is the
    last token of positive mass.  A row with no mass returns ``V - 1``.  This is the sampler
    every ``llm`` sampler uses (``llm.sample_from_logprobs``, one uniform per row; a
    ``torch.multinomial`` draws one exponential per vocabulary entry instead).
    """
    lp = np.asarray(log_probs, dtype=np.float64)
    u = np.asarray(uniforms, dtype=np.float64)
    shape, width = np.broadcast_shapes(lp.shape[:-1], u.shape), lp.shape[-1]
    u = np.broadcast_to(u, shape)
    probs = np.exp(np.broadcast_to(lp, shape + (width,)).reshape(-1, width))
    cdf = np.cumsum(probs, axis=-1)
    token = _first_above(cdf, u.reshape(-1, 1) * cdf[:, -1:])[:, 0]
    over = token >= width
    if over.any():
        token[over] = _last_positive(probs[over])
    return token.reshape(shape)


def systematic_resample(log_weights: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Ancestor indices by systematic resampling of each row of ``log_weights`` (``(..., N)``), given ``uniforms`` (``(...)``).

    Normalised weights ``W_j``, cumulative ``C_j = Σ_{l ≤ j} W_l``, set to exactly 1 from
    the last positive weight on; positions ``u_i = (i + U) / N``, ``i = 0..N-1``, one
    uniform ``U`` per row; ancestor ``a_i = min{j : C_j > u_i}`` (Kitagawa 1996; the
    resampling step of Power-SMC, arXiv 2602.10273).  Particle ``j`` gets ``⌊N W_j⌋`` or
    ``⌈N W_j⌉`` copies (``E = N W_j``), a zero-weight particle none.  Returns int64 ``(..., N)``.
    """
    lw = np.asarray(log_weights, dtype=np.float64)
    shape, n = lw.shape, lw.shape[-1]
    weights = normalize_exp(lw.reshape(-1, n))
    last = _last_positive(weights)
    cumulative = np.cumsum(weights, axis=1)
    cumulative[np.arange(n)[None, :] >= last[:, None]] = 1.0
    positions = (np.arange(n)[None, :] + np.asarray(uniforms, dtype=np.float64).reshape(-1, 1)) / n
    # a position that rounds up to 1 ((N - 1 + U)/N with U within an ulp of 1) takes the last positive particle
    return np.minimum(_first_above(cumulative, positions), last[:, None]).reshape(shape)


def _ranks(log_probs: np.ndarray) -> np.ndarray:
    """Token ids ordered by decreasing probability along the last axis, ties by token id (a stable sort)."""
    return np.argsort(-np.asarray(log_probs, dtype=np.float64), axis=-1, kind="stable")


def top_candidates(log_probs: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` most probable tokens of a ``(V,)`` log-prob vector, most probable first.

    Ties are broken by token id; a zero-probability token (``-inf``) is never kept, so
    fewer than ``k`` come back when fewer have positive mass.  Step 1 of the scalable
    sampler (arXiv 2601.21590): the candidates whose ``ζ`` is estimated by rollouts.
    """
    lp = np.asarray(log_probs, dtype=np.float64)
    order = _ranks(lp)
    return order[np.isfinite(lp[order])][:k]


def top_candidate_mask(log_probs: np.ndarray, k: int) -> np.ndarray:
    """``(..., V)`` booleans: is the token one of :func:`top_candidates` of its row (same rule, every row at once)."""
    lp = np.asarray(log_probs, dtype=np.float64)
    rank = np.empty(lp.shape, dtype=np.int64)
    np.put_along_axis(rank, _ranks(lp), np.broadcast_to(np.arange(lp.shape[-1]), lp.shape), axis=-1)
    return (rank < k) & np.isfinite(lp)


def jackknife_probabilities(log_values: np.ndarray, jackknife: bool = True, clip: bool = True) -> np.ndarray:
    """Candidate probabilities of the scalable sampler from ``log X[..., r, k]``, shape ``(..., M, K)``.

    ``X[r, k] = p(a_k)^α π(z_k^{(r)})^{α-1}`` (any common scale) for rollout ``r`` of candidate
    ``a_k``; the ``r``-th rollouts of all candidates form the ``r``-th draw (arXiv 2601.21590):

    * plain (Lemma 3.2, bias ``O(1/M)``): ``p̂_k = Σ_r X_rk / Σ_{r,j} X_rj``;
    * jackknife (Lemma 3.3, bias ``O(1/M²)``): ``p̂_JK = M p̂ - ((M-1)/M) Σ_s p̂^{(-s)}``,
      ``p̂^{(-s)}`` the plain estimate without draw ``s``; with ``clip`` its negative entries
      are set to 0 and the vector renormalised.

    Computed in log space: the leave-one-out sums are ``logsumexp`` over the other draws
    (prefix and suffix running sums, ``O(MK)``), never ``Σ_r X_r - X_s``.  So when one draw
    dominates and the others underflow on the natural scale (``exp`` of a log-ratio below
    ``-745``), ``p̂^{(-s)}`` is still the ratio of the others' values, the value the
    estimator has in exact arithmetic.  ``p̂_JK`` sums to 1 (coefficients ``M - (M-1)``), so
    clipping always leaves a positive entry and the result is always a probability vector.
    ``ValueError`` where the estimator is undefined: ``jackknife`` with ``M < 2``, or a
    draw set (all, or all but one) whose values are all 0.  Returns ``(..., K)``.
    """
    lx = np.asarray(log_values, dtype=np.float64)
    M = lx.shape[-2]
    plain = _row_distribution(logsumexp(lx, axis=-2))
    if not jackknife:
        return plain
    if M < 2:
        raise ValueError(f"the jackknife needs at least 2 rollouts per candidate, got M = {M}")
    with np.errstate(invalid="ignore"):  # logaddexp(-inf, -inf) is -inf; numpy may still flag it
        before = np.logaddexp.accumulate(lx, axis=-2)  # lse of draws 0..s
        after = np.flip(np.logaddexp.accumulate(np.flip(lx, axis=-2), axis=-2), axis=-2)  # lse of draws s..M-1
    empty = np.full(lx.shape[:-2] + (1, lx.shape[-1]), -np.inf)
    log_others = np.logaddexp(
        np.concatenate([empty, before[..., :-1, :]], axis=-2), np.concatenate([after[..., 1:, :], empty], axis=-2)
    )  # (..., M, K): lse over r != s
    leave_one_out = _row_distribution(log_others)
    jk = M * plain - (M - 1) / M * leave_one_out.sum(axis=-2)
    if clip:
        jk = np.clip(jk, 0.0, None)
        jk = jk / jk.sum(axis=-1, keepdims=True)
    return jk


def _row_distribution(log_totals: np.ndarray) -> np.ndarray:
    """``exp(log_normalize)`` along the last axis; a row of all ``-inf`` (no mass) is refused."""
    if not np.all(np.isfinite(np.max(log_totals, axis=-1))):
        raise ValueError("the candidate values of a rollout set are all 0 (or NaN/+inf): the estimate is undefined")
    return normalize_exp(log_totals)
