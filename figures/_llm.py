"""Shared settings and the one base model of the language-model figures (Table 1, Figures 2 and 3).

``SCALES`` documents what each ``--scale`` runs:

* ``tiny`` -- CI: a couple of prompts, very short completions, MH with tiny
  ``B``/``n_mcmc``, one distillation step (a minute or two with the default model);
* ``small`` -- the default model (SmolLM2-135M-Instruct) on 1-digit arithmetic,
  sized to finish in well under an hour on 2 shared CPU cores;
* ``paper`` -- Appendix B.1's settings, for GPU users with a 7B model
  (``--model PATH_OR_HUB_ID``, ``--engine vllm``): α = 4, 3072 tokens, ``B = 192``, ``N_MCMC = 10``
  (RandW: 1024 tokens, ``N_MCMC = 2``), 500 teacher prompts, 4 seeds, LoRA SFT
  for 3 epochs with batch 1 × 8 accumulation, 1024-token window, Table S.2's learning rate.
  Table 1 and Tables S.3-S.6 run on the paper's benchmarks at this scale (:mod:`figures._pipeline`).

The base model is loaded once per process (:func:`base_model`; environment
``LLM_THREADS`` sets torch's CPU threads, ``LLM_DEVICE=cuda`` puts it on a GPU);
tests put their session model in ``_CACHE`` so no second copy is ever loaded.
"""

from __future__ import annotations

import json
import os
from typing import NamedTuple

SCALES = {
    "tiny": dict(
        n_train=2, n_eval=2, seeds=2, max_new_tokens=6, block_size=3, n_mcmc=1, randw_max_new_tokens=6,
        randw_n_mcmc=1, distill_steps=2, epochs=1.0, grad_accum=1, learning_rate=1e-4, alphas=(1.0, 4.0),
        lambdas=(-1.0, 0.0, 1.0), digits=1,
    ),
    "small": dict(
        n_train=48, n_eval=24, seeds=3, max_new_tokens=16, block_size=8, n_mcmc=2, randw_max_new_tokens=16,
        randw_n_mcmc=2, distill_steps=-1, epochs=3.0, grad_accum=4, learning_rate=1e-4, alphas=(1.0, 2.0, 4.0, 8.0),
        lambdas=tuple(round(-1 + 0.25 * i, 2) for i in range(9)), digits=1,
    ),
    "paper": dict(
        n_train=500, n_eval=500, seeds=4, max_new_tokens=3072, block_size=192, n_mcmc=10, randw_max_new_tokens=1024,
        randw_n_mcmc=2, distill_steps=-1, epochs=3.0, grad_accum=8, learning_rate=1e-5, alphas=(1.0, 2.0, 4.0, 8.0),
        lambdas=tuple(round(-1 + 0.25 * i, 2) for i in range(9)), digits=1,
    ),
}

ALPHA = 4.0  # the paper's α (B.1); temperature baseline τ = 1/α

_CACHE: dict = {}


def settings(scale: str) -> dict:
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose from {', '.join(SCALES)}")
    return dict(SCALES[scale])


def base_model(path: str | None = None, engine: str = "hf", engine_args: dict | None = None):
    """The base model (default model unless ``path``: a model directory, ``.gguf`` file or hub name), loaded once
    per process through :func:`llm.experiments.cli.load_model` on ``engine`` (``"hf"``: :class:`llm.HFModel`,
    ``"vllm"``: :class:`llm.VLLMModel`, with ``engine_args`` passed through).

    The cache key of the hf engine without engine arguments is ``path or "default"`` (tests put their session
    model there); other engines and arguments get their own entry.
    """
    engine_args = dict(engine_args or {})
    key = path or "default"
    if engine != "hf" or engine_args:
        key = json.dumps([key, engine, sorted((k, str(v)) for k, v in engine_args.items())])
    if key not in _CACHE:
        import torch

        from exact.llm_guard import import_llm

        import_llm()  # fails with advice if PyPI's unrelated `llm` is found instead of ours
        from llm.experiments.cli import load_model

        if os.environ.get("LLM_THREADS"):
            torch.set_num_threads(int(os.environ["LLM_THREADS"]))
        if engine == "hf":
            engine_args.setdefault("device", os.environ.get("LLM_DEVICE", "cpu"))
        _CACHE[key] = load_model(path or "default", engine=engine, engine_args=engine_args)
    return _CACHE[key]


class EvaluationSetup(NamedTuple):
    """What Figures 2 and 3 share: the scale's settings, the base model, the task and its held-out problems."""

    settings: dict
    base: object
    task: object
    problems: list
    seeds: list


def evaluation_setup(scale: str, model: str | None, seed: int) -> EvaluationSetup:
    """Settings for ``scale``, the base model, the arithmetic task, ``n_eval`` problems and the seed list."""
    from llm.experiments.tasks import ArithmeticTask

    s = settings(scale)
    task = ArithmeticTask(digits=s["digits"])
    return EvaluationSetup(s, base_model(model), task, task.problems(s["n_eval"], seed + 1), list(range(seed, seed + s["seeds"])))
