"""The registry of checks: one :class:`Check` per identity, run by :func:`run_check`.

A check is a function of no arguments that returns a one-line detail string
(what it verified, e.g. "3 tokens × 3 suffixes, 3 pairs") and raises
:class:`CheckFailed` (an ``AssertionError``) when the identity does not hold.
Any other exception also counts as a failure: a check that cannot be carried
out has not passed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, NamedTuple


class CheckFailed(AssertionError):
    """Raised by a check whose identity does not hold (the message says where)."""


@dataclass(frozen=True)
class Check:
    """One verified statement of the papers."""

    name: str
    """Short identifier used by ``--only`` (e.g. ``prop1_eq7``)."""
    statement: str
    """The identity in words (printed next to PASS/FAIL)."""
    source: str
    """Where the statement is in the papers (e.g. ``Prop. 1, Eq. (7)``)."""
    function: Callable[[], str]
    """Runs the check; returns a detail line or raises :class:`CheckFailed`."""


class CheckResult(NamedTuple):
    """Outcome of running one :class:`Check`."""

    check: Check
    passed: bool
    seconds: float
    """Wall-clock time of the check."""
    detail: str
    """The check's detail line when it passed, the failure message otherwise."""


#: Every registered check, in registration (= presentation) order, keyed by name.
REGISTRY: dict[str, Check] = {}


def register(name: str, statement: str, source: str) -> Callable[[Callable[[], str]], Callable[[], str]]:
    """Decorator: register ``function`` as the check ``name`` (names are unique)."""

    def decorate(function: Callable[[], str]) -> Callable[[], str]:
        if name in REGISTRY:
            raise ValueError(f"a check named {name!r} is already registered")
        REGISTRY[name] = Check(name=name, statement=statement, source=source, function=function)
        return function

    return decorate


def require(condition: bool, message: str) -> None:
    """Raise :class:`CheckFailed` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailed(message)


def run_check(check: Check) -> CheckResult:
    """Run one check, timing it; any exception is a FAIL carrying its message."""
    start = time.perf_counter()
    try:
        detail = check.function() or ""
        passed = True
    except Exception as error:  # noqa: BLE001 - a check that crashes has not passed
        detail = f"{type(error).__name__}: {error}"
        passed = False
    return CheckResult(check=check, passed=passed, seconds=time.perf_counter() - start, detail=detail)
