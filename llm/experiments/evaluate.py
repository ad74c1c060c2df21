"""Evaluation as in Table 1: model × sampling method → r* and r_self over seeds, and self-reward Best-of-N.

For each prompt ``x`` and each of ``S`` seeds one completion is drawn by any method
of :data:`llm.methods.METHODS` (the ``S`` completions of a prompt come from one
:func:`llm.methods.draw` call whose generator is seeded by
``(seed, prompt id, method)``; row ``s`` plays seed ``s``).  With
``r_self(x, y) = (1/|y|) Σ_t log π_eval(y_t | x, y_<t)`` under the *evaluated*
model (prompt masked, Sec. 6.1 / B.1) and ``r*`` the task's reward:

* "All completions": per seed, the mean over prompts of ``r*`` and of ``r_self``;
  the table shows their mean ± sd (``ddof = 1``) across seeds;
* "Self-reward Best-of-N": per prompt, the completion with the largest
  ``r_self`` among its ``S`` seeds; the mean over prompts of its ``r*`` and ``r_self``.

Models: the base, a distilled student (:func:`llm.experiments.distill.load_student`) and
RandW (:func:`random_init_copy`: the same architecture with random weights,
the negative control of Section 6).

At scale (:func:`evaluate_models` with ``records`` and ``shard``): one JSON record per
(model, method, seed, problem) is appended durably to a JSONL file as it is made, a killed run
resumes where it stopped, and :func:`rows_from_records` rebuilds the rows of the whole run from
the record files of its shards (:mod:`llm.experiments.shards`).  Record fields: ``id``
(:func:`record_id`), ``model``, ``method``, ``seed``, ``problem`` (id), ``index`` (position in
the unsharded problem list), ``completion``, ``r_star``, ``r_self`` (``null`` for an empty
completion), ``log_likelihood``, ``seconds`` (of the problem's draw) and ``run``
(:func:`run_identity`).
"""

from __future__ import annotations

import contextlib
import copy
import csv
import io
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch

from ..methods import METHODS, SamplerConfig, draw
from .statistics import MeanSD, best_of_n, is_binary, mean_sd_over_seeds, paired_comparison, pass_at_k_rewards
from exact._atomic_output import exclusive_lock

from .shards import Shard, estimate_line
from .tasks import Problem, Task
from .teacher import _check_ids, numbered_records, decode_completion, encode_prompt, record_generator

__all__ = [
    "EvalRow",
    "comparison_lines",
    "evaluate",
    "evaluate_models",
    "markdown_table",
    "random_init_copy",
    "random_network",
    "randw_dir",
    "record_id",
    "rows_csv",
    "rows_from_records",
    "run_identity",
    "SAMPLING_NAMES",
]

#: Table 1's names for the sampling methods (the registry's labels).
SAMPLING_NAMES = {name: method.label for name, method in METHODS.items()}


@dataclass
class EvalRow:
    """One Table 1 row; ``samples`` holds ``(prompt, seed)`` arrays ``r_star``, ``r_self``, ``log_likelihood`` (sum) and the completions (not in the CSV)."""

    model: str
    sampling: str
    r_star_mean: float
    r_star_sd: float
    r_self_mean: float
    r_self_sd: float
    bon_r_star: float
    bon_r_self: float
    n_prompts: int
    n_seeds: int
    seconds: float
    samples: dict = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict:
        out = asdict(self)
        out.pop("samples")
        return out


def random_init_copy(base, seed: int = 0):
    """RandW: the base's architecture and tokenizer with freshly initialised weights (``torch.manual_seed(seed)``).

    ``base`` an :class:`llm.HFModel`: the network lives in memory, on the base's device.  ``base`` an
    :class:`llm.VLLMModel`: the same network (same config and seed, so the same weights under the
    same transformers release) is saved once with the base's tokenizer into :func:`randw_dir` and
    served by an engine of its own (:meth:`llm.VLLMModel.sibling`; on a GPU give both engines a
    ``gpu_memory_utilization`` that fits, or close the base first).
    """
    if hasattr(base, "sibling"):  # vLLM: an engine loads weights from disk
        from transformers import AutoConfig, AutoTokenizer

        from ..vllm import save_hf_dir

        target = randw_dir(base, seed)
        if not (target / "config.json").exists():
            network = random_network(AutoConfig.from_pretrained(base.path), seed)
            save_hf_dir(target, network, AutoTokenizer.from_pretrained(base.path))
        model = base.sibling(target)
        model.name = f"randw:{seed}"
        return model
    from .distill import wrap_model

    network = random_network(base.model.config, seed)
    return wrap_model(network.to(base.device).eval(), base.tokenizer, f"randw:{seed}", template=base)


def random_network(config, seed: int):
    """``AutoModelForCausalLM.from_config`` (float32) drawn under ``torch.manual_seed(seed)``; the global RNG is restored.

    ``config`` is copied and its quantization marker (a GGUF-loaded model's) dropped."""
    from transformers import AutoModelForCausalLM

    config = copy.deepcopy(config)
    if getattr(config, "quantization_config", None) is not None:
        del config.quantization_config
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        return AutoModelForCausalLM.from_config(config, dtype=torch.float32).eval()
    finally:
        torch.random.set_rng_state(state)


def randw_dir(base, seed: int) -> Path:
    """Where :func:`random_init_copy` keeps a vLLM base's RandW: ``$POWER_TOOLKIT_CACHE/randw/<type>-<hash>-seed<S>``.

    ``<hash>``: of the base's location and config, so another base never reuses it.
    """
    import hashlib

    from transformers import AutoConfig

    from ..vllm import cache_dir

    config = AutoConfig.from_pretrained(base.path)
    key = hashlib.sha256(f"{base.path}\n{config.to_json_string()}".encode()).hexdigest()[:12]
    return cache_dir() / "randw" / f"{config.model_type}-{key}-seed{int(seed)}"


def record_id(model_label: str, method: str, seed: int, problem_id: str) -> str:
    """The ``id`` of one evaluation record: the JSON list ``[model, method, seed, problem id]``."""
    return json.dumps([model_label, method, int(seed), problem_id], ensure_ascii=False)


def run_identity(task: Task, config: SamplerConfig, seeds: Sequence[int], chat: bool, n_problems: int, row: int) -> dict:
    """What every record of one row carries as ``run`` (as read back from JSON): records that differ here are not mixed."""
    identity = {"row": row, "alpha": config.alpha, "settings": config.settings(), "task": repr(task), "chat": chat,
                "n_problems": n_problems, "seeds": [int(s) for s in seeds]}
    return json.loads(json.dumps(identity))


def _problem_records(lm, task, index, problem, config, seeds, model_label, chat, run, done, stream) -> list[dict]:
    """The ``S`` records of one problem (one :func:`llm.methods.draw` call): taken from ``done`` if all are there.

    Otherwise the draw is made (its generator depends only on ``(seeds[0], problem id, method, S)``, so
    a redraw repeats it exactly) and the records missing from ``done`` are appended to ``stream`` with
    one ``write``, ``flush`` and ``os.fsync`` (a kill leaves at most a truncated last line).
    """
    keys = [record_id(model_label, config.method, s, problem.id) for s in seeds]
    old = [done.get(key) for key in keys]
    if all(record is not None for record in old):
        return old
    prompt = encode_prompt(lm, problem.prompt, chat)
    n_seeds = len(seeds)
    result = draw(lm, prompt, n_seeds, config, record_generator(int(seeds[0]), f"{problem.id}/{config.method}/{n_seeds}"))
    fresh = []
    for key, seed, tokens, logprobs in zip(keys, seeds, result.tokens, result.logprobs):
        text = decode_completion(lm, tokens)
        fresh.append({
            "id": key, "model": model_label, "method": config.method, "seed": int(seed), "problem": problem.id,
            "index": int(index), "completion": text, "r_star": float(task.reward(problem.prompt, text)),
            "r_self": float(logprobs.mean()) if len(logprobs) else None, "log_likelihood": float(logprobs.sum()),
            "seconds": round(result.seconds, 4), "run": run,
        })
    new = [record for record, previous in zip(fresh, old) if previous is None]
    if stream is not None:
        stream.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in new).encode("utf-8"))
        stream.flush()
        os.fsync(stream.fileno())
    for record in new:
        done[record["id"]] = record
    return [previous if previous is not None else record for record, previous in zip(fresh, old)]


def evaluate(
    lm,
    task: Task,
    problems: Sequence[Problem],
    config: SamplerConfig,
    seeds: Sequence[int],
    model_label: str = "model",
    chat: bool = True,
    *,
    indices: Sequence[int] | None = None,
    n_problems: int | None = None,
    row: int = 0,
    done: dict | None = None,
    stream=None,
) -> EvalRow:
    """One model × sampling method over ``problems`` and ``seeds`` (see the module docstring).

    ``indices``: each problem's position in the run's full (unsharded) list of ``n_problems``
    (default ``0, 1, ...``); ``done``: records by ``id`` already on file, reused rather than
    redrawn (resume); ``stream``: binary file the new records are appended to.  The row is
    :func:`rows_from_records`'s on these records, so a merge of record files gives the same row.
    """
    if len(seeds) < 1 or not problems:
        raise ValueError("need at least one prompt and one seed")
    indices = list(range(len(problems))) if indices is None else [int(j) for j in indices]
    if len(indices) != len(problems):
        raise ValueError(f"{len(indices)} indices for {len(problems)} problems")
    run = run_identity(task, config, seeds, chat, len(problems) if n_problems is None else n_problems, row)
    done = {} if done is None else done
    records = []
    for index, problem in zip(indices, problems):
        records += _problem_records(lm, task, index, problem, config, seeds, model_label, chat, run, done, stream)
    return _row_from_records(records, indices)


def rows_from_records(records: Sequence[Mapping]) -> list[EvalRow]:
    """The rows of a whole run from its evaluation records (any order, from any number of shard files).

    Records are grouped by their ``run`` identity's ``row``; ``ValueError`` if one row's records
    disagree on model, method or ``run`` (two runs mixed), or if a (problem, seed) of the run's
    ``n_problems`` × ``seeds`` is missing (a shard not merged or not finished).
    """
    groups: dict[int, list] = {}
    for record in records:
        groups.setdefault(int(record["run"]["row"]), []).append(record)
    rows = []
    for row in sorted(groups):
        group = groups[row]
        first = group[0]
        for record in group:
            if (record["model"], record["method"], record["run"]) != (first["model"], first["method"], first["run"]):
                raise ValueError(f"record {record['id']} and record {first['id']} claim row {row} of different runs "
                                 f"({record['run']} vs {first['run']}); merge the shards of one run only")
        rows.append(_row_from_records(group, range(int(first["run"]["n_problems"]))))
    return rows


def _row_from_records(records: Sequence[Mapping], indices: Sequence[int]) -> EvalRow:
    """One row from the records of one model × method at problem positions ``indices`` (every seed of each)."""
    first = records[0]
    seeds = first["run"]["seeds"]
    position = {int(j): i for i, j in enumerate(indices)}
    column = {int(s): c for c, s in enumerate(seeds)}
    shape = (len(position), len(seeds))
    r_star, r_self, log_likelihood = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
    texts: list[list] = [[None] * len(seeds) for _ in position]
    seconds = np.zeros(len(position))
    for record in records:
        i, s = position.get(int(record["index"])), column.get(int(record["seed"]))
        if i is None or s is None:
            raise ValueError(f"record {record['id']}: problem position {record['index']} or seed {record['seed']} "
                             f"is outside the run ({len(position)} problems, seeds {seeds})")
        r_star[i, s] = record["r_star"]
        r_self[i, s] = -np.inf if record["r_self"] is None else record["r_self"]
        log_likelihood[i, s] = record["log_likelihood"]
        texts[i][s] = record["completion"]
        seconds[i] = record["seconds"]
    missing = [(j, seeds[s]) for j, i in position.items() for s in range(len(seeds)) if texts[i][s] is None]
    if missing:
        raise ValueError(f"{first['model']} / {first['method']}: {len(missing)} of {r_star.size} (problem position, seed) "
                         f"records missing, e.g. {missing[:3]}; is a shard missing or unfinished?")
    star, own, bon = mean_sd_over_seeds(r_star), _mean_sd_self(r_self), best_of_n(r_star, r_self)
    return EvalRow(
        first["model"],
        SAMPLING_NAMES.get(first["method"], first["method"]),
        star.mean,
        star.sd,
        own.mean,
        own.sd,
        bon.r_star,
        bon.r_self,
        len(position),
        len(seeds),
        float(seconds.sum()),
        {"r_star": r_star, "r_self": r_self, "log_likelihood": log_likelihood, "completions": texts},
    )


def _mean_sd_self(r_self: np.ndarray) -> MeanSD:
    """:func:`mean_sd_over_seeds` of ``r_self``, which is ``-inf`` for an empty completion (then so is its mean)."""
    if np.all(np.isfinite(r_self)):
        return mean_sd_over_seeds(r_self)
    per_seed = r_self.mean(axis=0)
    return MeanSD(float(per_seed.mean()), float("nan"), len(per_seed))


def evaluate_models(
    models: Mapping[str, object],
    task: Task,
    problems: Sequence[Problem],
    configs: Sequence[SamplerConfig] | Mapping[str, Sequence[SamplerConfig]],
    seeds: Sequence[int],
    chat: bool = True,
    progress: bool = False,
    *,
    records: str | Path | None = None,
    shard: Shard | None = None,
    announce: bool = False,
) -> list[EvalRow]:
    """Every model × its sampling configs (one list for all, or a mapping model label → configs).

    ``shard``: evaluate only that shard of ``problems`` (:class:`llm.experiments.shards.Shard`).
    ``records``: a JSONL file with one record per (model, method, seed, problem), appended as
    they are made and held with :func:`exact._atomic_output.exclusive_lock`; a restart after a
    kill cuts a truncated last line, reuses the complete records and draws the rest, and refuses
    (``ValueError`` naming file and line) a duplicate record, one that is not this run's, or
    one made with other settings.  ``announce``: print :func:`llm.experiments.shards.estimate_line`
    on stderr first; the calibration is the first remaining problem of every row, timed (its
    records are kept), times that row's remaining problems.
    """
    plan = [(label, lm, config) for label, lm in models.items()
            for config in (configs[label] if isinstance(configs, Mapping) else configs)]
    indexed = shard.select(problems) if shard is not None else list(enumerate(problems))
    if not indexed:
        raise ValueError(f"shard {shard} of {len(problems)} problems is empty; use fewer shards or a larger --n")
    indices, chosen = [j for j, _ in indexed], [p for _, p in indexed]
    runs = [run_identity(task, config, seeds, chat, len(problems), r) for r, (_, _, config) in enumerate(plan)]
    with contextlib.ExitStack() as stack:
        stream, done = None, {}
        if records is not None:
            records = Path(records)
            records.parent.mkdir(parents=True, exist_ok=True)
            stack.enter_context(exclusive_lock(records))  # a second writer fails here, at once
            stream = stack.enter_context(open(records, "ab"))
            done = _resume(records, plan, runs, chosen, seeds)
        todo = [[(j, p) for j, p in indexed if any(record_id(label, config.method, s, p.id) not in done for s in seeds)]
                for label, _, config in plan]
        if announce:
            if any(todo):  # the estimate times one whole problem per row first: say so (minutes on a slow machine)
                print(f"evaluate: timing one problem per model × method row ({len(plan)} rows) for the cost estimate ...",
                      file=sys.stderr, flush=True)
            estimate = 0.0
            for r, ((label, lm, config), row_todo) in enumerate(zip(plan, todo)):
                if row_todo:
                    start = time.perf_counter()
                    (j, problem) = row_todo[0]
                    _problem_records(lm, task, j, problem, config, seeds, label, chat, runs[r], done, stream)
                    estimate += (time.perf_counter() - start) * len(row_todo)
            calls = sum(map(len, todo))
            print(estimate_line("evaluate", calls, estimate,
                                f"{len(plan)} model × method rows × {len(indexed)} problems"
                                f"{f' of shard {shard}' if shard is not None else ''}, {len(seeds)} completions each; "
                                f"{len(indexed) * len(plan) - calls} already on file"),
                  file=sys.stderr, flush=True)
        rows = []
        for r, (label, lm, config) in enumerate(plan):
            row = evaluate(lm, task, chosen, config, seeds, label, chat, indices=indices, n_problems=len(problems),
                           row=r, done=done, stream=stream)
            if progress:
                print(f"evaluate {label} / {row.sampling}: r*={row.r_star_mean:.3f} r_self={row.r_self_mean:.3f} "
                      f"({row.seconds:.0f} s)", file=sys.stderr, flush=True)
            rows.append(row)
    return rows


def _resume(path: Path, plan, runs, problems, seeds) -> dict:
    """The complete records of ``path`` by ``id`` (a truncated tail cut), checked against this run (see :func:`evaluate_models`)."""
    numbered = numbered_records(path, repair=True)
    row_of = {(label, config.method): r for r, (label, _, config) in enumerate(plan)}
    for number, record in numbered:
        r = row_of.get((record.get("model"), record.get("method")))
        if r is not None and record.get("run") != runs[r]:
            raise ValueError(f"{path}:{number}: a record made with other settings ({record.get('run')} vs {runs[r]}); "
                             "use a new --records file")
    expected = {record_id(label, config.method, s, p.id) for label, _, config in plan for p in problems for s in seeds}
    _check_ids(path, numbered, expected, "resume with the same --model, --methods, --n, --seeds, --problem-seed, "
                                         "--task and --shard, or use a new --records file")
    return {record["id"]: record for _, record in numbered}


def _pm(mean: float, sd: float) -> str:
    return f"{mean:.3f} ± {sd:.3f}" if np.isfinite(sd) else f"{mean:.3f}"


def markdown_table(rows: Sequence[EvalRow]) -> str:
    """Rows in Table 1's layout, a pass@k column, then the paired comparisons (:func:`comparison_lines`).

    Model | Sampling | r* (↑) | r_self || BoN r* (↑) | BoN r_self | pass@S, with ``S`` the number of
    seeds (samples per prompt) and pass@S the unbiased estimator of
    :func:`llm.experiments.statistics.pass_at_k` ("–" unless ``r*`` is 0/1).
    """
    k = rows[0].n_seeds if rows else 1
    lines = [
        f"| Model | Sampling | r* (↑) | r_self | BoN r* (↑) | BoN r_self | pass@{k} |",
        "|---|---|---|---|---|---|---|",
    ]
    previous = None
    for row in rows:
        name = row.model if row.model != previous else ""
        previous = row.model
        r_star = row.samples.get("r_star")
        binary = r_star is not None and row.n_seeds == k and is_binary(r_star)
        pass_k = f"{pass_at_k_rewards(r_star, k).estimate:.3f}" if binary else "–"
        lines.append(
            f"| {name} | {row.sampling} | {_pm(row.r_star_mean, row.r_star_sd)} | {_pm(row.r_self_mean, row.r_self_sd)} "
            f"| {row.bon_r_star:.3f} | {row.bon_r_self:.3f} | {pass_k} |"
        )
    return "\n".join(lines + comparison_lines(rows))


def comparison_lines(rows: Sequence[EvalRow], seed: int = 0) -> list[str]:
    """Every row's ``r*`` against the first row's on the same prompts and seeds (:func:`paired_comparison`).

    One line per row after the first: the difference of mean ``r*``, its 95% paired bootstrap
    CI over prompts, and for 0/1 rewards the exact McNemar p-value over (prompt, seed) pairs.
    Rows without per-sample rewards or with another shape are skipped.
    """
    if len(rows) < 2 or "r_star" not in rows[0].samples:
        return []
    base = rows[0]
    lines = []
    for row in rows[1:]:
        a, b = row.samples.get("r_star"), base.samples["r_star"]
        if a is None or np.shape(a) != np.shape(b) or len(a) < 2:
            continue
        test = paired_comparison(a, b, seed=seed)
        ci = test.bootstrap
        text = (f"paired: {row.model} / {row.sampling} vs {base.model} / {base.sampling}: Δr* = {ci.difference:+.3f}, "
                f"95% bootstrap CI [{ci.low:+.3f}, {ci.high:+.3f}] over {ci.n_problems} prompts")
        if test.mcnemar is not None:
            m = test.mcnemar
            text += f"; McNemar exact p = {m.p_value:.3g} ({m.only_a} vs {m.only_b} discordant of {m.n_pairs} pairs)"
        lines.append(text)
    return [""] + lines if lines else []


def rows_csv(rows: Sequence[EvalRow]) -> str:
    """The rows as CSV text (full precision)."""
    buffer = io.StringIO()
    dicts = [row.as_dict() for row in rows]
    writer = csv.DictWriter(buffer, fieldnames=list(dicts[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(dicts)
    return buffer.getvalue()
