"""Command line for the experiments: ``teacher``, ``distill``, ``evaluate`` (Algorithm 1, Table 1).

    python -m llm teacher --method power-mh --alpha 4 --task arithmetic --n 500 --out teacher.jsonl
    python -m llm distill --data teacher.jsonl --out student/
    python -m llm evaluate --model base --model student/ --model randw --methods standard,temperature,power-mh
    python -m llm evaluate ... --shard 0/4 --records r0.jsonl   # one of 4 shards; resumable
    python -m llm merge --out table.md r0.jsonl r1.jsonl r2.jsonl r3.jsonl

(``llm/__main__.py`` hooks :func:`register` in next to ``sample``; ``python -m llm.experiments ...``
runs these three alone.)

``--model`` accepts ``default`` (SmolLM2-135M-Instruct), a model directory or
``.gguf`` file, a LoRA adapter directory (a folder with ``adapter_config.json``:
loaded on top of the default base), ``randw`` (a randomly initialised copy of
the default architecture; ``randw:SEED``) or ``toy:V,T,SEED`` (a random
``exact.TabularAR`` behind :class:`llm.ToyModel`, for tests).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

from exact._atomic_output import exclusive_lock, write_atomic

from ..methods import add_arguments, config_from_args

__all__ = ["build_parser", "load_model", "main", "register"]


def load_model(spec: str | None, base=None):
    """A :class:`llm.LanguageModel` from a ``--model`` spec (see the module docstring); ``base`` is reused if given."""
    import llm

    spec = spec or "default"
    if spec.startswith("toy:"):
        import exact

        vocab, horizon, seed = (int(v) for v in spec[4:].split(","))
        return llm.ToyModel(exact.TabularAR.random(vocab, horizon, seed))
    if spec in ("default", "base"):
        return base if base is not None else llm.HFModel()
    if spec.startswith("randw"):
        from .evaluate import random_init_copy

        seed = int(spec.split(":")[1]) if ":" in spec else 0
        return random_init_copy(base if base is not None else llm.HFModel(), seed)
    if (Path(spec) / "adapter_config.json").exists():
        from .distill import load_student

        return load_student(spec, base)
    return llm.HFModel(spec)


def _common_arguments(parser: argparse.ArgumentParser) -> None:
    from .tasks import TASK_NAMES

    parser.add_argument("--task", default="arithmetic", choices=TASK_NAMES, help="benchmarks need the hub or --data-file")
    parser.add_argument("--data-file", default=None, help="math500/gsm8k/mbpp/gpqa: local JSON, JSONL or Parquet file")
    parser.add_argument("--digits", type=int, default=None, help="arithmetic: digits per operand (difficulty)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-chat", action="store_true", help="do not wrap prompts in the chat template")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")


def register(subparsers) -> None:
    """Add the ``teacher``, ``distill`` and ``evaluate`` subcommands to an argparse ``subparsers`` object."""
    teacher = subparsers.add_parser("teacher", help="Algorithm 1 lines 3-8: resumable teacher data (JSONL)")
    add_arguments(teacher)
    _common_arguments(teacher)
    teacher.add_argument("--n", type=int, required=True, help="number of prompts (one completion each)")
    teacher.add_argument("--out", type=Path, required=True, help="JSONL file (appended to; resumable)")
    teacher.add_argument("--model", default="default")
    teacher.add_argument("--quiet", action="store_true")
    teacher.set_defaults(handler=run_teacher)

    distill = subparsers.add_parser("distill", help="Algorithm 1 lines 9-11: LoRA SFT of a student on teacher data")
    distill.add_argument("--data", type=Path, required=True)
    distill.add_argument("--out", type=Path, required=True, help="folder for the adapter and training_curve.json")
    distill.add_argument("--model", default="default", help="base model (default: SmolLM2-135M-Instruct)")
    distill.add_argument("--epochs", type=float, default=3.0)
    distill.add_argument("--learning-rate", type=float, default=1e-4)
    distill.add_argument("--batch-size", type=int, default=1)
    distill.add_argument("--grad-accum", type=int, default=8)
    distill.add_argument("--max-length", type=int, default=1024)
    distill.add_argument("--max-steps", type=int, default=-1)
    distill.add_argument("--seed", type=int, default=0)
    distill.add_argument("--threads", type=int, default=None)
    distill.set_defaults(handler=run_distill)

    evaluate = subparsers.add_parser("evaluate", help="Table 1: r* and r_self per model x sampler, and self-reward BoN")
    add_arguments(evaluate, with_method=False)
    _common_arguments(evaluate)
    evaluate.add_argument("--model", action="append", default=None, help="repeatable: default, randw, adapter dir, path")
    evaluate.add_argument("--methods", default="standard,temperature,power-mh", help="comma-separated, any of --method's")
    evaluate.add_argument("--n", type=int, default=16, help="evaluation prompts")
    evaluate.add_argument("--seeds", type=int, default=4, help="seeds (one completion per prompt per seed)")
    evaluate.add_argument("--problem-seed", type=int, default=1, help="seed of the evaluation prompts (teacher uses 0)")
    evaluate.add_argument("--out", type=Path, default=None, help="CSV file for the rows")
    evaluate.set_defaults(handler=run_evaluate)
    _register_scale(subparsers, teacher, evaluate)


def _register_scale(subparsers, teacher, evaluate) -> None:
    """Runs at scale (:mod:`llm.experiments.shards`): ``--shard``, evaluate's ``--records`` and ``--quiet``, ``merge``."""
    from .shards import shard_argument

    for parser in (teacher, evaluate):
        parser.add_argument("--shard", type=shard_argument, default=None, metavar="I/K",
                            help="only problems j with j mod K == I (0-based); the K shards make up the whole set")
    evaluate.add_argument("--records", type=Path, default=None,
                          help="JSONL file, one record per model/method/seed/problem (appended to; resumable; for merge)")
    evaluate.add_argument("--quiet", action="store_true", help="no progress lines")
    merge = subparsers.add_parser("merge", help="the evaluate table of a run from its shards' --records files")
    merge.add_argument("records", type=Path, nargs="+", help="the --records files of the shards")
    merge.add_argument("--out", type=Path, default=None, help="markdown file for the table (written atomically)")
    merge.add_argument("--csv", type=Path, default=None, help="CSV file for the rows")
    merge.set_defaults(handler=run_merge)


def _setup(args) -> None:
    if getattr(args, "threads", None):
        import torch

        torch.set_num_threads(args.threads)


def _task(args):
    from .tasks import get_task

    options = {"digits": args.digits} if args.task == "arithmetic" and args.digits else {}
    options.update({"data_file": args.data_file} if args.data_file else {})
    return get_task(args.task, **options)


def run_teacher(args) -> int:
    from .teacher import generate_teacher

    _setup(args)
    lm = load_model(args.model)
    task = _task(args)
    problems = [p for _, p in args.shard.select(task.problems(args.n, args.seed))] if args.shard else None
    summary = generate_teacher(
        lm, task, args.out, args.n, config_from_args(args, args.method), args.seed,
        model_name=args.model if args.model.startswith("toy:") else None, chat=not args.no_chat,
        problems=problems, progress=not args.quiet, announce=True,
    )
    print(json.dumps({"written": summary.written, "skipped": summary.skipped, "out": str(summary.path)}))
    return 0


def run_distill(args) -> int:
    from .distill import DistillConfig, distill

    _setup(args)
    base = load_model(args.model)
    config = DistillConfig(
        epochs=args.epochs, learning_rate=args.learning_rate, batch_size=args.batch_size,
        grad_accum=args.grad_accum, max_length=args.max_length, max_steps=args.max_steps, seed=args.seed,
    )
    result = distill(args.data, args.out, base, config)
    print(json.dumps({"out": str(args.out), "steps": len(result.curve), "final_loss": result.final_loss}))
    return 0


def run_evaluate(args) -> int:
    from .evaluate import markdown_table

    _setup(args)
    with exclusive_lock(args.out) if args.out else contextlib.nullcontext():  # a second writer fails now, not after hours
        rows = _evaluate_rows(args)
    print(markdown_table(rows))
    return 0


def _evaluate_rows(args) -> list:
    """Evaluate every ``--model`` x ``--methods``; the rows, also written to ``--out`` (atomically) if given."""
    import llm

    from .evaluate import evaluate_models, rows_csv

    specs = args.model or ["default"]
    needs_base = any(m in ("default", "base") or m.startswith("randw") or (Path(m) / "adapter_config.json").exists() for m in specs)
    base = llm.HFModel() if needs_base else None  # loaded once, shared by base, RandW and students
    models = {spec: load_model(spec, base) for spec in specs}
    task = _task(args)
    problems = task.problems(args.n, args.problem_seed)
    configs = [config_from_args(args, m) for m in args.methods.split(",")]
    rows = evaluate_models(models, task, problems, configs, list(range(args.seeds)), chat=not args.no_chat,
                           progress=not args.quiet, records=args.records, shard=args.shard, announce=True)
    if args.out:
        write_atomic(args.out, rows_csv(rows).encode("utf-8"))
    return rows


def run_merge(args) -> int:
    from .evaluate import markdown_table, rows_csv
    from .shards import merge_record_files

    rows = merge_record_files(args.records)
    table = markdown_table(rows)
    if args.out:
        write_atomic(args.out, (table + "\n").encode("utf-8"))
    if args.csv:
        write_atomic(args.csv, rows_csv(rows).encode("utf-8"))
    print(table)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m llm.experiments", description=__doc__.splitlines()[0])
    register(parser.add_subparsers(dest="command", required=True))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
