"""``python -m proofs_check``: run the identity checks, one line each; exit 1 if any fails.

    python -m proofs_check                 # every check
    python -m proofs_check --list          # names, sources and statements, nothing run
    python -m proofs_check --only prop1_eq7 --only 'rational_*'

Each line reads ``NAME  STATEMENT  PASS|FAIL  SECONDS``; a failing check's
message follows on the next line.  Exit status: 0 all passed, 1 some failed,
2 bad arguments (e.g. ``--only`` matching no check).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Sequence

from . import CHECKS, run_check, select


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m proofs_check", description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="list the checks without running them")
    parser.add_argument(
        "--only", action="append", metavar="NAME",
        help="run only checks matching NAME (exact name or glob; repeatable, or comma-separated)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="also print each passing check's detail line")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    patterns = None if args.only is None else [p for item in args.only for p in item.split(",") if p]
    try:
        checks = select(patterns)
    except ValueError as error:
        parser.error(str(error))  # exits with status 2
    width = max(len(name) for name in CHECKS)
    if args.list:
        for check in checks:
            print(f"{check.name:<{width}}  [{check.source}]  {check.statement}")
        return 0
    start = time.perf_counter()
    failed = 0
    for check in checks:
        result = run_check(check)
        failed += not result.passed
        status = "PASS" if result.passed else "FAIL"
        print(f"{check.name:<{width}}  {check.statement}  {status}  {result.seconds:.2f}s", flush=True)
        if not result.passed or args.verbose:
            print(f"{'':<{width}}    -> {result.detail}", flush=True)
    total = time.perf_counter() - start
    print(f"{len(checks)} checks, {len(checks) - failed} passed, {failed} failed in {total:.1f}s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
