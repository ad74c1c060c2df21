"""Table 1: true reward r* and self-reward r_self of RandW / Base / Power-distilled under each sampler.

Algorithm 1 end to end, at a chosen ``scale`` (see :mod:`figures._llm`):
teacher data by power-MH (α = 4) on training prompts (seed 0), LoRA SFT of a
student, then evaluation on held-out prompts (seed 1) of RandW × {Standard,
Power}, Base × {Standard, Temperature τ = 1/α, Power} and Power-distilled ×
{Standard, Temperature}, each over ``seeds`` seeds, with self-reward Best-of-N
across seeds.  A table-only artefact: ``plot`` returns ``None``; the markdown
table is printed on stderr and saved with the CSV.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

FIGURE_ID = "table1"
CAPTION = "True reward r* (accuracy) and self-reward r_self per model and sampler, with self-reward Best-of-N across seeds (Table 1)."


def compute(seed: int = 0, scale: str = "tiny", workdir: str | None = None, model: str | None = None) -> dict:
    """Run teacher → distill → evaluate; ``workdir`` keeps the teacher JSONL and the adapter (resumable teacher)."""
    from llm.experiments.distill import DistillConfig, distill, load_student
    from llm.experiments.evaluate import evaluate_models, markdown_table, random_init_copy
    from llm.experiments.tasks import ArithmeticTask
    from llm.experiments.teacher import generate_teacher
    from llm.methods import SamplerConfig

    from . import _llm

    s = _llm.settings(scale)
    start = time.perf_counter()
    base = _llm.base_model(model)
    task = ArithmeticTask(digits=s["digits"])
    power = SamplerConfig("power-mh", _llm.ALPHA, s["max_new_tokens"], s["block_size"], s["n_mcmc"])
    standard = SamplerConfig("standard", _llm.ALPHA, s["max_new_tokens"])
    temperature = SamplerConfig("temperature", _llm.ALPHA, s["max_new_tokens"])
    randw_power = SamplerConfig("power-mh", _llm.ALPHA, s["randw_max_new_tokens"], s["block_size"], s["randw_n_mcmc"])
    randw_standard = SamplerConfig("standard", _llm.ALPHA, s["randw_max_new_tokens"])
    scratch = None
    if workdir is None:
        scratch = tempfile.TemporaryDirectory(prefix="table1-")
        workdir = scratch.name
    work = Path(workdir)
    try:
        teacher_file = work / f"teacher_{scale}_seed{seed}.jsonl"
        generate_teacher(base, task, teacher_file, s["n_train"], power, seed=seed)
        timings = {"teacher": time.perf_counter() - start}
        config = DistillConfig(
            epochs=s["epochs"], learning_rate=s["learning_rate"], grad_accum=s["grad_accum"], max_steps=s["distill_steps"], seed=seed
        )
        result = distill(teacher_file, work / f"student_{scale}_seed{seed}", base, config)
        timings["distill"] = time.perf_counter() - start - timings["teacher"]
        student = load_student(result.out, base)
        randw = random_init_copy(base, seed)
        models = {"RandW": randw, "Base": base, "Power-distilled": student}
        configs = {"RandW": [randw_standard, randw_power], "Base": [standard, temperature, power], "Power-distilled": [standard, temperature]}
        problems = task.problems(s["n_eval"], seed + 1)
        rows = evaluate_models(models, task, problems, configs, list(range(seed, seed + s["seeds"])), progress=True)
        teacher_accuracy = _teacher_accuracy(teacher_file)
    finally:
        if scratch is not None:
            scratch.cleanup()
    timings["total"] = time.perf_counter() - start
    table = markdown_table(rows)
    print(table, file=sys.stderr, flush=True)
    return {
        "scale": scale,
        "rows": [row.as_dict() for row in rows],
        "markdown": table,
        "training_curve": result.curve,
        "teacher_accuracy": teacher_accuracy,
        "seconds": timings,
        "settings": s,
    }


def _teacher_accuracy(path: Path) -> float:
    from llm.experiments.teacher import read_records

    records = read_records(path)
    return sum(r["true_reward"] for r in records) / len(records) if records else float("nan")


def plot(data: dict):
    return None  # table-only artefact


def tables(data: dict) -> dict:
    return {"rows": data["rows"], "training_curve": data["training_curve"]}


def summary(data: dict) -> dict:
    return {"rows": data["rows"], "markdown": data["markdown"], "seconds": data["seconds"], "scale": data["scale"],
            "teacher_accuracy": data["teacher_accuracy"]}


def headline(data: dict) -> str:
    by = {(r["model"], r["sampling"]): r for r in data["rows"]}
    base, student = by[("Base", "Standard")], by[("Power-distilled", "Standard")]
    return (
        f"table1 ({data['scale']}): Base/Standard r*={base['r_star_mean']:.3f} r_self={base['r_self_mean']:.3f}; "
        f"Power-distilled/Standard r*={student['r_star_mean']:.3f} r_self={student['r_self_mean']:.3f}; "
        f"{data['seconds']['total']:.0f} s"
    )
