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
    exponent = math.log10(n)
    return f"~{10 ** (exponent % 1):.3g}e+{int(exponent)}"


def _human(n: float) -> str:
    if n >= 2**100:  # beyond EiB by far (and beyond what float division can take)
        return f"{_count(n)} B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if n < 1024 or unit == "EiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.3g} EiB"  # pragma: no cover


def check_allocation(shape: Sequence[int], what: str, itemsize: int = 8) -> None:
    """Raise ``MemoryError``-like ``ValueError`` if an array of ``shape`` exceeds the cap."""
    n_items = math.prod(int(s) for s in shape)
    n_bytes = n_items * itemsize
    if n_bytes > _max_bytes:
        raise ValueError(
            f"{what} needs {_count(n_items)} entries ({_count(n_bytes)} bytes = {_human(n_bytes)}), "
            f"over the memory cap of {_max_bytes:,} bytes ({_human(_max_bytes)}); "
            "use a smaller vocabulary or horizon, a MarkovAR model (no enumeration), "
            "or raise the cap with exact.set_max_bytes(...) / EXACT_MAX_BYTES"
        )
