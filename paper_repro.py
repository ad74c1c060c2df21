#!/usr/bin/env python
"""Regenerate the paper's figures: ``python paper_repro.py --figure S6``.

Each figure module under ``figures/`` (found automatically; contract in
``figures/__init__.py``) is computed, drawn and written to ``--out`` as image(s),
CSV tables of the plotted data and a JSON summary; one line with the figure's key
number is printed on stdout (progress goes to stderr).  Every file is written
atomically: an existing file is only ever replaced by a complete new one.

    python paper_repro.py --list
    python paper_repro.py --figure S6            # also: s6, S.6, 6
    python paper_repro.py --all --out out --format png,pdf --seed 0
    python paper_repro.py --figure S10 --option n_replicates=500
    python paper_repro.py --table 1 --scale small  # language-model experiments: --scale tiny|small|paper

Exit status: 0 on success, 1 if a figure failed (the others are still built; its
traceback goes to stderr), 2 for a usage error: an unknown figure ID, a bad option
(one line ``paper_repro.py: error: ...``), or a figure refusing its settings with a
``ValueError``/``TypeError`` (one line naming the figure; the others are still built).
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from exact._validate import (  # noqa: E402
    USER_ERRORS,
    CommandLineParser,
    choice_list_argument,
    key_value_argument,
    one_line,
    output_dir_argument,
    seed_argument,
)
from figures import _registry as registry  # noqa: E402

FORMATS = ("png", "pdf", "svg")
PROG = "paper_repro.py"


def build_parser() -> argparse.ArgumentParser:
    parser = CommandLineParser(
        prog=PROG,
        description="Regenerate the paper's figures (images, CSV data, JSON summaries).",
        epilog="Figure IDs are case-insensitive; 'S.6' and '6' mean S6 where unambiguous.",
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--figure", "-f", action="append", metavar="ID", help="figure to build (repeatable), e.g. S6")
    which.add_argument("--table", "-t", action="append", metavar="N", help="table to build (repeatable): 1 means table1")
    which.add_argument("--all", action="store_true", help="build every figure")
    which.add_argument("--list", action="store_true", help="list figure IDs with their captions")
    parser.add_argument("--out", type=output_dir_argument, default=Path("out"), help="output folder (default: out/)")
    parser.add_argument("--seed", type=seed_argument, default=0, help="seed for Monte Carlo figures (default: 0)")
    parser.add_argument("--format", type=choice_list_argument(FORMATS, lambda item: item.strip().lower()), default=["png"],
                        help="image formats, comma separated (default: png)")
    parser.add_argument(
        "--scale", choices=("tiny", "small", "paper"), default=None,
        help="size of the language-model experiments (Table 1, Figures 2-3): tiny (CI), small (CPU), paper (GPU)",
    )
    parser.add_argument(
        "--option", type=key_value_argument, action="append", default=[], metavar="KEY=VALUE",
        help="extra keyword for compute(); passed to the figures that declare KEY",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    entries = registry.discover()
    if args.list:
        width = max((len(e.figure_id) for e in entries), default=0)
        for entry in entries:
            print(f"{entry.figure_id:<{width}}  {entry.caption}")
        return 0
    if args.all:
        selected = entries
    else:
        typed_ids = list(args.figure or []) + [f"table{t}" if t.strip().isdigit() else t for t in args.table or []]
        try:
            selected = list(dict.fromkeys(registry.resolve(typed, entries) for typed in typed_ids))
        except registry.UnknownFigure as error:
            print(f"{PROG}: error: {one_line(error)}", file=sys.stderr)
            return 2
    options = dict(args.option)
    if args.scale is not None:
        options["scale"] = args.scale  # reaches only the figures whose compute() declares `scale`
    failed, refused = [], []
    for entry in selected:
        start = time.perf_counter()
        try:
            module = entry.load()
            files, headline, _ = registry.render(module, args.seed, args.format, options)
            paths = registry.write_outputs(args.out, files, registry.normalize(entry.figure_id))
        except USER_ERRORS as error:  # the figure refused its settings (e.g. an --option value): one line, no traceback
            print(f"{PROG}: error: [{entry.figure_id}] {one_line(error)}", file=sys.stderr, flush=True)
            refused.append(entry.figure_id)
            continue
        except Exception:  # one broken figure must not stop the others; its old outputs stay as they were
            registry.progress(f"[{entry.figure_id}] FAILED:\n{traceback.format_exc()}")
            failed.append(entry.figure_id)
            continue
        registry.progress(
            f"[{entry.figure_id}] {time.perf_counter() - start:.1f} s -> " + ", ".join(str(p) for p in paths)
        )
        print(headline, flush=True)
    if failed:
        registry.progress(f"{PROG}: {len(failed)} figure(s) failed: {', '.join(failed)}")
        return 1
    return 2 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
