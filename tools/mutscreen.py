r"""Screen mutmut mutants in-process: the selected tests run once per mutant, through mutmut's trampoline.

    MUT_NAMES='exact\.power\.x_log_partition__mutmut_(3|7)$' PYTHONPATH=tools \
      HYPOTHESIS_PROFILE=mutants .venv-mutants/bin/python -m pytest -q -s -p no:cacheprovider -p mutscreen TESTS

run from the repository root after ``make mutants`` has generated ``build/mutation/mutants`` (the mutated copy
of the code; ``MUT_ROOT`` to use another).  ``MUT_NAMES`` is a regular expression over the full mutant names.
Prints ``BASELINE ok`` (every selected test passes unmutated), then ``KILLED <name> <first failing test>`` or
``SURVIVED <name>`` per mutant.  A mutant is switched on by ``MUTANT_UNDER_TEST``, exactly as in mutmut's own
runs, but nothing is forked and only the tests given are run, so checking that a new test kills the
survivors it was written for takes seconds instead of a campaign; the verdicts that count are mutmut's.
"""
import json
import os
import re
import sys
from pathlib import Path

ROOT = Path(os.environ.get("MUT_ROOT", "build/mutation/mutants")).resolve()
sys.path.insert(0, str(ROOT))
os.environ["MUTANT_UNDER_TEST"] = ""
import exact  # noqa: E402  (the mutated copy)

if not exact.__file__.startswith(str(ROOT)):
    raise SystemExit(f"mutscreen: imported {exact.__file__}, not the mutated copy under {ROOT}")
from _pytest.runner import runtestprotocol  # noqa: E402


def mutant_names(pattern: str) -> list[str]:
    """Every mutant of the mutated copy whose name matches ``pattern`` (from mutmut's ``.meta`` files)."""
    names = []
    for meta in sorted(ROOT.rglob("*.meta")):
        names += [name for name in json.loads(meta.read_text())["exit_code_by_key"] if re.search(pattern, name)]
    return names


def first_failure(items) -> str | None:
    for index, item in enumerate(items):
        following = items[index + 1] if index + 1 < len(items) else None
        failed = [report for report in runtestprotocol(item, log=False, nextitem=following) if report.failed]
        if failed:
            last = str(failed[0].longrepr).splitlines()[-1][:120] if failed[0].longrepr else ""
            return f"{item.name}: {last}"
    return None


def pytest_runtestloop(session):
    if "MUT_NAMES" not in os.environ:
        raise SystemExit("mutscreen: set MUT_NAMES to a regular expression over mutant names")
    names = mutant_names(os.environ["MUT_NAMES"])
    baseline = first_failure(session.items)
    print("BASELINE", f"FAILS: {baseline}" if baseline else "ok", flush=True)
    for name in names:
        os.environ["MUTANT_UNDER_TEST"] = name
        try:
            killer = first_failure(session.items)
        finally:
            os.environ["MUTANT_UNDER_TEST"] = ""
        print("KILLED  " if killer else "SURVIVED", name, killer or "", flush=True)
    return True
