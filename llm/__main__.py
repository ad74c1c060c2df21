"""Command line: ``python -m llm sample --method M --alpha 4 --prompt "..." [--n 4] [--model PATH]``.

Prints one JSON line per completion: ``method``, ``completion`` (text),
``self_reward`` (length-normalised mean log-prob, prompt masked),
``log_likelihood`` (sum), ``tokens`` (ids), ``n_tokens``, ``model_calls``,
``forward_tokens`` and ``seconds`` (of the :func:`llm.methods.draw` call that produced all ``n``;
Power-SMC makes one run per completion, see :mod:`llm.methods`).
"""

from __future__ import annotations

import argparse
import json
import sys

import torch

from .methods import METHODS, add_arguments, config_from_args, draw  # noqa: F401 (METHODS: the --method choices)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m llm", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    from .experiments.cli import register  # teacher, distill, evaluate (Algorithm 1, Table 1)

    register(commands)
    sample = commands.add_parser("sample", help="sample completions and print JSON lines")
    sample.add_argument("--prompt", required=True)
    sample.add_argument("--n", type=int, default=1, help="number of completions")
    sample.add_argument("--model", default=None, help="model directory, hub name or .gguf file (default: SmolLM2-135M-Instruct)")
    sample.add_argument("--chat", action="store_true", help="wrap the prompt in the model's chat template")
    sample.add_argument("--seed", type=int, default=0)
    add_arguments(sample, method=None, max_new_tokens=64, block_size=16, n_mcmc=4)
    sample.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    return parser


def run_sample(args: argparse.Namespace, out=None) -> int:
    import llm

    out = sys.stdout if out is None else out  # looked up per call: a default bound at import misses redirections
    if args.threads:
        torch.set_num_threads(args.threads)
    lm = llm.HFModel(args.model)
    prompt = lm.encode(args.prompt, chat=args.chat)
    generator = torch.Generator().manual_seed(args.seed)
    run = draw(lm, prompt, args.n, config_from_args(args), generator, progress=True)
    m = args.method
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
