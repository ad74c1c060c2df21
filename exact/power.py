"""The power distribution and its next-token conditionals (paper Sections 3-4).

* ``π_α(y | x) = π(y | x)^α / Z_α`` with ``Z_α = Σ_y π(y | x)^α``        (Eq. 4)
* per-token temperature: ``π_temp,α(s | y_<t) ∝ π(s | y_<t)^α``             (Eq. 5)
* sequence-level power: ``π_pow,α(s | y_<t) = π̃_{α,t}(y_<t, s) / π̃_{α,t-1}(y_<t)`` (Eqs. 6, 8, 10)

Everything is computed from log probabilities; zero-probability sequences are
``-inf`` and stay so.  The batched ``*_conditionals`` functions return one row
per prefix of a given length; a prefix of probability zero has no conditional,
and its row is all zeros (so the rows chain back to ``π_α`` by multiplication,
and row sums say which prefixes are defined).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ._logspace import log_normalize, logsumexp
from ._memory import check_allocation
from ._validate import check_alpha, check_count, check_model, check_rng
from ._numerics import inverse_cdf
from ._tables import conditional_table, power_prefix_tables
from .models import AutoregressiveModel, MarkovAR, _sample_from_levels


def log_partition(model: AutoregressiveModel, alpha: float) -> float:
    """``log Z_α = log Σ_y π(y | x)^α`` (denominator of Eq. 4; ``π̃_{α,0}`` of Eq. 8)."""
    check_model(model)
    return float(model.log_prefix_totals(check_alpha(alpha), 0))


def log_power_joint(model: AutoregressiveModel, alpha: float) -> np.ndarray:
    """``log π_α(y | x) = α log π(y | x) - log Z_α`` over all sequences (Eq. 4), shape ``vocab_sizes``."""
    check_model(model)
    alpha = check_alpha(alpha)
    check_allocation(model.vocab_sizes, "the power joint")
    return model.log_prefix_totals(alpha, model.horizon) - log_partition(model, alpha)


def power_joint(model: AutoregressiveModel, alpha: float) -> np.ndarray:
    """``π_α(y | x) ∝ π(y | x)^α`` over all sequences (Eq. 4), shape ``vocab_sizes``."""
    check_model(model)
    return np.exp(log_power_joint(model, alpha))


def log_prefix_totals(model: AutoregressiveModel, alpha: float, t: int) -> np.ndarray:
    """``log π̃_{α,t}(y_{1:t}) = log Σ_{y_{t+1:T}} π(y_{1:T})^α`` for every length-``t`` prefix (Eq. 8).

    ``t = 0`` gives the scalar ``log Z_α``; ``t = T`` gives ``α log π(y)``.
    """
    check_model(model)
    return model.log_prefix_totals(check_alpha(alpha), t)


def log_power_conditional(model: AutoregressiveModel, prefix: Sequence[int], alpha: float) -> np.ndarray:
    """``log π_pow,α(y_t = · | y_<t)`` (Eq. 6) via Eq. (21): ``α log p(s) + log Σ_z q_{t,s}(z)^α``, normalised."""
    check_model(model)
    alpha = check_alpha(alpha)
    scores = alpha * model.log_conditional(prefix) + model.log_power_suffix_mass(prefix, alpha)
    return log_normalize(scores)


def power_conditional(model: AutoregressiveModel, prefix: Sequence[int], alpha: float) -> np.ndarray:
    """Sequence-level power next-token conditional ``π_pow,α(· | x, y_<t)`` (Eqs. 6 and 10).

    Requires ``π(y_<t) > 0``; a length-``V_t`` probability vector.
    """
    check_model(model)
    return np.exp(log_power_conditional(model, prefix, alpha))


def log_temp_conditional(model: AutoregressiveModel, prefix: Sequence[int], alpha: float) -> np.ndarray:
    """``log π_temp,α(y_t = · | y_<t)`` (Eq. 5): ``α log π(s | y_<t)``, normalised."""
    check_model(model)
    alpha = check_alpha(alpha)
    return log_normalize(alpha * model.log_conditional(prefix))


def temp_conditional(model: AutoregressiveModel, prefix: Sequence[int], alpha: float) -> np.ndarray:
    """Per-token temperature next-token distribution ``π_temp,α(· | x, y_<t) ∝ π(· | y_<t)^α`` (Eq. 5)."""
    check_model(model)
    return np.exp(log_temp_conditional(model, prefix, alpha))


def power_conditionals(model: AutoregressiveModel, alpha: float, length: int) -> np.ndarray:
    """``π_pow,α(y_{t} | y_<t)`` for every prefix of ``length = t - 1`` tokens, shape ``vocab_sizes[:t]``.

    Row ``y_<t`` is ``π̃_{α,t}(y_<t, ·) / π̃_{α,t-1}(y_<t)`` (Eq. 10); rows of
    zero-probability prefixes are zeros.
    """
    check_model(model)
    alpha = check_alpha(alpha)
    length = _check_prefix_length(model, length)
    check_allocation(model.vocab_sizes[: length + 1], "the table of power conditionals")
    return np.exp(conditional_table(model.log_prefix_totals(alpha, length + 1), model.log_prefix_totals(alpha, length)))


def temp_conditionals(model: AutoregressiveModel, alpha: float, length: int) -> np.ndarray:
    """``π_temp,α(y_t | y_<t)`` (Eq. 5) for every prefix of ``length`` tokens; zero rows where undefined."""
    check_model(model)
    alpha = check_alpha(alpha)
    length = _check_prefix_length(model, length)
    check_allocation(model.vocab_sizes[: length + 1], "the table of temperature conditionals")
    log_cond = conditional_table(model.log_prefix_marginals(length + 1), model.log_prefix_marginals(length))
    return np.exp(log_normalize(alpha * log_cond))  # a row under a zero-mass prefix stays all zeros


def all_power_conditionals(model: AutoregressiveModel, alpha: float) -> tuple[np.ndarray, ...]:
    """Power conditionals at every prefix of every length: ``tables[t]`` has shape ``vocab_sizes[:t+1]``.

    ``tables[t][y_{1:t}, s] = π̃_{α,t+1}(y_{1:t}, s) / π̃_{α,t}(y_{1:t}) = π_pow,α(s | y_{1:t})`` (Eqs. 8, 10);
    rows of zero-probability prefixes are zeros.  For dense models this is one
    backward sweep over the leaves plus one division per leaf: the engine the
    ``bench exact`` benchmark times (see :func:`_normalize_rows` for the numerics).
    """
    check_model(model)
    alpha = check_alpha(alpha)
    log_joint = getattr(model, "log_joint", None)
    if log_joint is None:
        return tuple(power_conditionals(model, alpha, t) for t in range(model.horizon))
    sizes = tuple(model.vocab_sizes)
    check_allocation(sizes, "the table of power conditionals at the leaves")
    logp = np.asarray(log_joint(), dtype=np.float64)
    tables = []
    level, scale = logp, alpha  # the leaves carry log π; their power is α log π
    for t in range(len(sizes), 0, -1):
        cond, level = _normalize_rows(level.reshape(-1, sizes[t - 1]), scale)
        tables.append(cond.reshape(sizes[:t]))
        scale = 1.0  # upper levels already hold log π̃_{α,t}
    return tuple(reversed(tables))


#: Rows whose globally shifted sum falls below this are recomputed with their own maximum (see below).
_ROW_UNDERFLOW = 1e-100


def _normalize_rows(log_rows: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``exp(scale·x) / Σ exp(scale·x)`` and ``log Σ exp(scale·x)`` for a ``(n, V)`` array.

    Fast path: shift every row by the *global* maximum ``g`` (one cheap full
    reduction instead of a slow per-row maximum over a short axis), exponentiate
    ``scale·(x - g)`` in place, and sum rows with a matrix-vector product.  A row
    whose shifted sum is below ``_ROW_UNDERFLOW`` (1e-100; including rows that
    underflow to 0 at huge ``scale``) is recomputed with its own maximum, so every
    kept row has its largest entry above 1e-101 and entries down to ~1e-207 of
    that keep full relative precision; all ``-inf`` rows give zeros and ``-inf``.
    """
    n, width = log_rows.shape
    finite_max = np.max(log_rows) if log_rows.size else -np.inf
    peak = float(finite_max) if np.isfinite(finite_max) else 0.0
    rows = np.subtract(log_rows, peak)
    if scale != 1.0:
        rows *= scale
    np.exp(rows, out=rows)
    sums = rows @ np.ones(width)
    bad = np.flatnonzero(~(sums >= _ROW_UNDERFLOW))
    with np.errstate(divide="ignore"):
        log_sums = scale * peak + np.log(sums)
        if bad.size:
            sub = log_rows[bad]
            sub_peak = sub.max(axis=1, keepdims=True)
            sub_peak = np.where(np.isfinite(sub_peak), sub_peak, 0.0)
            redo = np.exp(scale * (sub - sub_peak))
            redo_sums = redo.sum(axis=1)
            rows[bad] = redo
            sums[bad] = redo_sums
            log_sums[bad] = scale * sub_peak[:, 0] + np.log(redo_sums)
    rows /= np.where(sums > 0, sums, 1.0)[:, None]
    return rows, log_sums


def _check_prefix_length(model: AutoregressiveModel, length: int) -> int:
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or not 0 <= length < model.horizon:
        raise ValueError(f"prefix length must be an integer in [0, {model.horizon - 1}], got {length!r}")
    return int(length)


def sample_power(model: AutoregressiveModel, alpha: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` exact i.i.d. draws from ``π_α`` (ancestral sampling with the power conditionals), ``(n, T)``."""
    check_model(model)
    alpha = check_alpha(alpha)
    if isinstance(model, MarkovAR):  # no dense tables: O(n·T·V) with the suffix masses β
        return _sample_power_markov(model, alpha, n, rng)
    return _sample_from_levels(power_prefix_tables(model, alpha), n, rng)


def _sample_power_markov(model: MarkovAR, alpha: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """Ancestral sampling from ``π_α`` of a Markov chain: ``π_pow,α(s | y_<t) ∝ P[y_{t-1}, s]^α e^{β_{T-t}(s)}``."""
    n = check_count(n, "n", minimum=0)
    rng = check_rng(rng)
    check_allocation((n, max(model.horizon, model.vocab_sizes[0])), "the sampled sequences")
    beta = model.log_suffix_masses(alpha)  # (T, V): β_k
    horizon = model.horizon
    scaled_transition = alpha * model.log_transition
    out = np.empty((n, horizon), dtype=np.int64)
    for t in range(horizon):
        suffix = beta[horizon - t - 1]
        logits = (alpha * model.log_initial)[None, :] if t == 0 else scaled_transition[out[:, t - 1]]
        out[:, t] = inverse_cdf(log_normalize(logits + suffix[None, :]), rng.random(n))
    return out


__all__ = [
    "log_partition",
    "log_power_joint",
    "power_joint",
    "log_prefix_totals",
    "log_power_conditional",
    "power_conditional",
    "log_temp_conditional",
    "temp_conditional",
    "power_conditionals",
    "temp_conditionals",
    "all_power_conditionals",
    "sample_power",
]
