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
    python paper_repro.py --table 1 --scale paper --engine vllm --model Qwen/Qwen2.5-Math-7B
    python paper_repro.py --table S3 --scale paper --engine vllm --model Qwen/Qwen2.5-7B  # also S4, S5, S6

The language-model options (``--engine``, ``--model``, ``--data-file``, ``--train-data-file``,
``--tensor-parallel-size``, ``--data-parallel-size``, ``--engine-arg``) reach only the figures
whose ``compute()`` declares them (``engine``, ``model``, ``data_file``, ``train_data_file``,
``engine_args``), like ``--scale``; a figure that does not take one says so on stderr.

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
    count_argument,
    input_file_argument,
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
    which.add_argument("--table", "-t", action="append", metavar="N",
                       help="table to build (repeatable): 1 means table1, S3 means tableS3 (S3-S6: the supplement's)")
    which.add_argument("--all", action="store_true", help="build every figure (but the benchmark tables S3-S6)")
    which.add_argument("--list", action="store_true", help="list figure IDs with their captions")
    parser.add_argument("--out", type=output_dir_argument, default=Path("out"), help="output folder (default: out/)")
    parser.add_argument("--seed", type=seed_argument, default=0, help="seed for Monte Carlo figures (default: 0)")
    parser.add_argument("--format", type=choice_list_argument(FORMATS, lambda item: item.strip().lower()), default=["png"],
                        help="image formats, comma separated (default: png)")
    parser.add_argument(
        "--scale", choices=("tiny", "small", "paper"), default=None,
        help="size of the language-model experiments (Tables 1, S3-S6, Figures 2-3): tiny (CI), small (CPU), paper (GPU)",
    )
    lm = parser.add_argument_group("language-model tables (Table 1, Tables S.3-S.6)")
    lm.add_argument("--engine", choices=("hf", "vllm"), default=None,
                    help="hf: transformers (default); vllm: the vLLM engine (installed apart, see the README)")
    lm.add_argument("--model", type=_model_argument, default=None, metavar="PATH_OR_HUB_ID",
                    help="base model: a model directory, .gguf file or hub name (default: SmolLM2-135M-Instruct)")
    lm.add_argument("--data-file", type=input_file_argument(), default=None,
                    help="the evaluation benchmark as a local JSON/JSONL/Parquet file (offline; default: the hub)")
    lm.add_argument("--train-data-file", type=input_file_argument(), default=None,
                    help="the distillation prompts as a local file (offline; default: the hub)")
    lm.add_argument("--tensor-parallel-size", type=count_argument, default=None, help="vllm: GPUs per model replica")
    lm.add_argument("--data-parallel-size", type=count_argument, default=None, help="vllm: model replicas")
    lm.add_argument("--engine-arg", type=key_value_argument, action="append", default=[], metavar="KEY=VALUE",
                    help="repeatable: another engine keyword (vllm: any vllm.LLM argument; hf: device, dtype)")
    parser.add_argument(
        "--option", type=key_value_argument, action="append", default=[], metavar="KEY=VALUE",
        help="extra keyword for compute(); passed to the figures that declare KEY",
    )
    return parser


def _model_argument(text: str) -> str:
    """``--model``: checked while parsing (:func:`llm.experiments.cli.model_spec_argument`; imported only then)."""
    from llm.experiments.cli import model_spec_argument

    return model_spec_argument(text)


#: The compute() keywords of the language-model options (``--data-file`` → ``data_file``, ...).
LM_KEYS = ("engine", "model", "data_file", "train_data_file")


def lm_options(args: argparse.Namespace) -> dict:
    """The compute() keywords of the language-model options that were given; ``engine_args`` from
    ``--tensor-parallel-size``, ``--data-parallel-size`` and ``--engine-arg`` (:func:`llm.experiments.cli.engine_from_args`,
    whose ``ValueError`` names an impossible combination, e.g. a parallel size without ``--engine vllm``)."""
    options = {key: getattr(args, key) for key in LM_KEYS if getattr(args, key) is not None}
    options.update({key: str(options[key]) for key in ("data_file", "train_data_file") if key in options})
    if args.tensor_parallel_size is not None or args.data_parallel_size is not None or args.engine_arg:
        from llm.experiments.cli import engine_from_args

        _, options["engine_args"] = engine_from_args(argparse.Namespace(
            engine=args.engine or "hf", engine_arg=args.engine_arg, tensor_parallel_size=args.tensor_parallel_size,
            data_parallel_size=args.data_parallel_size))
    return options


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    entries = registry.discover()
    if args.list:
        width = max((len(e.figure_id) for e in entries), default=0)
        for entry in entries:
            print(f"{entry.figure_id:<{width}}  {entry.caption}")
        return 0
    if args.all:
        selected = [entry for entry in entries if entry.in_all]
    else:
        typed_ids = list(args.figure or []) + [_table_id(t) for t in args.table or []]
        try:
            selected = list(dict.fromkeys(registry.resolve(typed, entries) for typed in typed_ids))
        except registry.UnknownFigure as error:
            print(f"{PROG}: error: {one_line(error)}", file=sys.stderr)
            return 2
    options = dict(args.option)
    if args.scale is not None:
        options["scale"] = args.scale  # reaches only the figures whose compute() declares `scale`
    try:
        language_model = lm_options(args)
    except ValueError as error:
        parser.error(one_line(error))
    options.update(language_model)
    failed, refused = [], []
    for entry in selected:
        start = time.perf_counter()
        try:
            module = entry.load()
            ignored = sorted(set(language_model) - set(registry.compute_options(module.compute, language_model)))
            if ignored:
                registry.progress(f"[{entry.figure_id}] takes no {', '.join(ignored)}: ignored")
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


def _table_id(typed: str) -> str:
    """``--table`` value → figure ID: ``1`` → ``table1``, ``S3`` → ``tableS3``; ``table1`` stays."""
    text = typed.strip()
    return text if registry.normalize(text).startswith("table") else f"table{text}"


if __name__ == "__main__":
    sys.exit(main())
