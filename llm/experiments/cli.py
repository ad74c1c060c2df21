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
``exact.TabularAR`` behind :class:`llm.ToyModel`, for tests).  ``--engine vllm`` (``teacher``,
``evaluate``, and ``sample``) runs every kind but the toy on vLLM: a LoRA adapter on the base's
engine (vLLM's LoRA API), RandW saved once and served by an engine of its own (on a GPU, give
both engines room: ``--engine-arg gpu_memory_utilization=0.45``) (:class:`llm.VLLMModel`, with ``--tensor-parallel-size``, ``--data-parallel-size`` and any
``--engine-arg KEY=VALUE``); ``--engine hf`` (the default) on transformers (:class:`llm.HFModel`).

Bad input is a one-line ``PROG: error: ...`` and exit status 2 (:func:`exact._validate.run_command`):
options are checked while parsing, a ``--model`` before anything is loaded, and a data file's
errors name the file, the line and the field.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
from pathlib import Path
from typing import Mapping

from exact._atomic_output import exclusive_lock, write_atomic
from exact._validate import (
    CommandLineParser,
    check_count,
    choice_list_argument,
    count_argument,
    input_file_argument,
    integer_argument,
    key_value_argument,
    output_dir_argument,
    output_file_argument,
    positive_argument,
    run_command,
    seed_argument,
    threads_argument,
)

from ..methods import METHODS, add_arguments, config_from_args

__all__ = [
    "ENGINES", "add_engine_arguments", "build_parser", "check_model_spec", "engine_from_args", "load_model", "main",
    "model_spec_argument", "register",
]

#: ``--engine`` choices: transformers (:class:`llm.HFModel`) or vLLM (:class:`llm.VLLMModel`).
ENGINES = ("hf", "vllm")

#: ``--engine-arg`` keys the ``hf`` engine takes (:class:`llm.HFModel`'s keywords); vLLM takes any.
_HF_ENGINE_ARGS = ("device", "dtype")

#: A Hugging Face hub name: ``name`` or ``org/name`` (letters, digits, ``-_.``).
_HUB_NAME = re.compile(r"[A-Za-z0-9][\w.-]{0,95}(/[A-Za-z0-9][\w.-]{0,95})?")


def check_model_spec(spec: str, engine: str | None = None) -> str:
    """The kind of a ``--model`` spec, checked without loading anything; ``ValueError`` if it cannot load.

    Kinds: ``"default"``, ``"toy"`` (``toy:V,T,SEED``), ``"randw"`` (``randw[:SEED]``), ``"adapter"``
    (a folder with ``adapter_config.json``), ``"path"`` (a folder with ``config.json``, or a ``.gguf``
    file starting with the GGUF magic bytes) or ``"hub"`` (a hub name, loaded from the offline cache).
    With an ``engine``, a kind it cannot run (a toy model needs ``hf``) is refused too.
    """
    if spec in ("default", "base"):
        return "default"
    if not spec.strip():
        raise ValueError("--model '': an empty model name")
    if spec.startswith("toy:"):
        kind = "toy"
        _toy_sizes(spec)
    elif spec == "randw" or spec.startswith("randw:"):
        kind = "randw"
        _randw_seed(spec)
    else:
        kind = _path_kind(spec)
    if engine is not None and engine != "hf" and kind == "toy":
        raise ValueError(f"--model {spec}: a toy model runs without an engine; use --engine hf")
    return kind


def _toy_sizes(spec: str) -> tuple[int, int, int]:
    parts = spec[4:].split(",")
    try:
        if len(parts) != 3:
            raise ValueError
        vocab, horizon, seed = (int(part) for part in parts)
        check_count(vocab, "V"), check_count(horizon, "T"), check_count(seed, "SEED", 0)
    except ValueError:
        raise ValueError(f"--model {spec}: expected toy:V,T,SEED with integers V, T >= 1 and SEED >= 0") from None
    return vocab, horizon, seed


def _randw_seed(spec: str) -> int:
    try:
        return check_count(int(spec.partition(":")[2] or 0), "SEED", 0)
    except ValueError:
        raise ValueError(f"--model {spec}: expected randw or randw:SEED with an integer SEED >= 0") from None


def _path_kind(spec: str) -> str:
    path = Path(spec).expanduser()
    if path.is_dir():
        if (path / "adapter_config.json").is_file():
            return "adapter"
        if not (path / "config.json").is_file():
            raise ValueError(f"--model {spec}: the directory has no config.json (not a Hugging Face model directory)")
        return "path"
    if path.exists():
        if not (path.is_file() and path.suffix == ".gguf"):
            raise ValueError(f"--model {spec}: a file that is not a .gguf file; expected a model directory, .gguf file or hub name")
        with open(path, "rb") as stream:
            if stream.read(4) != b"GGUF":
                raise ValueError(f"--model {spec}: not a GGUF file (it does not start with the GGUF magic bytes)")
        return "path"
    if spec.startswith(("/", ".", "~")) or spec.endswith(".gguf") or spec.count("/") > 1 or os.sep != "/" and os.sep in spec:
        raise ValueError(f"--model {spec}: no such file or directory")
    if not _HUB_NAME.fullmatch(spec):
        raise ValueError(
            f"--model {spec!r}: not default, randw[:SEED], toy:V,T,SEED, an existing model directory or .gguf file, "
            "or a hub name (org/name)"
        )
    return "hub"


def model_spec_argument(text: str) -> str:
    """``--model`` type: the spec, checked (:func:`check_model_spec`) while parsing."""
    try:
        check_model_spec(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error).removeprefix("--model ")) from None
    return text


def load_model(spec: str | None, base=None, engine: str = "hf", engine_args: Mapping | None = None):
    """A :class:`llm.LanguageModel` from a ``--model`` spec (see the module docstring); ``base`` is reused if given.

    ``engine``/``engine_args``: :func:`engine_from_args`.  A model that cannot be loaded (missing files,
    not in the offline cache, vLLM not installed) is a ``ValueError`` that says why.
    """
    import llm

    spec = spec or "default"
    kind = check_model_spec(spec, engine)
    if kind == "toy":
        import exact

        vocab, horizon, seed = _toy_sizes(spec)
        return llm.ToyModel(exact.TabularAR.random(vocab, horizon, seed))
    if kind == "default":
        return base if base is not None else _load_engine(None, engine, engine_args)
    if kind == "randw":
        from .evaluate import random_init_copy

        return random_init_copy(base if base is not None else _load_engine(None, engine, engine_args), _randw_seed(spec))
    if kind == "adapter":
        from .distill import load_student

        if base is None and engine == "vllm":  # start the base with LoRA rather than restart it
            from ..vllm import lora_engine_args

            engine_args = lora_engine_args([spec], engine_args)
        return load_student(spec, base if base is not None else _load_engine(None, engine, engine_args))
    return _load_engine(spec, engine, engine_args)


def _load_engine(model: str | None, engine: str, engine_args: Mapping | None):
    """``llm.HFModel(model, **engine_args)`` or ``llm.VLLMModel(model, **engine_args)``; load failures as ``ValueError``."""
    import llm

    try:
        if engine == "vllm":
            return llm.VLLMModel(model, **dict(engine_args or {}))
        return llm.HFModel(model, **dict(engine_args or {}))
    except ImportError as error:  # vLLM not installed: the message is llm.vllm.INSTALL_HINT
        raise ValueError(str(error)) from error
    except (OSError, ValueError) as error:  # transformers: no such model, not in the offline cache, bad files
        raise ValueError(f"cannot load model {model or 'default'!r}: {error}") from error


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """``--engine {hf,vllm}``, ``--tensor-parallel-size``, ``--data-parallel-size``, ``--engine-arg KEY=VALUE``."""
    group = parser.add_argument_group("engine")
    group.add_argument("--engine", choices=ENGINES, default="hf",
                       help="hf: transformers (llm.HFModel, default); vllm: the vLLM engine (llm.VLLMModel, installed apart)")
    group.add_argument("--tensor-parallel-size", type=count_argument, default=None, help="vllm: GPUs per model replica")
    group.add_argument("--data-parallel-size", type=count_argument, default=None, help="vllm: model replicas")
    group.add_argument("--engine-arg", type=key_value_argument, action="append", default=[], metavar="KEY=VALUE",
                       help="repeatable: another engine keyword (vllm: any vllm.LLM argument, e.g. max_model_len=2048; "
                            "hf: device, dtype)")


def engine_from_args(args: argparse.Namespace) -> tuple[str, dict]:
    """``(engine, engine_args)`` of :func:`add_engine_arguments`'s options; ``ValueError`` for an impossible combination."""
    engine_args: dict = {}
    for key, value in args.engine_arg:
        if key in engine_args:
            raise ValueError(f"--engine-arg {key} given twice")
        engine_args[key] = value
    for key in ("tensor_parallel_size", "data_parallel_size"):
        flag, value = "--" + key.replace("_", "-"), getattr(args, key)
        if value is None:
            continue
        if args.engine != "vllm":
            raise ValueError(f"{flag} needs --engine vllm (the hf engine runs on one device)")
        if key in engine_args:
            raise ValueError(f"{flag} and --engine-arg {key}=... both given")
        engine_args[key] = value
    if args.engine == "hf":
        unknown = sorted(set(engine_args) - set(_HF_ENGINE_ARGS))
        if unknown:
            raise ValueError(f"--engine hf takes --engine-arg {' and '.join(_HF_ENGINE_ARGS)} only, got {', '.join(unknown)} "
                             "(vllm.LLM arguments need --engine vllm)")
        engine_args = _hf_engine_args(engine_args)
    return args.engine, engine_args


def _hf_engine_args(engine_args: dict) -> dict:
    """``device`` (a torch device that exists here) and ``dtype`` (a floating torch dtype name) for :class:`llm.HFModel`."""
    import torch

    out = dict(engine_args)
    if "dtype" in out:
        dtype = getattr(torch, str(out["dtype"]).removeprefix("torch."), None)
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise ValueError(f"--engine-arg dtype must name a floating torch dtype (float32, bfloat16, ...), got {out['dtype']!r}")
        out["dtype"] = dtype
    if "device" in out:
        try:
            device = torch.device(str(out["device"]))
        except RuntimeError as error:
            raise ValueError(f"--engine-arg device: {error}") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"--engine-arg device={out['device']}: no CUDA device is available here")
        out["device"] = str(device)
    return out


def _common_arguments(parser: argparse.ArgumentParser) -> None:
    from .tasks import TASK_NAMES

    parser.add_argument("--task", default="arithmetic", choices=TASK_NAMES, help="benchmarks need the hub or --data-file")
    parser.add_argument("--data-file", type=input_file_argument(), default=None,
                        help="math500/gsm8k/mbpp/gpqa: local JSON, JSONL or Parquet file")
    parser.add_argument("--digits", type=integer_argument(1, 1000, "digits"), default=None,
                        help="arithmetic: digits per operand (difficulty)")
    parser.add_argument("--seed", type=seed_argument, default=0)
    parser.add_argument("--no-chat", action="store_true", help="do not wrap prompts in the chat template")
    parser.add_argument("--threads", type=threads_argument, default=None, help="torch CPU threads")


def register(subparsers) -> None:
    """Add the ``teacher``, ``distill`` and ``evaluate`` subcommands to an argparse ``subparsers`` object."""
    teacher = subparsers.add_parser("teacher", help="Algorithm 1 lines 3-8: resumable teacher data (JSONL)")
    add_arguments(teacher)
    _common_arguments(teacher)
    teacher.add_argument("--n", type=count_argument, required=True, help="number of prompts (one completion each)")
    teacher.add_argument("--out", type=output_file_argument, required=True, help="JSONL file (appended to; resumable)")
    teacher.add_argument("--model", type=model_spec_argument, default="default")
    add_engine_arguments(teacher)
    teacher.add_argument("--quiet", action="store_true")
    teacher.set_defaults(handler=run_teacher, command_parser=teacher)

    distill = subparsers.add_parser("distill", help="Algorithm 1 lines 9-11: LoRA SFT of a student on teacher data")
    distill.add_argument("--data", type=input_file_argument(), required=True, help="teacher JSONL file")
    distill.add_argument("--out", type=output_dir_argument, required=True, help="folder for the adapter and training_curve.json")
    distill.add_argument("--model", type=model_spec_argument, default="default", help="base model (default: SmolLM2-135M-Instruct)")
    distill.add_argument("--epochs", type=positive_argument("epochs"), default=3.0)
    distill.add_argument("--learning-rate", type=positive_argument("learning rate"), default=1e-4)
    distill.add_argument("--batch-size", type=count_argument, default=1)
    distill.add_argument("--grad-accum", type=count_argument, default=8)
    distill.add_argument("--max-length", type=count_argument, default=1024)
    distill.add_argument("--max-steps", type=integer_argument(-1, name="max steps"), default=-1,
                         help="optimiser steps; -1: --epochs decides")
    distill.add_argument("--seed", type=seed_argument, default=0)
    distill.add_argument("--threads", type=threads_argument, default=None)
    distill.set_defaults(handler=run_distill, command_parser=distill)

    evaluate = subparsers.add_parser("evaluate", help="Table 1: r* and r_self per model x sampler, and self-reward BoN")
    add_arguments(evaluate, with_method=False)
    _common_arguments(evaluate)
    evaluate.add_argument("--model", type=model_spec_argument, action="append", default=None,
                          help="repeatable: default, randw, adapter dir, path")
    evaluate.add_argument("--methods", type=choice_list_argument(METHODS), default=["standard", "temperature", "power-mh"],
                          help="comma-separated, any of --method's")
    evaluate.add_argument("--n", type=count_argument, default=16, help="evaluation prompts")
    evaluate.add_argument("--seeds", type=count_argument, default=4, help="seeds (one completion per prompt per seed)")
    evaluate.add_argument("--problem-seed", type=seed_argument, default=1, help="seed of the evaluation prompts (teacher uses 0)")
    evaluate.add_argument("--out", type=output_file_argument, default=None, help="CSV file for the rows")
    add_engine_arguments(evaluate)
    evaluate.set_defaults(handler=run_evaluate, command_parser=evaluate)
    _register_scale(subparsers, teacher, evaluate)


def _register_scale(subparsers, teacher, evaluate) -> None:
    """Runs at scale (:mod:`llm.experiments.shards`): ``--shard``, evaluate's ``--records`` and ``--quiet``, ``merge``."""
    from .shards import shard_argument

    for parser in (teacher, evaluate):
        parser.add_argument("--shard", type=shard_argument, default=None, metavar="I/K",
                            help="only problems j with j mod K == I (0-based); the K shards make up the whole set")
    evaluate.add_argument("--records", type=output_file_argument, default=None,
                          help="JSONL file, one record per model/method/seed/problem (appended to; resumable; for merge)")
    evaluate.add_argument("--quiet", action="store_true", help="no progress lines")
    merge = subparsers.add_parser("merge", help="the evaluate table of a run from its shards' --records files")
    merge.add_argument("records", type=input_file_argument(), nargs="+", help="the --records files of the shards")
    merge.add_argument("--out", type=output_file_argument, default=None, help="markdown file for the table (written atomically)")
    merge.add_argument("--csv", type=output_file_argument, default=None, help="CSV file for the rows")
    merge.set_defaults(handler=run_merge, command_parser=merge)


def _setup(args) -> None:
    if getattr(args, "threads", None):
        import torch

        torch.set_num_threads(args.threads)


def _task(args):
    from .tasks import get_task

    options = {"digits": args.digits} if args.task == "arithmetic" and args.digits else {}
    options.update({"data_file": args.data_file} if args.data_file else {})
    return get_task(args.task, **options)


def _ready(task):
    """``task``, refused now rather than after the first completion if it cannot score here
    (HumanEval without its sandbox: :func:`llm.experiments.sandbox.require_sandbox`, whose message says how to install it)."""
    if getattr(task, "name", None) == "humaneval":
        from .sandbox import require_sandbox

        try:
            require_sandbox()
        except RuntimeError as error:
            raise ValueError(str(error)) from error
    return task


def run_teacher(args) -> int:
    from .teacher import generate_teacher

    _setup(args)
    config, task = config_from_args(args, args.method), _ready(_task(args))  # bad settings fail before a model loads
    problems = [p for _, p in args.shard.select(task.problems(args.n, args.seed))] if args.shard else None
    engine, engine_args = engine_from_args(args)
    lm = load_model(args.model, engine=engine, engine_args=engine_args)
    summary = generate_teacher(
        lm, task, args.out, args.n, config, args.seed,
        model_name=args.model if args.model.startswith("toy:") else None, chat=not args.no_chat,
        problems=problems, progress=not args.quiet, announce=True,
    )
    print(json.dumps({"written": summary.written, "skipped": summary.skipped, "out": str(summary.path)}))
    return 0


def run_distill(args) -> int:
    from .distill import DistillConfig, distill, read_training_records

    _setup(args)
    config = DistillConfig(
        epochs=args.epochs, learning_rate=args.learning_rate, batch_size=args.batch_size,
        grad_accum=args.grad_accum, max_length=args.max_length, max_steps=args.max_steps, seed=args.seed,
    )
    if check_model_spec(args.model, "hf") == "toy":
        raise ValueError(f"--model {args.model}: distill trains a transformers network; a toy model has none")
    read_training_records(args.data)  # a malformed file fails (file:line: field) before the model loads
    base = load_model(args.model)
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
    from .evaluate import evaluate_models, rows_csv

    specs = args.model or ["default"]
    if len(set(specs)) < len(specs):
        raise ValueError(f"--model given twice with the same value: {', '.join(sorted({m for m in specs if specs.count(m) > 1}))}")
    configs = [config_from_args(args, m) for m in args.methods]  # bad settings fail before a model loads
    task = _ready(_task(args))
    problems = task.problems(args.n, args.problem_seed)
    engine, engine_args = engine_from_args(args)
    kinds = [check_model_spec(spec, engine) for spec in specs]
    # the base is loaded once, shared by base, RandW and students (on vLLM: started with LoRA if students come)
    adapters = [spec for spec, kind in zip(specs, kinds) if kind == "adapter"]
    base_args = engine_args
    if engine == "vllm" and adapters:
        from ..vllm import lora_engine_args

        base_args = lora_engine_args(adapters, engine_args)
    base = load_model("default", engine=engine, engine_args=base_args) if {"default", "randw", "adapter"} & set(kinds) else None
    models = {spec: load_model(spec, base, engine, engine_args) for spec in specs}
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
    parser = CommandLineParser(prog="python -m llm.experiments", description=__doc__.splitlines()[0])
    register(parser.add_subparsers(dest="command", required=True))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; a user error exits with one line and status 2 (:func:`exact._validate.run_command`)."""
    return run_command(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
