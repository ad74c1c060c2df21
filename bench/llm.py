"""``python -m bench llm``: KV-cache reuse in the power samplers, against naive re-encoding.

On the default model (SmolLM2-135M-Instruct, float32, CPU) with a ~100-token
prompt, for MH power sampling (B = 16, N_MCMC = 4, 64 new tokens), the scalable
sampler (K = M = 8, H = 8) and Power-SMC (N = 16), each run twice with the same seed:

* cached -- the ``llm`` samplers (prompt prefilled once, caches forked/cropped/reordered);
* naive  -- ``reuse_cache=False``: prompt + prefix re-encoded for every proposal
  (MH, one chain at a time, batch size 1), every step's rollouts (scalable), every
  resampling (SMC), as the public MH code does with a fresh ``generate`` per proposal.

MH is run for one chain and for ``--mh-chains`` chains.  One chain's proposals
are sequential and decode tens of tokens one pass at a time, while re-encoding
a 100-token prefix on a CPU costs only about three single-token passes (a
batch-1 pass is bound by reading the weights), so caching alone saves one
chain only ~15-25% of its time.  With several chains the
cached sampler decodes all of them at once by continuous batching (a chain whose
proposal finished rejoins the next step with its next proposal; no padding is
decoded), which the naive version, re-encoding per proposal at batch size 1, does not.

Reported per sampler: forward-token efficiency = tokens the algorithm must score
(prompt once + every sampled token) / tokens pushed through the model, for
both versions (it can exceed 1 slightly: a completion's last token is sampled
but never pushed); wall-clock of both and their ratio; whether the outputs are
identical.  ``--quick`` shrinks every budget (smoke test).

``--engine vllm`` compares engines instead: the same samplers with the same settings on the
vLLM engine (:class:`llm.VLLMModel`) and then on transformers (:class:`llm.HFModel`, which runs
on vLLM's pinned transformers too), one after the other in one process: plain decoding
(standard sampling) of ``--mh-chains`` completions, MH power sampling with as many chains, and
Power-SMC with ``--particles`` particles.  Reported per engine and sampler: wall-clock, output
tokens per second, and the cost per output token as a multiple of plain decoding on the same
engine (the price of sampling π^α instead of π there).  Each engine is warmed up by one short
draw before the clock starts.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import NamedTuple

import torch

PROMPT = (
    "You are a careful assistant. Read the following passage and continue it in the same style. "
    "The old lighthouse stood at the edge of the cliff, its white paint peeling after decades of salt "
    "and wind. Every evening the keeper climbed the spiral staircase, counted the steps under his breath, "
    "and lit the lamp that guided the fishing boats home. His daughter, who had grown up listening to the foghorn, "
    "kept a logbook of every ship that passed. One night, the lamp refused to light, and"
)


def _row(name, fast, slow) -> dict:
    return {
        "sampler": name,
        "identical_outputs": fast.tokens == slow.tokens,
        "required_tokens": fast.required_tokens,
        "cached_forward_tokens": fast.forward_tokens,
        "naive_forward_tokens": slow.forward_tokens,
        "cached_efficiency": round(fast.efficiency, 3),
        "naive_efficiency": round(slow.efficiency, 3),
        "cached_seconds": round(fast.seconds, 2),
        "naive_seconds": round(slow.seconds, 2),
        "speedup": round(slow.seconds / fast.seconds, 2),
        "cached_model_calls": fast.model_calls,
        "naive_model_calls": slow.model_calls,
    }


def build_parser() -> argparse.ArgumentParser:
    from exact._validate import (
        CommandLineParser, count_argument as count, integer_argument, probability_argument, seed_argument, threads_argument,
    )

    non_negative = integer_argument(0)
    parser = CommandLineParser(prog="python -m bench llm", description="KV-cache reuse vs naive re-encoding")
    parser.add_argument("--threads", type=threads_argument, default=None,
                        help="torch threads (default: torch's own choice)")
    parser.add_argument("--seed", type=seed_argument, default=0)
    parser.add_argument("--mh-tokens", type=count, default=64)
    parser.add_argument("--block-size", type=count, default=16)
    parser.add_argument("--n-mcmc", type=count, default=4)
    parser.add_argument("--mh-chains", type=non_negative, default=8,
                        help="also run this many MH chains at once (continuous batching; 0: skip)")
    parser.add_argument("--scalable-tokens", type=count, default=8)
    parser.add_argument("--top-k", type=count, default=8)
    parser.add_argument("--rollouts", type=integer_argument(2, name="rollouts"), default=8, help="at least 2 (the jackknife)")
    parser.add_argument("--rollout-horizon", type=non_negative, default=8)
    parser.add_argument("--particles", type=count, default=16)
    parser.add_argument("--smc-tokens", type=count, default=32)
    parser.add_argument("--smc-ess-threshold", type=probability_argument("ESS threshold", allow_zero=True), default=0.9)
    parser.add_argument("--only", choices=["mh", "scalable", "smc"], action="append")
    parser.add_argument("--quick", action="store_true", help="tiny budgets (smoke test)")
    from llm.experiments.cli import add_engine_arguments

    add_engine_arguments(parser)
    return parser


def main(argv: list[str]) -> int:
    """The benchmark; a bad option, or a model or engine that cannot load, is one line and exit status 2."""
    from exact._validate import run_command
    from exact.llm_guard import import_llm

    import_llm()  # fails with advice if PyPI's unrelated `llm` is found instead of ours (before llm.experiments loads)
    return run_command(build_parser(), argv, _run)


def _apply_quick_and_threads(args: argparse.Namespace) -> None:
    """``--quick``'s tiny budgets (every workload of both modes) and ``--threads``, before any model loads."""
    if args.quick:
        args.mh_tokens, args.block_size, args.n_mcmc, args.mh_chains = 8, 4, 2, 2
        args.scalable_tokens, args.top_k, args.rollouts, args.rollout_horizon = 2, 2, 2, 2
        args.particles, args.smc_tokens = 4, 4
    if args.threads:
        torch.set_num_threads(args.threads)


def _run(args: argparse.Namespace) -> int:
    _apply_quick_and_threads(args)
    if args.engine == "vllm":
        return _compare_engines(args)

    import llm  # ours: main() checked it with exact.llm_guard.import_llm
    from llm.experiments.cli import engine_from_args, load_model

    engine, engine_args = engine_from_args(args)
    start = time.perf_counter()
    lm = load_model("default", engine=engine, engine_args=engine_args)  # hf: llm.HFModel(); vllm: llm.VLLMModel()
    prompt = lm.encode(PROMPT)
    print(f"# model {lm.name}  load {time.perf_counter() - start:.1f}s  prompt {len(prompt)} tokens  threads {torch.get_num_threads()}", flush=True)
    which = set(args.only or ["mh", "scalable", "smc"])
    rows = []

    def both(name, run):
        fast = run(True, torch.Generator().manual_seed(args.seed))
        slow = run(False, torch.Generator().manual_seed(args.seed))
        rows.append(_row(name, fast, slow))
        print(json.dumps(rows[-1]), flush=True)

    if "mh" in which:
        both(
            f"power-mh B={args.block_size} n_mcmc={args.n_mcmc} T={args.mh_tokens}",
            lambda reuse, g: llm.sample_power_mh(
                lm, prompt, 1, 4.0, g, args.block_size, args.n_mcmc, args.mh_tokens, reuse_cache=reuse, progress=False
            ),
        )
        if args.mh_chains > 1:
            both(
                f"power-mh x{args.mh_chains} chains (continuous batching) B={args.block_size} n_mcmc={args.n_mcmc} T={args.mh_tokens}",
                lambda reuse, g: llm.sample_power_mh(
                    lm, prompt, args.mh_chains, 4.0, g, args.block_size, args.n_mcmc, args.mh_tokens,
                    reuse_cache=reuse, progress=False,
                ),
            )
    if "scalable" in which:
        both(
            f"power-scalable K={args.top_k} M={args.rollouts} H={args.rollout_horizon} T={args.scalable_tokens}",
            lambda reuse, g: llm.sample_power_scalable(
                lm, prompt, 1, 4.0, g, args.top_k, args.rollouts, args.rollout_horizon, True, args.scalable_tokens,
                reuse_cache=reuse, progress=False,
            ),
        )
    if "smc" in which:
        both(
            f"power-smc N={args.particles} T={args.smc_tokens} ess<{args.smc_ess_threshold}N",
            lambda reuse, g: llm.sample_power_smc(
                lm, prompt, args.particles, 4.0, g, args.smc_tokens, args.smc_ess_threshold, reuse_cache=reuse
            ),
        )
    print("\n| sampler | identical | efficiency cached / naive | seconds cached / naive | speedup |")
    print("| --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['sampler']} | {r['identical_outputs']} | {r['cached_efficiency']} / {r['naive_efficiency']} "
            f"| {r['cached_seconds']} / {r['naive_seconds']} | {r['speedup']}x |"
        )
    print("targets: not judged at --quick budgets" if args.quick else _targets(rows))
    return 0


class EngineCost(NamedTuple):
    """One sampler timed on one engine: wall-clock and the tokens of the completions it returned."""

    sampler: str
    seconds: float
    output_tokens: int
    forward_tokens: int

    @property
    def tokens_per_second(self) -> float:
        return self.output_tokens / self.seconds

    def cost_multiple(self, plain: "EngineCost") -> float:
        """Seconds per output token relative to plain decoding's on the same engine."""
        return (self.seconds / max(self.output_tokens, 1)) / (plain.seconds / max(plain.output_tokens, 1))


def engine_workloads(args: argparse.Namespace) -> list[tuple[str, int, "SamplerConfig"]]:
    """``(label, n, config)``: plain decoding, MH and Power-SMC at the command line's budgets (α = 4)."""
    from llm.methods import SamplerConfig

    chains = max(args.mh_chains, 1)
    return [
        (f"plain decoding x{chains}, T={args.mh_tokens}", chains, SamplerConfig("standard", 4.0, args.mh_tokens)),
        (f"power-mh x{chains} chains, B={args.block_size} n_mcmc={args.n_mcmc} T={args.mh_tokens}", chains,
         SamplerConfig("power-mh", 4.0, args.mh_tokens, args.block_size, args.n_mcmc)),
        (f"power-smc N={args.particles}, T={args.smc_tokens}", 1,
         SamplerConfig("power-smc", 4.0, args.smc_tokens, particles=args.particles)),
    ]


def time_engine(lm, args: argparse.Namespace) -> list[EngineCost]:
    """Every :func:`engine_workloads` entry drawn on ``lm`` (seeded), after one short warm-up draw."""
    from llm.methods import SamplerConfig, draw

    prompt = lm.encode(PROMPT)
    draw(lm, prompt, 2, SamplerConfig("standard", 4.0, 4), torch.Generator().manual_seed(args.seed))  # warm-up
    costs = []
    for label, n, config in engine_workloads(args):
        start = time.perf_counter()
        run = draw(lm, prompt, n, config, torch.Generator().manual_seed(args.seed))
        costs.append(EngineCost(label, time.perf_counter() - start, sum(len(t) for t in run.tokens), run.forward_tokens))
        print(json.dumps({"engine": type(lm).__name__, **costs[-1]._asdict()}), flush=True)
    return costs


def _compare_engines(args: argparse.Namespace) -> int:
    """``--engine vllm``: :func:`time_engine` on vLLM, then on transformers; one table, side by side."""
    from llm.experiments.cli import engine_from_args, load_model

    engine, engine_args = engine_from_args(args)
    columns = {}
    for name, kind, kind_args in (("vLLM", engine, engine_args), ("HF", "hf", {})):
        start = time.perf_counter()
        lm = load_model("default", engine=kind, engine_args=kind_args)
        print(f"# {name}: {lm.name}  load {time.perf_counter() - start:.1f}s  threads {torch.get_num_threads()}", flush=True)
        try:
            columns[name] = time_engine(lm, args)
        finally:
            if callable(getattr(lm, "close", None)):
                lm.close()
    print("\n| sampler | vLLM s | vLLM tok/s | vLLM x plain | HF s | HF tok/s | HF x plain | HF s / vLLM s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for v, h in zip(columns["vLLM"], columns["HF"]):
        print(f"| {v.sampler} | {v.seconds:.2f} | {v.tokens_per_second:.1f} | {v.cost_multiple(columns['vLLM'][0]):.2f} "
              f"| {h.seconds:.2f} | {h.tokens_per_second:.1f} | {h.cost_multiple(columns['HF'][0]):.2f} | {h.seconds / v.seconds:.2f} |")
    return 0


def _targets(rows: list[dict]) -> str:
    """The issue's targets: efficiency >= 0.9 for MH and scalable; MH >= 3x naive with identical outputs."""
    checked = [r for r in rows if r["sampler"].startswith(("power-mh", "power-scalable"))]
    parts = []
    if checked:
        low = min(r["cached_efficiency"] for r in checked)
        parts.append(f"efficiency >= 0.9 (MH, scalable) {'PASS' if low >= 0.9 else 'FAIL'} (min {low})")
    mh = [r for r in rows if r["sampler"].startswith("power-mh")]
    if mh:
        best = max(mh, key=lambda r: r["speedup"])
        verdict = "PASS" if best["speedup"] >= 3 and best["identical_outputs"] else "FAIL"
        speeds = ", ".join(f"{r['speedup']}x ({r['sampler'].split(' B=')[0]})" for r in mh)
        parts.append(f"MH >= 3x naive with identical outputs {verdict}: {speeds}")
    return "targets: " + "; ".join(parts) if parts else ""


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
