"""Kill rates of a mutmut campaign, with every survivor checked against its written explanation.

    python tools/mutation_report.py [RESULTS] [EXPLANATIONS]

RESULTS is ``mutmut results --all true`` output (default ``build/mutation/results.txt``, written by
``make mutants``); EXPLANATIONS is ``docs/mutation-survivors.tsv``: one line per surviving mutant,
``name<TAB>equivalent|gap<TAB>reason``.  Prints a Markdown table per module (a timeout counts as
killed, "no tests" as survived; the rates are over the mutants run, without and with the equivalent
ones), then the survivors that have no explanation and the explanations whose mutant no longer
survives.  Exits 1 when a survivor is unexplained, so "every survivor explained" is checked.
Standard library only: it runs in any of the project's environments.
"""
from __future__ import annotations

import collections
import sys
from pathlib import Path
from typing import NamedTuple

KILLED = {"killed", "timeout"}
SURVIVED = {"survived", "no tests"}
VERDICTS = {"equivalent", "gap"}


class Explanation(NamedTuple):
    verdict: str
    reason: str


def read_results(path: Path) -> dict[str, str]:
    """``{mutant name: status}`` from ``mutmut results --all true`` lines ``name: status``."""
    results = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and "__mutmut_" in name:
            results[name] = status.strip()
    return results


def read_explanations(path: Path) -> dict[str, Explanation]:
    """``{mutant name: Explanation}``; a malformed line or an unknown verdict is an error naming the line."""
    explanations = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 3 or fields[1] not in VERDICTS or not fields[2].strip():
            raise SystemExit(f"{path}:{number}: expected 'name<TAB>equivalent|gap<TAB>reason', got {line!r}")
        if fields[0] in explanations:
            raise SystemExit(f"{path}:{number}: {fields[0]} is explained twice")
        explanations[fields[0]] = Explanation(fields[1], fields[2].strip())
    return explanations


def module_of(name: str) -> str:
    """``exact.samplers.mh.x_f__mutmut_3`` -> ``exact.samplers.mh`` (methods are ``xǁClassǁf``)."""
    return name.split(".x_")[0].split(".xǁ")[0]


def percent(numerator: int, denominator: int) -> str:
    """Rounded down to 0.1 %, so that one surviving mutant in thousands never reads as 100.0 %."""
    return f"{1000 * numerator // denominator / 10:.1f} %" if denominator else "–"


def report(results: dict[str, str], explanations: dict[str, Explanation]) -> tuple[str, list[str], list[str]]:
    """The Markdown table, the unexplained survivors and the stale explanations."""
    rows = collections.defaultdict(collections.Counter)
    for name, status in results.items():
        row = rows[module_of(name)]
        row["mutants"] += 1
        if status in KILLED:
            row["killed"] += 1
        elif status in SURVIVED:
            verdict = explanations[name].verdict if name in explanations else "unexplained"
            row[verdict] += 1
        else:
            row["not run"] += 1
    header = ("| module | mutants | killed (timeouts incl.) | survived: equivalent | survived: gap | unexplained "
              "| not run | kill rate excl. equivalent | counting all |\n|" + "---|" * 9)
    lines, total = [header], collections.Counter()
    for module in sorted(rows) + ["**total**"]:
        row = rows[module] if module in rows else total
        if module in rows:
            total.update(row)
        run = row["mutants"] - row["not run"]  # rates over the mutants run so far
        lines.append(f"| {module if module.startswith('*') else '`' + module + '`'} | {row['mutants']:,} "
                     f"| {row['killed']:,} | {row['equivalent']:,} | {row['gap']:,} | {row['unexplained']:,} "
                     f"| {row['not run']:,} | {percent(row['killed'], run - row['equivalent'])} "
                     f"| {percent(row['killed'], run)} |")
    unexplained = sorted(n for n, s in results.items() if s in SURVIVED and n not in explanations)
    stale = sorted(n for n in explanations if results.get(n) not in SURVIVED)
    return "\n".join(lines), unexplained, stale


def main(argv: list[str]) -> int:
    results_path = Path(argv[1] if len(argv) > 1 else "build/mutation/results.txt")
    explanations_path = Path(argv[2] if len(argv) > 2 else "docs/mutation-survivors.tsv")
    table, unexplained, stale = report(read_results(results_path), read_explanations(explanations_path))
    print(table)
    for name in stale:
        print(f"stale explanation (not a survivor now): {name}")
    for name in unexplained:
        print(f"UNEXPLAINED survivor: {name}")
    print(f"{len(unexplained)} unexplained survivors, {len(stale)} stale explanations")
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
