"""Computer-algebra verification of the identities behind the power distribution.

Each identity of *Power Distribution Bridges Sampling, Self-Reward RL, and
Self-Distillation* (arXiv 2605.04542: Eqs. 5-21, Props. 1-5, Cor. 1, Appendix A)
and of *Scalable Power Sampling* (arXiv 2601.21590: Theorem 3.1, Lemmas 3.2-3.3)
is stated once, as a registered :class:`Check`, and verified by sympy:

* ``power_conditionals`` -- Prop. 1 (Eqs. 5-7, 21) and SPS Theorem 3.1;
* ``importance``         -- Prop. 2 (Eqs. 9-10): weight variance and its minimiser;
* ``self_reward``        -- Prop. 5, Cor. 1, Eqs. (11)-(15);
* ``sharpening``         -- Prop. 3's α → ∞ limit (Eq. 30) and Prop. 4 (Eqs. 18-19, 31);
* ``jackknife``          -- SPS Lemmas 3.2-3.3 (delta method in 1/M, plus exact enumeration);
* ``rational``           -- Props. 1, 2, 4 in exact rationals on a V=3, T=3 model,
  compared with the float64 results of the ``exact`` package.

Symbolic checks use symbols for every probability on a small but general
support (a general point of the simplex) and positive symbols ``α``, ``β``; see
``_algebra`` for the decision procedure.  Each check also carries a negative
control: a deliberately wrong variant of its identity must be rejected.

Run them with ``python -m proofs_check`` (``--list``, ``--only NAME``), or::

    from proofs_check import run_checks
    assert all(result.passed for result in run_checks())
"""

from __future__ import annotations

import fnmatch
from typing import Iterable

from ._registry import REGISTRY, Check, CheckFailed, CheckResult, run_check

# importing a module registers its checks, in this (paper) order
from . import power_conditionals  # noqa: E402,F401
from . import importance  # noqa: E402,F401
from . import self_reward  # noqa: E402,F401
from . import sharpening  # noqa: E402,F401
from . import jackknife  # noqa: E402,F401
from . import rational  # noqa: E402,F401

#: Every check, keyed by name, in presentation order.
CHECKS = REGISTRY


def select(patterns: Iterable[str] | None = None) -> list[Check]:
    """Checks whose names match any of ``patterns`` (exact names or shell globs such as ``prop1_*``).

    ``None`` selects every check; a pattern that matches nothing raises ``ValueError``.
    """
    if patterns is None:
        return list(CHECKS.values())
    chosen: dict[str, Check] = {}
    for pattern in patterns:
        matches = [name for name in CHECKS if fnmatch.fnmatchcase(name, pattern)]
        if not matches:
            raise ValueError(f"no check matches {pattern!r}; known checks: {', '.join(CHECKS)}")
        for name in matches:
            chosen[name] = CHECKS[name]
    return [check for name, check in CHECKS.items() if name in chosen]


def run_checks(patterns: Iterable[str] | None = None) -> list[CheckResult]:
    """Run the selected checks (all by default) and return their results in order."""
    return [run_check(check) for check in select(patterns)]


__all__ = ["CHECKS", "Check", "CheckFailed", "CheckResult", "run_check", "run_checks", "select"]
