"""Memory cap for dense enumeration.

Exact computation over a vocabulary of size V and horizon T enumerates V**T
sequences.  Before any such array is allocated we compare its size with a
configurable cap and fail with a message that says how many bytes it would
need, rather than letting the operating system kill the process.
"""

from __future__ import annotations

import math
import os
from contextlib import contextmanager
from typing import Iterator, Sequence

import numpy as np

#: Default cap per dense array: 4 GiB, overridable with ``EXACT_MAX_BYTES``.
_DEFAULT_MAX_BYTES = int(os.environ.get("EXACT_MAX_BYTES", 4 * 2**30))
_max_bytes = _DEFAULT_MAX_BYTES


def max_bytes() -> int:
    """The current cap, in bytes, on one dense array allocated by ``exact``."""
    return _max_bytes


def set_max_bytes(n_bytes: int) -> None:
    """Set the cap, in bytes, on one dense array allocated by ``exact``."""
    global _max_bytes
    if not isinstance(n_bytes, (int,)) or isinstance(n_bytes, bool) or n_bytes <= 0:
        raise ValueError(f"the memory cap must be a positive integer number of bytes, got {n_bytes!r}")
    _max_bytes = int(n_bytes)


@contextmanager
def memory_limit(n_bytes: int) -> Iterator[None]:
    """Temporarily set the cap: ``with exact.memory_limit(2**20): ...``."""
    previous = _max_bytes
    set_max_bytes(n_bytes)
    try:
        yield
    finally:
        set_max_bytes(previous)


def _count(n: int) -> str:
    """``1,234,567`` for counts that print reasonably, ``~1.23e+17000`` beyond 10**30."""
    if n < 10**30:
        return f"{n:,}"
    return _count_from_log10(math.log10(n))


def _count_from_log10(exponent: float) -> str:
    """``~1.23e+17000`` for a count given by its base-10 logarithm (never builds the integer)."""
    return f"~{10 ** (exponent % 1):.3g}e+{int(exponent)}"


def _human(n: float) -> str:
    if n >= 2**100:  # beyond EiB by far (and beyond what float division can take)
        return f"{_count(n)} B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if n < 1024 or unit == "EiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.3g} EiB"  # pragma: no cover


def _sizes(shape: Sequence[int]) -> list[int]:
    """The axis lengths of ``shape`` as ints ``>= 0`` (``ValueError`` otherwise); ``O(len(shape))``."""
    sizes = []
    for size in shape:
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 0:
            raise ValueError(f"an array shape needs integer axis lengths >= 0, got {size!r}")
        sizes.append(int(size))
    return sizes


def n_entries_at_most(shape: Sequence[int], limit: int) -> bool:
    """``Π shape ≤ limit``, in ``O(len(shape))`` with an early exit (never multiplies huge integers)."""
    sizes = _sizes(shape)
    if 0 in sizes:
        return True
    n_items = 1
    for size in sizes:
        n_items *= size
        if n_items > limit:
            return False
    return True


def check_allocation(shape: Sequence[int], what: str, itemsize: int = 8) -> None:
    """Raise a ``ValueError`` (before allocating) if an array of ``shape`` exceeds the cap.

    ``O(T)`` in the number of axes ``T``: the running product stops as soon as it passes
    the cap, so ``(10**6,) * 10**6`` is refused at once; the message then gives the size
    from ``Σ log10 V_t`` instead of the ``T``-digit integer.
    """
    sizes = _sizes(shape)
    if n_entries_at_most(sizes, _max_bytes // itemsize):
        return
    log10_items = math.fsum(math.log10(size) for size in sizes)
    if log10_items < 29:
        n_items = math.prod(sizes)  # < 10**29: a small integer, printed exactly
        items, n_bytes = _count(n_items), n_items * itemsize
        size_text = f"{_count(n_bytes)} bytes = {_human(n_bytes)}"
    else:
        items = _count_from_log10(log10_items)
        size_text = f"{_count_from_log10(log10_items + math.log10(itemsize))} bytes"
    raise ValueError(
        f"{what} needs {items} entries ({size_text}), "
        f"over the memory cap of {_max_bytes:,} bytes ({_human(_max_bytes)}); "
        "use a smaller vocabulary or horizon, a MarkovAR model (no enumeration), "
        "or raise the cap with exact.set_max_bytes(...) / EXACT_MAX_BYTES"
    )
