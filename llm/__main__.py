"""Command line: ``python -m llm sample --method M --alpha 4 --prompt "..." [--n 4] [--model PATH]``.

Prints one JSON line per completion: ``method``, ``completion`` (text),
``self_reward`` (length-normalised mean log-prob, prompt masked),
``log_likelihood`` (sum), ``tokens`` (ids), ``n_tokens``, ``model_calls``,
``forward_tokens`` and ``seconds`` (of the sampler call that produced it).
"""

from __future__ import annotations

import argparse
import json
import sys

import torch

METHODS = ("standard", "temperature", "power-mh", "power-inf", "power-scalable", "power-smc", "bon")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m llm", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    from .experiments.cli import register  # teacher, distill, evaluate (Algorithm 1, Table 1)

    register(commands)
    sample = commands.add_parser("sample", help="sample completions and print JSON lines")
    sample.add_argument("--method", choices=METHODS, required=True)
    sample.add_argument("--alpha", type=float, default=4.0, help="power exponent α (temperature method: τ = 1/α)")
    sample.add_argument("--prompt", required=True)
    sample.add_argument("--n", type=int, default=1, help="number of completions")
    sample.add_argument("--model", default=None, help="model directory, hub name or .gguf file (default: SmolLM2-135M-Instruct)")
    sample.add_argument("--chat", action="store_true", help="wrap the prompt in the model's chat template")
    sample.add_argument("--max-new-tokens", type=int, default=64)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--block-size", type=int, default=16, help="MH block size B")
    sample.add_argument("--n-mcmc", type=int, default=4, help="MH steps per block")
    sample.add_argument("--top-k", type=int, default=8, help="scalable: candidates K")
    sample.add_argument("--rollouts", type=int, default=8, help="scalable: rollouts M per candidate")
    sample.add_argument("--rollout-horizon", type=int, default=None, help="scalable: rollout horizon H (default: to the end)")
    sample.add_argument("--no-jackknife", action="store_true", help="scalable: plain ratio estimator")
    sample.add_argument("--particles", type=int, default=16, help="Power-SMC particles N")
    sample.add_argument("--candidates", type=int, default=4, help="Best-of-N: candidates N")
    sample.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    return parser


def run_sample(args: argparse.Namespace, out=sys.stdout) -> int:
    import llm

    if args.threads:
        torch.set_num_threads(args.threads)
    lm = llm.HFModel(args.model)
    prompt = lm.encode(args.prompt, chat=args.chat)
    generator = torch.Generator().manual_seed(args.seed)
    common = dict(max_new_tokens=args.max_new_tokens)
    m = args.method
    if m == "standard":
        runs = [llm.sample_standard(lm, prompt, args.n, generator, **common)]
    elif m == "temperature":
        runs = [llm.sample_temperature(lm, prompt, args.n, 1.0 / args.alpha, generator, **common)]
    elif m in ("power-mh", "power-inf"):
        sampler = llm.sample_power_mh if m == "power-mh" else llm.sample_power_inf
        runs = [sampler(lm, prompt, args.n, args.alpha, generator, args.block_size, args.n_mcmc, progress=True, **common)]
    elif m == "power-scalable":
        runs = [
            llm.sample_power_scalable(
                lm, prompt, args.n, args.alpha, generator, args.top_k, args.rollouts, args.rollout_horizon,
                not args.no_jackknife, progress=True, **common,
            )
        ]
    elif m == "power-smc":
        runs = []
        for _ in range(args.n):  # one independent SMC run per output; one particle drawn by final weight
            run = llm.sample_power_smc(lm, prompt, args.particles, args.alpha, generator, **common)
            pick = int(llm.sample_from_logprobs(torch.log_softmax(run.info["log_weights"], 0)[None], generator)[0])
            runs.append(llm.Completions([run.tokens[pick]], [run.logprobs[pick]], run.model_calls, run.forward_tokens,
                                        run.required_tokens, run.seconds, {"log_evidence": run.info["log_evidence"]}))
    else:
        runs = [llm.sample_best_of_n(lm, prompt, args.n, args.candidates, generator, **common)]
    for run in runs:
        for tokens, logp in zip(run.tokens, run.logprobs):
            record = {
                "method": m,
                "completion": lm.decode(tokens),
                "self_reward": float(logp.mean()) if len(logp) else None,
                "log_likelihood": float(logp.sum()),
                "tokens": tokens,
                "n_tokens": len(tokens),
                "model_calls": run.model_calls,
                "forward_tokens": run.forward_tokens,
                "seconds": round(run.seconds, 3),
            }
            print(json.dumps(record), file=out, flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "sample":
        return run_sample(args)
    if hasattr(args, "handler"):
        return int(args.handler(args) or 0)
    return 2  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main())
