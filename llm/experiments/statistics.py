"""Statistics next to the evaluation tables: pass@k, mean ± sd over seeds, self-reward Best-of-N, paired tests.

Rewards come as arrays of shape ``(problems, samples)`` (a 1-d array is one sample per
problem); every function checks its input and raises ``ValueError`` for bad shapes,
non-finite values, or non-0/1 rewards where 0/1 is needed.

* :func:`pass_at_k` -- the unbiased estimator of Chen et al. 2021 (arXiv 2107.03374, Eq. 1):
  with ``c`` correct among ``n`` samples, ``pass@k = 1 - C(n-c, k) / C(n, k)``, computed
  stably as ``1 - Π_{i=n-c+1}^{n} (1 - k/i)`` (and exactly 1 when ``n - c < k``);
  :func:`pass_at_k_rewards` averages it over problems.  (``c/n`` is unbiased only for ``k = 1``.)
* :func:`mean_sd_over_seeds` -- Table 1 of arXiv 2605.04542: per seed, the mean over problems;
  then the mean and sample sd (``ddof = 1``) of those per-seed means.
* :func:`best_of_n` -- self-reward Best-of-N (Table 1, right): per problem the sample with the
  largest ``r_self`` (first on ties), then the mean of its ``r*`` and ``r_self``.
* :func:`mcnemar_exact` -- two methods, 0/1 rewards on the same (problem, sample) cells: with
  ``b`` cells only A solved and ``c`` only B solved, the exact two-sided McNemar p-value
  ``min(1, 2 P[Bin(b + c, 1/2) <= min(b, c)])`` (McNemar 1947; exact form: the binomial test on
  the discordant pairs), computed in exact rational arithmetic.  It treats cells as independent
  pairs; with several samples per problem they are not quite (same problem), which the
  bootstrap below respects.
* :func:`paired_bootstrap` -- real rewards: the mean over problems of the per-problem difference
  of means, and its percentile bootstrap CI resampling *problems* with replacement (Efron &
  Tibshirani 1993, ch. 13), seeded.
* :func:`paired_comparison` -- both where they apply (McNemar only for 0/1 rewards).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import NamedTuple

import numpy as np

__all__ = [
    "BestOfN",
    "BootstrapCI",
    "McNemar",
    "MeanSD",
    "PairedComparison",
    "PassAtK",
    "best_of_n",
    "is_binary",
    "mcnemar_exact",
    "mean_sd_over_seeds",
    "paired_bootstrap",
    "paired_comparison",
    "pass_at_k",
    "pass_at_k_rewards",
]


class PassAtK(NamedTuple):
    """pass@``k`` averaged over ``n_problems`` problems with ``n_samples`` samples each."""

    k: int
    estimate: float
    n_problems: int
    n_samples: int


class MeanSD(NamedTuple):
    """Mean and sample sd (``ddof = 1``; NaN for one seed) of ``n_seeds`` per-seed means."""

    mean: float
    sd: float
    n_seeds: int


class BestOfN(NamedTuple):
    """Self-reward Best-of-N: mean ``r_star`` and ``r_self`` of each problem's highest-``r_self`` sample."""

    r_star: float
    r_self: float
    n_problems: int
    n_samples: int


class McNemar(NamedTuple):
    """Exact McNemar test: ``only_a`` / ``only_b`` discordant cells of ``n_pairs``; ``difference`` = mean(a) - mean(b)."""

    n_pairs: int
    only_a: int
    only_b: int
    difference: float
    p_value: float


class BootstrapCI(NamedTuple):
    """Paired bootstrap: mean per-problem ``difference`` (a - b) and its ``confidence`` percentile interval."""

    difference: float
    low: float
    high: float
    confidence: float
    n_resamples: int
    n_problems: int
    seed: int


class PairedComparison(NamedTuple):
    """A vs B on the same problems: the bootstrap CI always, McNemar when both are 0/1 (else ``None``)."""

    bootstrap: BootstrapCI
    mcnemar: McNemar | None


def _count(value, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _rewards(values, name: str) -> np.ndarray:
    """``values`` as a finite float64 ``(problems, samples)`` array (1-d: one sample each)."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty (problems, samples) array, got shape {np.shape(values)}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} has non-finite values")
    return array


def is_binary(values) -> bool:
    """Whether every value is exactly 0 or 1."""
    array = np.asarray(values, dtype=np.float64)
    return bool(np.all((array == 0) | (array == 1)))


def _binary(values, name: str) -> np.ndarray:
    array = _rewards(values, name)
    if not is_binary(array):
        raise ValueError(f"{name} must be 0/1 rewards (pass/fail)")
    return array


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of one problem: ``1 - C(n-c, k)/C(n, k)`` (Chen et al. 2021, arXiv 2107.03374)."""
    n, c, k = _count(n, "n", 1), _count(c, "c", 0), _count(k, "k", 1)
    if c > n or k > n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1, dtype=np.float64)))


def pass_at_k_rewards(rewards, k: int) -> PassAtK:
    """Mean over problems of :func:`pass_at_k` for 0/1 ``rewards`` of shape ``(problems, samples)``."""
    array = _binary(rewards, "rewards")
    problems, samples = array.shape
    correct = array.sum(axis=1).astype(int)
    return PassAtK(k, float(np.mean([pass_at_k(samples, int(c), k) for c in correct])), problems, samples)


def mean_sd_over_seeds(rewards) -> MeanSD:
    """Table 1's "mean ± sd": per seed (column) the mean over problems, then their mean and sd (``ddof = 1``)."""
    per_seed = _rewards(rewards, "rewards").mean(axis=0)
    sd = float(per_seed.std(ddof=1)) if len(per_seed) > 1 else float("nan")
    return MeanSD(float(per_seed.mean()), sd, len(per_seed))


def best_of_n(r_star, r_self) -> BestOfN:
    """Self-reward Best-of-N over the samples of each problem (first maximum on ties; ``r_self`` may be ``-inf``)."""
    star = _rewards(r_star, "r_star")
    own = np.asarray(r_self, dtype=np.float64)
    own = own[:, None] if own.ndim == 1 else own
    if own.shape != star.shape:
        raise ValueError(f"r_star {star.shape} and r_self {own.shape} must have the same shape")
    if np.any(np.isnan(own)) or np.any(own == np.inf):
        raise ValueError("r_self has NaN or +inf values")
    best = np.argmax(own, axis=1)
    rows = np.arange(star.shape[0])
    return BestOfN(float(star[rows, best].mean()), float(own[rows, best].mean()), *star.shape)


def _same_shape(a, b) -> tuple[np.ndarray, np.ndarray]:
    if np.shape(a) != np.shape(b):
        raise ValueError(f"paired rewards need the same shape, got {np.shape(a)} and {np.shape(b)}")
    return _rewards(a, "a"), _rewards(b, "b")


def mcnemar_exact(a, b) -> McNemar:
    """Exact two-sided McNemar test of 0/1 rewards ``a`` vs ``b`` on the same cells (see the module docstring)."""
    _same_shape(a, b)
    a, b = _binary(a, "a").ravel(), _binary(b, "b").ravel()
    only_a, only_b = int(np.sum((a == 1) & (b == 0))), int(np.sum((a == 0) & (b == 1)))
    discordant = only_a + only_b
    tail = Fraction(sum(math.comb(discordant, i) for i in range(min(only_a, only_b) + 1)), 2**discordant)
    return McNemar(len(a), only_a, only_b, float(a.mean() - b.mean()), float(min(Fraction(1), 2 * tail)))


def paired_bootstrap(a, b, n_resamples: int = 10_000, confidence: float = 0.95, seed: int = 0) -> BootstrapCI:
    """Percentile bootstrap CI of mean(a) - mean(b), resampling problems (rows) with ``default_rng(seed)``."""
    a, b = _same_shape(a, b)
    n_resamples = _count(n_resamples, "n_resamples", 1)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    difference = a.mean(axis=1) - b.mean(axis=1)
    problems = len(difference)
    if problems < 2:
        raise ValueError("a paired bootstrap needs at least two problems")
    rng = np.random.default_rng(seed)
    means = np.empty(n_resamples)
    for start in range(0, n_resamples, 1000):  # bounded memory: 1000 resamples at a time
        stop = min(start + 1000, n_resamples)
        means[start:stop] = difference[rng.integers(0, problems, size=(stop - start, problems))].mean(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return BootstrapCI(float(difference.mean()), float(low), float(high), confidence, n_resamples, problems, seed)


def paired_comparison(a, b, seed: int = 0, n_resamples: int = 10_000) -> PairedComparison:
    """:func:`paired_bootstrap`, and :func:`mcnemar_exact` if both reward arrays are 0/1."""
    bootstrap = paired_bootstrap(a, b, n_resamples=n_resamples, seed=seed)
    return PairedComparison(bootstrap, mcnemar_exact(a, b) if is_binary(a) and is_binary(b) else None)
