"""How fast the true reward moves with α, estimated from power samples (Prop. 4, Eq. 18, on a real model).

With ``R(α; x) = E_{π_α}[r*]`` and samples ``y_1..y_n ~ π_α(· | x)`` (e.g. power-MH
output), two estimates of ``∂R/∂α`` sit side by side:

* **covariance** (Eq. 18): the sample ``Cov(r*, r_self)`` with
  ``r_self = log π(y | x)`` (the *total* log-likelihood, not length-normalised:
  Prop. 4 differentiates ``π^α``), divisor ``n - 1``;
* **reweighting**: ``π_{α'} ∝ π_α · π^{α'-α}``, so the self-normalised estimate
  ``R̂(α') = Σ_i w_i r*_i / Σ_i w_i`` with ``log w_i = (α' - α) log π(y_i | x)``
  gives the central difference ``[R̂(α + h) - R̂(α - h)] / 2h``.  As ``h → 0`` it
  tends to the plug-in covariance with divisor ``n`` (differentiate ``R̂`` at
  ``α' = α``), so the two agree up to ``O(h²) + O(1/n)``; a larger ``h`` trades bias
  for the finite-difference view of how ``R`` bends.

With several prompts (``groups``) each is estimated per prompt and averaged
(the ``μ``-expectation of Eq. 18).  Standard errors are delete-one jackknife
over samples.  Both need the samples to really come from ``π_α``: MH output
with too few steps biases both alike.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

__all__ = ["SlopeEstimate", "estimate_slope", "reweighted_reward", "slope_from_completions"]


class SlopeEstimate(NamedTuple):
    """``∂R/∂α`` at ``alpha`` by sample covariance and by reweighting, each with a jackknife standard error."""

    covariance: float
    covariance_se: float
    reweighted: float
    reweighted_se: float
    n: int
    step: float


def reweighted_reward(rewards: Sequence[float], log_likelihoods: Sequence[float], delta: float) -> float:
    """``R̂(α + δ) = Σ w_i r*_i / Σ w_i``, ``log w_i = δ log π(y_i | x)``, from samples of ``π_α`` (one prompt)."""
    r, s = _check(rewards, log_likelihoods)
    logw = delta * (s - s.max())
    w = np.exp(logw - logw.max())
    return float(w @ r / w.sum())


def _check(rewards, log_likelihoods) -> tuple[np.ndarray, np.ndarray]:
    r = np.asarray(rewards, dtype=np.float64)
    s = np.asarray(log_likelihoods, dtype=np.float64)
    if r.shape != s.shape or r.ndim != 1:
        raise ValueError(f"rewards and log-likelihoods must be 1-d of one length, got {r.shape} and {s.shape}")
    if not (np.all(np.isfinite(r)) and np.all(np.isfinite(s))):
        raise ValueError("rewards and log-likelihoods must be finite (samples of π_α lie on π's support)")
    return r, s


def _leave_one_out(r: np.ndarray, s: np.ndarray, step: float) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Full-sample covariance and central difference, and their ``n`` leave-one-out values (one prompt)."""
    n = len(r)
    if n < 3:
        raise ValueError(f"each prompt needs at least 3 samples for a jackknife, got {n}")
    centred_s = s - s.mean()  # shifting log π changes neither estimate
    sum_r, sum_s, sum_rs = r.sum(), centred_s.sum(), r @ centred_s
    cov = (sum_rs - sum_r * sum_s / n) / (n - 1)
    loo_r, loo_s, loo_rs = sum_r - r, sum_s - centred_s, sum_rs - r * centred_s
    cov_loo = (loo_rs - loo_r * loo_s / (n - 1)) / (n - 2)

    def difference(mask_out: np.ndarray | None):
        values = []
        for sign in (1.0, -1.0):
            logw = sign * step * centred_s
            w = np.exp(logw - logw.max())
            wr = w * r
            if mask_out is None:
                values.append(wr.sum() / w.sum())
            else:
                values.append((wr.sum() - wr) / (w.sum() - w))
        return (values[0] - values[1]) / (2 * step)

    return float(cov), float(difference(None)), cov_loo, difference(np.ones(n, dtype=bool))


def estimate_slope(
    rewards: Sequence[float],
    log_likelihoods: Sequence[float],
    step: float = 0.05,
    groups: Sequence[int] | None = None,
) -> SlopeEstimate:
    """``∂R/∂α`` from ``π_α`` samples: mean over prompts of ``Cov(r*, log π)`` and of the reweighted difference.

    ``rewards[i] = r*(x, y_i)``, ``log_likelihoods[i] = log π(y_i | x)`` (total),
    ``groups[i]`` the prompt of sample ``i`` (default: one prompt).  ``step`` is the ``h``
    of the central difference.  SEs: delete-one jackknife over all samples.
    """
    r, s = _check(rewards, log_likelihoods)
    if not step > 0:
        raise ValueError(f"step must be > 0, got {step}")
    labels = np.zeros(len(r), dtype=np.int64) if groups is None else np.asarray(groups)
    if labels.shape != r.shape:
        raise ValueError("groups must give one prompt label per sample")
    keys = list(dict.fromkeys(labels.tolist()))
    n_groups = len(keys)
    cov_full, diff_full = np.empty(n_groups), np.empty(n_groups)
    cov_loo, diff_loo = np.empty(len(r)), np.empty(len(r))  # leave-one-out values of the *average* over prompts
    per_group = []
    for g, key in enumerate(keys):
        index = np.flatnonzero(labels == key)
        cov_full[g], diff_full[g], c, d = _leave_one_out(r[index], s[index], step)
        per_group.append((index, c, d))
    cov_mean, diff_mean = cov_full.mean(), diff_full.mean()
    for g, (index, c, d) in enumerate(per_group):
        cov_loo[index] = cov_mean + (c - cov_full[g]) / n_groups
        diff_loo[index] = diff_mean + (d - diff_full[g]) / n_groups
    n = len(r)

    def jackknife_se(values: np.ndarray) -> float:
        return float(np.sqrt((n - 1) / n * np.sum((values - values.mean()) ** 2)))

    return SlopeEstimate(float(cov_mean), jackknife_se(cov_loo), float(diff_mean), jackknife_se(diff_loo), n, float(step))


def slope_from_completions(
    lm,
    prompts: Sequence[Sequence[int]],
    completions: Sequence[Sequence[int]],
    rewards: Sequence[float],
    step: float = 0.05,
) -> SlopeEstimate:
    """:func:`estimate_slope` with ``log π(y | x)`` scored by ``lm`` (prompt masked); samples grouped by prompt."""
    scores = lm.score(prompts, completions)
    log_likelihoods = [float(v.sum()) for v in scores]
    labels = {}
    groups = [labels.setdefault(tuple(int(t) for t in p), len(labels)) for p in prompts]
    return estimate_slope(rewards, log_likelihoods, step, groups)
