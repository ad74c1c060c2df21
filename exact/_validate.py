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
* **Command lines** (:class:`CommandLineParser`, :func:`run_command` and the
  ``*_argument`` option types): the rules above applied to an option's text while
  parsing; every user error, then or later, is one line ``PROG: error: ...`` and
  exit status 2, never a traceback.

The memory cap on dense tables is :func:`exact._memory.check_allocation`.
"""

from __future__ import annotations

import argparse
import ast
import numbers
import os
from pathlib import Path
from typing import Callable, Iterable, Sequence

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


# -- Scalar probabilities ---------------------------------------------------------------------------


def check_probability(value: object, name: str, allow_zero: bool = False) -> float:
    """A probability as a ``float``: ``0 < p ≤ 1`` (``0 ≤ p ≤ 1`` when ``allow_zero``); NaN refused."""
    p = check_real(value, name)
    if not ((p >= 0 if allow_zero else p > 0) and p <= 1):
        raise ValueError(f"{name} must be a probability in {'[0, 1]' if allow_zero else '(0, 1]'}, got {p!r}")
    return p


# -- Command lines ----------------------------------------------------------------------------------
# Every command line (``python -m llm ...``, ``python -m bench ...``, ``paper_repro.py``) parses with
# :class:`CommandLineParser` and the ``type=`` converters below (the checks above, applied to an
# option's text) and runs its work through :func:`run_command`.  A user error, found by argparse or
# later by the work itself (a malformed data file, a model path that does not exist), ends the
# process with ONE line ``PROG: error: MESSAGE`` on stderr and exit status 2 (argparse's
# convention); any other exception is a bug and propagates with its traceback.

#: Exceptions that mean "the input was bad": one line and exit status 2 in :func:`run_command`
#: (``OverflowError``: a huge number where an integer was needed, e.g. ``int(1e400)``).
USER_ERRORS = (
    ValueError, TypeError, OverflowError, FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError,
)

#: Largest count a command line accepts (a C ``int``): a bigger value is a typo, not a request.
MAX_COUNT = 2**31 - 1

#: Largest seed a command line accepts (numpy and torch both take ``[0, 2**63)``).
MAX_SEED = 2**63 - 1

#: Longest error message printed (a library's multi-paragraph message is cut, never wrapped).
_MAX_MESSAGE = 1000


def one_line(message: object) -> str:
    """``message`` with every run of whitespace (newlines included) one space, cut to 1000 characters."""
    text = " ".join(str(message).split())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


class CommandLineParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose errors are one line, ``PROG: error: MESSAGE``, with exit status 2.

    (argparse prints its usage block first; here the message stands alone, ``--help`` shows the
    usage.)  Sub-command parsers made by ``add_subparsers`` are of this class too.
    """

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {one_line(message)}\n")


def run_command(parser: argparse.ArgumentParser, argv: Sequence[str] | None, handler: Callable | None = None) -> int:
    """Parse ``argv`` and run ``handler(args)`` (default ``args.handler``); its exit status (``None``: 0).

    A :data:`USER_ERRORS` exception from the handler becomes ``error`` of the sub-command's parser
    (``args.command_parser``, else ``parser``): one line, exit status 2.  Anything else propagates.
    """
    args = parser.parse_args(argv)
    run = handler if handler is not None else args.handler
    try:
        return int(run(args) or 0)
    except USER_ERRORS as error:
        reporter = getattr(args, "command_parser", None) or parser
        reporter.error(str(error) or type(error).__name__)
        raise  # pragma: no cover (error() exits)


def _argument_type(convert: Callable[[str], object], label: str) -> Callable[[str], object]:
    """An argparse ``type=``: ``convert(text)``, whose ``ValueError``/``TypeError`` becomes argparse's one-line error."""

    def argument(text: str):
        try:
            return convert(text)
        except (ValueError, TypeError) as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    argument.__name__ = label
    return argument


def _parse_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:  # also a literal of more than 4300 digits
        raise ValueError(f"expected an integer, got {text[:40]!r}") from None


def _parse_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"expected a number, got {text[:40]!r}") from None


def integer_argument(minimum: int = 1, maximum: int = MAX_COUNT, name: str = "value") -> Callable[[str], int]:
    """Option type: an integer in ``[minimum, maximum]`` (``"2.5"``, ``"1e3"`` and ``"nan"`` refused)."""

    def convert(text: str) -> int:
        value = check_count(_parse_int(text), name, minimum)
        if value > maximum:
            raise ValueError(f"{name} must be an integer <= {maximum}, got {value}")
        return value

    return _argument_type(convert, "integer")


def positive_argument(name: str = "value", maximum: float = float("inf")) -> Callable[[str], float]:
    """Option type: a finite real number ``> 0`` and ``≤ maximum`` (NaN and ``inf`` refused)."""

    def convert(text: str) -> float:
        value = check_positive(_parse_float(text), name)
        if value > maximum:
            raise ValueError(f"{name} must be <= {maximum:g}, got {value!r}")
        return value

    return _argument_type(convert, "number")


def probability_argument(name: str = "value", allow_zero: bool = False) -> Callable[[str], float]:
    """Option type: a probability in ``(0, 1]`` (``[0, 1]`` when ``allow_zero``)."""
    return _argument_type(lambda text: check_probability(_parse_float(text), name, allow_zero), "probability")


def input_file_argument(allow_empty: bool = False) -> Callable[[str], Path]:
    """Option type: an existing readable regular file (not a directory; not empty unless ``allow_empty``)."""

    def convert(text: str) -> Path:
        path = Path(text).expanduser()
        if not path.exists():
            raise ValueError(f"file {text} does not exist")
        if not path.is_file():
            raise ValueError(f"{text} is a directory, not a file" if path.is_dir() else f"{text} is not a regular file")
        if not os.access(path, os.R_OK):
            raise ValueError(f"file {text} is not readable")
        if not allow_empty and path.stat().st_size == 0:
            raise ValueError(f"file {text} is empty")
        return path

    return _argument_type(convert, "input file")


def _check_creatable(path: Path, text: str) -> None:
    """The nearest existing ancestor of ``path`` is a writable directory, so ``path`` can be made."""
    ancestor = path.absolute().parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ValueError(f"cannot create {text}: {ancestor} is not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ValueError(f"cannot create {text}: directory {ancestor} is not writable")


def _output_file(text: str) -> Path:
    path = Path(text).expanduser()
    if path.is_dir() or text.endswith(("/", os.sep)):
        raise ValueError(f"{text} is a directory; expected a file name")
    if path.exists():
        if not path.is_file():
            raise ValueError(f"{text} is not a regular file")
        if not os.access(path, os.W_OK):
            raise ValueError(f"file {text} is not writable")
    else:
        _check_creatable(path, text)
    return path


def _output_dir(text: str) -> Path:
    path = Path(text).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ValueError(f"{text} exists and is not a directory")
        if not os.access(path, os.W_OK | os.X_OK):
            raise ValueError(f"directory {text} is not writable")
    else:
        _check_creatable(path, text)
    return path


def _key_value(text: str) -> tuple[str, object]:
    key, sep, raw = text.partition("=")
    if not sep or not key.isidentifier():
        raise ValueError(f"expected KEY=VALUE with KEY a Python name, got {text!r}")
    try:
        value = ast.literal_eval(raw)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        value = raw
    return key, value


def choice_list_argument(choices: Iterable[str], normalize: Callable[[str], str] = str.strip) -> Callable[[str], list[str]]:
    """Option type: a non-empty comma-separated list of ``choices`` (items ``normalize``-d, repeats dropped)."""
    allowed = tuple(choices)

    def convert(text: str) -> list[str]:
        items = [normalize(item) for item in text.split(",") if item.strip()]
        bad = [item for item in items if item not in allowed]
        if not items or bad:
            raise ValueError(f"expected a comma-separated list of {', '.join(allowed)}; got {text!r}")
        return list(dict.fromkeys(items))

    return _argument_type(convert, "list")


#: Option type: a count, an integer in ``[1, MAX_COUNT]``.
count_argument = integer_argument(1)

#: Option type: a seed, an integer in ``[0, 2**63)``.
seed_argument = integer_argument(0, MAX_SEED, "seed")

#: Option type: CPU threads, an integer in ``[1, 1024]`` (more is a typo, and torch would try to start them).
threads_argument = integer_argument(1, 1024, "threads")

#: Option type: a power exponent, ``0 < α ≤ MAX_ALPHA`` (:func:`check_alpha`).
alpha_argument = _argument_type(lambda text: check_alpha(_parse_float(text)), "alpha")

#: Option type: a file to write (an existing writable file, or a new one whose folder can be made).
output_file_argument = _argument_type(_output_file, "output file")

#: Option type: a folder to write into (an existing writable directory, or a new one that can be made).
output_dir_argument = _argument_type(_output_dir, "output directory")

#: Option type: ``KEY=VALUE`` with ``KEY`` a Python name; ``VALUE`` a Python literal if it parses, else the text.
key_value_argument = _argument_type(_key_value, "KEY=VALUE")

__all__ += [
    "MAX_COUNT",
    "MAX_SEED",
    "USER_ERRORS",
    "CommandLineParser",
    "alpha_argument",
    "check_probability",
    "choice_list_argument",
    "count_argument",
    "input_file_argument",
    "integer_argument",
    "key_value_argument",
    "one_line",
    "output_dir_argument",
    "output_file_argument",
    "positive_argument",
    "probability_argument",
    "run_command",
    "seed_argument",
    "threads_argument",
]
