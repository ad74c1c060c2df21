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
"""

from __future__ import annotations

import copy
import csv
import io
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Mapping, Sequence

import numpy as np
import torch

from ..methods import METHODS, SamplerConfig, draw
from .statistics import MeanSD, best_of_n, is_binary, mean_sd_over_seeds, paired_comparison, pass_at_k_rewards
from .tasks import Problem, Task
from .teacher import decode_completion, encode_prompt, record_generator

__all__ = ["EvalRow", "comparison_lines", "evaluate", "evaluate_models", "markdown_table", "random_init_copy", "rows_csv", "SAMPLING_NAMES"]

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
    """RandW: the base's architecture and tokenizer with freshly initialised weights (``torch.manual_seed(seed)``)."""
    from transformers import AutoModelForCausalLM

    from .distill import wrap_model

    config = copy.deepcopy(base.model.config)
    if getattr(config, "quantization_config", None) is not None:
        del config.quantization_config
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        network = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    finally:
        torch.random.set_rng_state(state)
    return wrap_model(network.to(base.device).eval(), base.tokenizer, f"randw:{seed}", template=base)


def evaluate(
    lm,
    task: Task,
    problems: Sequence[Problem],
    config: SamplerConfig,
    seeds: Sequence[int],
    model_label: str = "model",
    chat: bool = True,
) -> EvalRow:
    """One model × sampling method over ``problems`` and ``seeds`` (see the module docstring)."""
    n_seeds = len(seeds)
    if n_seeds < 1 or not problems:
        raise ValueError("need at least one prompt and one seed")
    r_star = np.empty((len(problems), n_seeds))
    r_self = np.empty((len(problems), n_seeds))
    log_likelihood = np.empty((len(problems), n_seeds))
    texts: list[list[str]] = []
    start = time.perf_counter()
    for i, problem in enumerate(problems):
        prompt = encode_prompt(lm, problem.prompt, chat)
        generator = record_generator(int(seeds[0]), f"{problem.id}/{config.method}/{n_seeds}")
        result = draw(lm, prompt, n_seeds, config, generator)
        row = []
        for s, (tokens, logprobs) in enumerate(zip(result.tokens, result.logprobs)):
            text = decode_completion(lm, tokens)
            row.append(text)
            r_star[i, s] = task.reward(problem.prompt, text)
            r_self[i, s] = float(logprobs.mean()) if len(logprobs) else -np.inf
            log_likelihood[i, s] = float(logprobs.sum())
        texts.append(row)
    star, own, bon = mean_sd_over_seeds(r_star), _mean_sd_self(r_self), best_of_n(r_star, r_self)
    return EvalRow(
        model_label,
        SAMPLING_NAMES.get(config.method, config.method),
        star.mean,
        star.sd,
        own.mean,
        own.sd,
        bon.r_star,
        bon.r_self,
        len(problems),
        n_seeds,
        time.perf_counter() - start,
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
) -> list[EvalRow]:
    """Every model × its sampling configs (one list for all, or a mapping model label → configs)."""
    rows = []
    for label, lm in models.items():
        for config in configs[label] if isinstance(configs, Mapping) else configs:
            row = evaluate(lm, task, problems, config, seeds, label, chat)
            if progress:
                print(f"evaluate {label} / {row.sampling}: r*={row.r_star_mean:.3f} r_self={row.r_self_mean:.3f} "
                      f"({row.seconds:.0f} s)", file=sys.stderr, flush=True)
            rows.append(row)
    return rows


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
