"""Command line: ``python -m llm sample --method M --alpha 4 --prompt "..." [--n 4] [--model PATH]``.

Prints one JSON line per completion: ``method``, ``completion`` (text),
``self_reward`` (length-normalised mean log-prob, prompt masked),
``log_likelihood`` (sum), ``tokens`` (ids), ``n_tokens``, ``model_calls``,
``forward_tokens`` and ``seconds`` (of the :func:`llm.methods.draw` call that produced all ``n``;
Power-SMC makes one run per completion, see :mod:`llm.methods`).  Before sampling it prints one
line on stderr: the planned forward passes (:func:`llm.methods.plan_work`) and an estimated time
from two timed decode passes (:func:`llm.methods.calibrate_passes`), with cheaper settings to try
when the estimate exceeds a minute.

``--model`` takes what ``teacher`` takes (:mod:`llm.experiments.cli`: a model directory, ``.gguf`` file,
hub name, adapter folder, ``randw`` or ``toy:V,T,SEED``); ``--engine {hf,vllm}`` chooses transformers or
vLLM.  A user error is one line ``python -m llm CMD: error: ...`` on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys

import torch

from exact._atomic_output import OutputLocked
from exact._validate import CommandLineParser, count_argument, run_command, seed_argument, threads_argument

from .experiments import cli  # teacher, distill, evaluate (Algorithm 1, Table 1); --model and --engine
from .experiments.shards import estimate_line
from .experiments.teacher import decode_completion, encode_prompt
from .methods import (
    CALIBRATION_ROWS, METHODS, SamplerConfig, add_arguments, calibrate_passes, config_from_args, draw, plan_work,
)
from .model import LanguageModel
from .samplers.common import resolve_max_new_tokens

#: Above this estimate (seconds) the announcement suggests cheaper settings.
SLOW_SECONDS = 60.0


def build_parser() -> argparse.ArgumentParser:
    parser = CommandLineParser(prog="python -m llm", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    cli.register(commands)
    sample = commands.add_parser("sample", help="sample completions and print JSON lines")
    sample.add_argument("--prompt", required=True)
    sample.add_argument("--n", type=count_argument, default=1, help="number of completions")
    sample.add_argument("--model", type=cli.model_spec_argument, default="default",
                        help="model directory, hub name, .gguf file or toy:V,T,SEED (default: SmolLM2-135M-Instruct)")
    sample.add_argument("--chat", action=argparse.BooleanOptionalAction, default=None,
                        help="wrap the prompt in the model's chat template (default: when the model has one)")
    sample.add_argument("--seed", type=seed_argument, default=0)
    add_arguments(sample, method=None, max_new_tokens=64, block_size=16, n_mcmc=4)
    cli.add_engine_arguments(sample)
    sample.add_argument("--threads", type=threads_argument, default=None, help="torch CPU threads")
    sample.set_defaults(handler=run_sample, command_parser=sample)
    return parser


def announce_sample(lm: LanguageModel, prompt: list[int], n: int, config: SamplerConfig) -> str:
    """The stderr line of ``sample``: planned forward passes, rows, and a calibrated time estimate.

    :func:`llm.methods.plan_work` gives the passes; :func:`llm.methods.calibrate_passes` times one
    decode pass of 1 row and one of up to :data:`llm.methods.CALIBRATION_ROWS` rows (a wider batch
    is extrapolated linearly); the estimate is
    :meth:`llm.methods.Workload.seconds` (in the :func:`llm.experiments.shards.estimate_line` format).
    Over :data:`SLOW_SECONDS` a second sentence names the options that shrink the work.
    """
    steps = resolve_max_new_tokens(lm, len(prompt), config.max_new_tokens)
    work = plan_work(config, n, steps)
    one_row, wide = calibrate_passes(lm, prompt, work.rows)
    seconds = work.seconds(one_row, wide)
    detail = f"{config.method}, n={n}, {steps} tokens; {work.rows} row{'s' if work.rows > 1 else ''} in the widest pass"
    if not work.exact:
        detail += "; an expectation"
    if lm.eos_token_id is not None:
        detail += "; an EOS ends it sooner"
    basis = f"the passes × the measured time of a decode pass of 1 and of {min(work.rows, CALIBRATION_ROWS)} rows"
    if work.rows > CALIBRATION_ROWS:
        basis += f", scaled linearly to {work.rows}"
    line = estimate_line("sample", work.passes, seconds, detail, units=("forward pass", "forward passes"), basis=basis)
    if seconds > SLOW_SECONDS:
        options = [o for o in METHODS[config.method].reads if o != "jackknife"] + ["max_new_tokens", "n"]
        line += (". Over a minute: smaller " + ", ".join("--" + o.replace("_", "-") for o in options)
                 + " make it cheaper")
    return line


def has_chat_template(lm: LanguageModel) -> bool:
    """Whether ``lm``'s tokenizer has a chat template: an instruct model answers a bare question with EOS."""
    return getattr(getattr(lm, "tokenizer", None), "chat_template", None) is not None


def run_sample(args: argparse.Namespace, out=None) -> int:
    out = sys.stdout if out is None else out  # looked up per call: a default bound at import misses redirections
    if args.threads:
        torch.set_num_threads(args.threads)
    config = config_from_args(args)  # bad settings fail before a model loads
    engine, engine_args = cli.engine_from_args(args)
    lm = cli.load_model(args.model, engine=engine, engine_args=engine_args)
    chat = args.chat if args.chat is not None else has_chat_template(lm)
    prompt = encode_prompt(lm, args.prompt, chat=chat)
    print(announce_sample(lm, prompt, args.n, config), file=sys.stderr, flush=True)
    generator = torch.Generator().manual_seed(args.seed)
    run = draw(lm, prompt, args.n, config, generator, progress=True)
    m = args.method
    for tokens, logp in zip(run.tokens, run.logprobs):
        record = {
            "method": m,
            "completion": decode_completion(lm, tokens),
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
    """Run one command; a user error exits with one line and status 2 (:func:`exact._validate.run_command`)."""
    return run_command(build_parser(), argv)


def entry_point(argv: list[str] | None = None) -> None:
    """``python -m llm``: exit with :func:`main`'s status; a locked ``--out`` (another run writes it) is one line
    ``python -m llm: error: ...`` and status 1, not a traceback (:func:`main` itself raises ``OutputLocked``)."""
    try:
        sys.exit(main(argv))
    except OutputLocked as error:
        sys.exit(f"python -m llm: error: {error}")


if __name__ == "__main__":
    entry_point()
