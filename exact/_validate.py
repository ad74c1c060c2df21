"""The one home of ``exact``'s input checks, called at the public entry points.

Every check returns the cleaned value (a Python ``float``/``int``, a float64
array, a tuple of sizes) or raises a ``ValueError`` that names the argument,
the rule and the value.  What the rules are:

* **Exponents** (:func:`check_alpha`): a real ``α`` with ``0 < α ≤ MAX_ALPHA``
  (``α = ∞`` only where a function documents its ``α → ∞`` limit).  ``MAX_ALPHA
  = 1e4`` is the range the README states ("α up to 10⁴ and probabilities down to
  1e-300 stay exact") and the tests check against log-space brute force
  (``tests/exact/test_power.py``, ``test_markov.py``, ``test_bad_input.py``).
  Beyond it the engine is not exact: ``α·log π`` overflows float64 for
  ``α ≳ 1e306`` (``π_α`` became NaN and ``sample_power`` drew the wrong
  sequence), and the Markov backward recursion loses normalisation already at
  ``α ≈ 1e5-1e10``.  For the large-α limit use ``α = ∞`` where it is offered
  (the min-entropy, sharpening, Power(∞) samplers): ``π_∞`` is uniform on the
  argmax set.
* **Other positive reals** (:func:`check_positive`): concentrations, step sizes,
  ``β``: finite and ``> 0``, no upper bound.
* **Tolerances** (:func:`check_nonnegative`): a finite real ``>= 0``.
* **Fractions** (:func:`check_unit_interval`): a real in ``(0, 1]`` (or ``[0, 1]``):
  nucleus masses, ESS thresholds.
* **Sizes and counts** (:func:`check_count`, :func:`check_vocab_sizes`): Python
  or numpy integers, never ``bool``, never a float (``2.7`` is refused, not
  truncated).
* **Arrays** (:func:`real_array`): real dtypes only (integer or floating; a
  complex, boolean, string or object-of-non-reals array is refused instead of
  being cast, which would drop an imaginary part or parse a string).
* **Probabilities** (:func:`check_probability_array`,
  :func:`check_probability_vector`, :func:`check_log_conditionals`): finite,
  ``≥ 0`` and summing to one within a stated tolerance; a conditional table is
  checked row by row and the message names the row and its sum.
* **Log weights** (:func:`check_log_weights`): ``-inf`` is a legal zero; NaN and
  ``+inf`` are refused (an infinite weight cannot be normalised).

The memory cap on dense tables is :func:`exact._memory.check_allocation`.
"""

from __future__ import annotations

import numbers
from typing import Sequence

import numpy as np

from ._memory import check_allocation

#: Largest finite power exponent ``α`` accepted by ``exact`` (the stated exact range, see the module doc).
MAX_ALPHA = 1e4

#: What :func:`check_model` requires of a model: the attributes the exact engine reads.
_MODEL_ATTRIBUTES = ("vocab_sizes", "horizon", "log_conditional", "log_prefix_marginals", "log_prefix_totals", "log_power_suffix_mass")

#: Array dtype kinds accepted as real numbers: signed/unsigned integers and floats.
_REAL_KINDS = "iuf"


def _is_real_scalar(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def check_real(value: object, name: str) -> float:
    """A real number (Python or numpy; ``bool`` refused), not NaN, as a ``float``."""
    if not _is_real_scalar(value):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    result = float(value)
    if np.isnan(result):
        raise ValueError(f"{name} must be a real number, got NaN")
    return result


def check_positive(value: object, name: str, allow_inf: bool = False) -> float:
    """A real number ``> 0``, finite unless ``allow_inf`` (then ``+inf`` is allowed too)."""
    if not _is_real_scalar(value):
        raise ValueError(f"{name} must be a real number > 0, got {value!r}")
    result = float(value)
    if np.isnan(result):
        raise ValueError(f"{name} must be a real number > 0, got NaN")
    if np.isinf(result) and not (allow_inf and result > 0):
        raise ValueError(f"{name} must be finite and > 0, got {result}")
    if result <= 0:
        raise ValueError(f"{name} must be > 0, got {result}")
    return result


def check_nonnegative(value: object, name: str) -> float:
    """A finite real number ``>= 0`` (``bool`` refused): a tolerance, a smoothing constant, a threshold."""
    if not _is_real_scalar(value) or not 0.0 <= float(value) < np.inf:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def check_unit_interval(value: object, name: str, include_zero: bool = False) -> float:
    """A real number in ``(0, 1]`` (``[0, 1]`` with ``include_zero``): a fraction, a nucleus mass, a threshold."""
    if not _is_real_scalar(value) or np.isnan(float(value)):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    result = float(value)
    low_ok = result >= 0.0 if include_zero else result > 0.0
    if not (low_ok and result <= 1.0):
        raise ValueError(f"{name} must lie in {'[0' if include_zero else '(0'}, 1], got {value!r}")
    return result


def check_alpha(alpha: object, name: str = "alpha", allow_inf: bool = False) -> float:
    """A power exponent: ``0 < α ≤ MAX_ALPHA`` (``1e4``), or ``α = ∞`` when ``allow_inf``.

    Outside this range the float64 engine is not exact (see the module doc), so it
    is refused rather than answered wrongly.
    """
    value = check_positive(alpha, name, allow_inf=allow_inf)
    if value > MAX_ALPHA and not np.isinf(value):
        limit = "or inf (the α → ∞ limit)" if allow_inf else "(use an α = ∞ / Power(∞) routine for the limit)"
        raise ValueError(
            f"{name} must lie in (0, {MAX_ALPHA:g}] {limit}: exact is exact only up to α = {MAX_ALPHA:g} "
            f"(float64 α·log π loses the answer beyond it); got {value!r}"
        )
    return value


def check_count(value: object, name: str, minimum: int = 1) -> int:
    """A Python/numpy integer ``>= minimum`` (bools and floats refused), as an ``int``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum:
        rule = "a non-negative integer" if minimum == 0 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {rule}, got {value!r}")
    return int(value)


def check_rng(rng: object) -> np.random.Generator:
    """A ``numpy.random.Generator`` (randomness is always passed in)."""
    if not isinstance(rng, np.random.Generator):
        raise ValueError("pass a numpy.random.Generator, e.g. np.random.default_rng(0)")
    return rng


def check_axis(axis: object, ndim: int) -> int:
    """An integer axis of an ``ndim``-dimensional array, as its non-negative index."""
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)) or not -ndim <= axis < ndim:
        raise ValueError(f"axis must be an integer in [-{ndim}, {ndim}) for an array with {ndim} dimensions, got {axis!r}")
    return int(axis) % ndim


def check_horizon(horizon: object) -> int:
    """A horizon ``T``: an integer ``>= 1`` whose per-step size tuple fits the memory cap."""
    horizon = check_count(horizon, "horizon")
    check_allocation((horizon,), f"the per-step vocabulary sizes of horizon {horizon}")
    return horizon


def check_model(model: object) -> None:
    """``model`` has what the exact engine reads (:class:`exact.models.AutoregressiveModel`'s tables).

    Duck-typed on :data:`_MODEL_ATTRIBUTES` (a ``Protocol`` ``isinstance`` costs ~50 µs a call).
    """
    missing = [name for name in _MODEL_ATTRIBUTES if not hasattr(model, name)]
    if missing:
        raise ValueError(
            f"model must be an exact.AutoregressiveModel (e.g. exact.TabularAR); {type(model).__name__} lacks {', '.join(missing)}"
        )


def check_vocab_sizes(vocab_size: object, horizon: object = None) -> tuple[int, ...]:
    """``(V_1, ..., V_T)`` from an integer ``V`` with an integer ``horizon``, or from per-step sizes.

    Every size is an integer ``>= 1`` (``2.7`` is refused, never truncated); ``horizon``,
    when given with per-step sizes, must equal their number.
    """
    if isinstance(vocab_size, (int, np.integer)) and not isinstance(vocab_size, (bool, np.bool_)):
        if horizon is None:
            raise ValueError("horizon must be an integer >= 1 when vocab_size is one integer, got None")
        size = check_count(vocab_size, "vocab_size")
        return (size,) * check_horizon(horizon)
    if isinstance(vocab_size, (str, bytes)) or not isinstance(vocab_size, (Sequence, np.ndarray)):
        raise ValueError(f"vocab_size must be an integer >= 1 or a sequence of them, got {vocab_size!r}")
    sizes = tuple(vocab_size) if not isinstance(vocab_size, np.ndarray) else tuple(vocab_size.reshape(-1).tolist())
    if not sizes:
        raise ValueError("vocabulary sizes must be integers >= 1, got an empty sequence")
    for step, size in enumerate(sizes):
        if isinstance(size, (bool, np.bool_)) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"vocabulary sizes must be integers >= 1, got {size!r} at step {step + 1}")
    if horizon is not None and (
        isinstance(horizon, (bool, np.bool_)) or not isinstance(horizon, (int, np.integer)) or horizon != len(sizes)
    ):
        raise ValueError(f"horizon {horizon!r} disagrees with {len(sizes)} per-step vocabulary sizes")
    return tuple(int(size) for size in sizes)


def real_array(values: object, name: str) -> np.ndarray:
    """``values`` as a float64 array; refuses complex, boolean, string and non-numeric input.

    A numpy cast would silently drop an imaginary part, read ``True`` as 1 or parse
    ``"0.5"``; here each is a ``ValueError``.  An object array is accepted when
    every entry is a real number.
    """
    if isinstance(values, np.ndarray) and values.dtype == np.float64:
        return values
    try:
        arr = np.asarray(values)
    except (ValueError, TypeError) as error:  # ragged nesting, unconvertible objects
        raise ValueError(f"{name} must be an array of real numbers: {error}") from None
    kind = arr.dtype.kind
    if kind == "O":
        if not all(_is_real_scalar(v) for v in arr.reshape(-1).tolist()):
            raise ValueError(f"{name} must be an array of real numbers, got entries of other types")
    elif kind not in _REAL_KINDS:
        raise ValueError(f"{name} must be an array of real numbers (integer or float dtype), got dtype {arr.dtype}")
    return arr.astype(np.float64, copy=False)


def check_probability_array(p: object, name: str = "p", tol: float = 1e-9) -> np.ndarray:
    """A non-empty float64 array (at least 1-D) of finite entries ``≥ 0`` summing to 1 within ``tol``."""
    arr = real_array(p, name)
    if arr.ndim < 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty probability array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} has NaN or infinite entries")
    if np.any(arr < 0):
        raise ValueError(f"{name} has negative entries (min {arr.min():.3g})")
    total = float(arr.sum())
    if not abs(total - 1.0) <= tol:
        raise ValueError(f"{name} must sum to 1 within {tol:g}, sums to {total!r}")
    return arr


def check_probability_vector(p: object, name: str = "p", tol: float = 1e-9) -> np.ndarray:
    """A 1-D float64 array of non-negative finite entries summing to 1 within ``tol``."""
    arr = real_array(p, name)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D probability vector, got shape {arr.shape}")
    return check_probability_array(arr, name, tol)


def check_log_weights(log_weights: object, name: str = "log weights") -> np.ndarray:
    """Real log weights as float64: ``-inf`` (weight 0) allowed, NaN and ``+inf`` refused."""
    arr = real_array(log_weights, name)
    if np.any(np.isnan(arr)) or np.any(arr == np.inf):
        raise ValueError(f"{name} must not be NaN or +inf (-inf is a zero weight)")
    return arr


def check_log_probability_vector(log_p: object, name: str, tol: float = 1e-9) -> np.ndarray:
    """A non-empty 1-D float64 array of log-probabilities: no NaN or ``+inf``, ``|Σ e^x - 1| ≤ tol``."""
    from ._logspace import logsumexp

    arr = check_log_weights(log_p, name)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of log-probabilities, got shape {arr.shape}")
    log_total = float(logsumexp(arr))
    if not abs(np.expm1(log_total)) <= tol:
        raise ValueError(f"exp({name}) must sum to 1 within {tol:g}, sums to {np.exp(log_total):.12g}")
    return arr


def check_log_conditionals(
    log_conditionals: object, tol: float, eos_token_id: int | None = None
) -> tuple[np.ndarray, ...]:
    """Per-step tables ``log π(y_t | y_<t)`` of shapes ``V_1..V_t``, each row a distribution.

    Entry ``t-1`` must have shape ``vocab_sizes[:t]`` of the last table; entries are real,
    never NaN or ``+inf``.  Every row under a prefix of positive probability must satisfy
    ``|Σ_v π(v | y_<t) - 1| ≤ tol`` (rows under impossible prefixes are never used).  With
    ``eos_token_id`` the rows after EOS are first made absorbing (``exact.eos.absorb_eos``).
    """
    from ._logspace import logsumexp
    from .eos import absorb_eos, check_eos_token_id

    if isinstance(log_conditionals, np.ndarray) or not isinstance(log_conditionals, Sequence):
        raise ValueError("log_conditionals must be a list of per-step tables log π(y_t | y_<t)")
    tables = [real_array(table, f"conditional table {t}") for t, table in enumerate(log_conditionals)]
    if not tables:
        raise ValueError("from_conditionals needs at least one conditional table")
    shape = tuple(tables[-1].shape)
    if len(shape) != len(tables) or 0 in shape:
        raise ValueError(f"the last conditional table must have one axis per step ({len(tables)}) and no empty axis, got shape {shape}")
    check_allocation(shape, "the joint of this model")
    eos_token_id = check_eos_token_id(eos_token_id, shape)
    out = []
    log_prefix = np.zeros(())
    for t, table in enumerate(tables):
        if table.shape != shape[: t + 1]:
            raise ValueError(f"conditional table {t} has shape {table.shape}, expected {shape[: t + 1]}")
        if np.any(np.isnan(table)) or np.any(table == np.inf):
            raise ValueError(f"conditional table {t} has NaN or +inf entries (log-probabilities: use -inf for zero)")
        if eos_token_id is not None:
            table = absorb_eos(table, eos_token_id)
        sums = logsumexp(table, axis=-1)
        bad = np.isfinite(log_prefix) & ~(np.abs(np.expm1(sums)) <= tol)
        if np.any(bad):
            row = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"conditional table {t}, row {row}: π(· | y_<{t + 1} = {row}) sums to {float(np.exp(sums[row])):.12g}, "
                f"not 1 within {tol:g}"
            )
        log_prefix = log_prefix[..., None] + table
        out.append(table)
    return tuple(out)


__all__ = [
    "MAX_ALPHA",
    "check_alpha",
    "check_axis",
    "check_count",
    "check_horizon",
    "check_log_conditionals",
    "check_log_probability_vector",
    "check_log_weights",
    "check_model",
    "check_nonnegative",
    "check_positive",
    "check_probability_array",
    "check_probability_vector",
    "check_real",
    "check_rng",
    "check_unit_interval",
    "check_vocab_sizes",
    "real_array",
]
