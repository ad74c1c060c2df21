"""Block-wise Metropolis–Hastings power sampling (Algorithm 2 of the paper; Karan & Du 2026).

Target ``π̃_α(y | x) = π(y | x)^α``.  For block ``k`` the current completion is
extended to length ``L_k = min((k+1)B, max_new_tokens)`` by the proposal
``p_prop`` = base model at temperature ``1/α`` (``proposal_alpha`` overrides
the ``α`` of the proposal); then ``n_mcmc`` times: draw ``m ~ U{1..|y|}``,
resample ``y'_{m:L_k} ~ p_prop`` after the shared prefix ``y_{<m}`` and accept
with (Eq. 20)

    log A = α [log π(y'_{m:} | y_{<m}) - log π(y_{m:} | y_{<m})]
            + log p_prop(y_{m:} | y_{<m}) - log p_prop(y'_{m:} | y_{<m}),

i.e. the target ratio times the *reverse over forward* proposal ratio.
``greedy=True`` is Power(∞): accept iff ``π(y' | x) > π(y | x)`` (strictly).

Caching: each chain keeps the raw target log-probs and the proposal log-probs
of its current tokens, and the KV cache of its current sequence; a proposal
forks that cache at ``m - 1`` and decodes only the new suffix, so no token is
re-scored and the prompt and prefix are never re-encoded.
``reuse_cache=False`` is the naive reference (a fresh prefill of prompt +
prefix per proposal, as in the public code's ``generate`` per proposal); it
consumes the generator identically, so both give the same samples.

EOS (real models): a proposal stops at EOS, so the state space of block ``k``
is completions of length ``L_k`` or ending in EOS before it; a chain whose
current completion ends in EOS after a block is finished (no further blocks).
Chains run one after another (each proposal has its own ``m``); every
random draw comes from ``generator``.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from tqdm.auto import tqdm

from ..model import LanguageModel
from .common import Completions, Timer, decode, resolve_max_new_tokens

__all__ = ["sample_power_mh", "sample_power_inf"]


def _check(alpha: float, block_size: int, n_mcmc: int) -> None:
    if not (alpha > 0 and math.isfinite(alpha)):
        raise ValueError(f"alpha must be finite and > 0, got {alpha}")
    if block_size < 1:
        raise ValueError(f"block_size must be >= 1, got {block_size}")
    if n_mcmc < 0:
        raise ValueError(f"n_mcmc must be >= 0, got {n_mcmc}")


def sample_power_mh(
    lm: LanguageModel,
    prompt: Sequence[int],
    n: int,
    alpha: float,
    generator: torch.Generator,
    block_size: int,
    n_mcmc: int,
    max_new_tokens: int | None = None,
    proposal_alpha: float | None = None,
    greedy: bool = False,
    reuse_cache: bool = True,
    progress: bool | None = None,
) -> Completions:
    """``n`` independent MH chains targeting ``π(y | x)^α`` (Algorithm 2); see the module docstring.

    ``info``: ``acceptance_rate`` (accepted / proposed moves), ``proposals``.
    """
    _check(alpha, block_size, n_mcmc)
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    prompt = [int(i) for i in prompt]
    steps = resolve_max_new_tokens(lm, len(prompt), max_new_tokens)
    proposal_temperature = 1.0 / (alpha if proposal_alpha is None else proposal_alpha)
    eos = lm.eos_token_id
    n_blocks = -(-steps // block_size)
    show = progress if progress is not None else n * n_blocks * max(n_mcmc, 1) >= 200
    tokens_out, logprobs_out = [], []
    accepted = proposed = 0
    required = len(prompt)
    with Timer(lm) as timer:
        root = lm.start([prompt]) if reuse_cache else None
        if root is not None:
            root.logprobs()  # prefill the prompt once for all chains
        bar = tqdm(total=n * n_blocks, disable=not show, desc="power-mh", leave=False)
        for _ in range(n):
            state = root.fork() if reuse_cache else None
            y: list[int] = []
            raw: list[float] = []  # log π(y_t | x, y_<t) of the current y
            prop: list[float] = []  # log p_prop(y_t | x, y_<t) of the current y
            for k in range(n_blocks):
                if y and eos is not None and y[-1] == eos:
                    bar.update(n_blocks - k)
                    break
                end = min((k + 1) * block_size, steps)
                if not reuse_cache:
                    state = lm.start([prompt + y])
                out = decode(state, end - len(y), generator, proposal_temperature, eos)
                y, raw, prop = _extend(y, raw, prop, out, eos)
                required += out.sampled
                for _ in range(n_mcmc):
                    m = int(torch.randint(1, len(y) + 1, (1,), generator=generator))
                    if reuse_cache:
                        candidate = state.fork(length=m - 1)
                    else:
                        candidate = lm.start([prompt + y[: m - 1]])
                    new = decode(candidate, end - (m - 1), generator, proposal_temperature, eos)
                    y_new, raw_new, prop_new = _extend(y[: m - 1], raw[: m - 1], prop[: m - 1], new, eos)
                    required += new.sampled
                    log_target = sum(raw_new[m - 1 :]) - sum(raw[m - 1 :])
                    if greedy:
                        accept = log_target > 0
                    else:
                        log_ratio = alpha * log_target + sum(prop[m - 1 :]) - sum(prop_new[m - 1 :])
                        u = float(torch.rand((1,), generator=generator, dtype=torch.float64))
                        accept = math.log(u) < log_ratio if u > 0 else True
                    proposed += 1
                    if accept:
                        accepted += 1
                        y, raw, prop, state = y_new, raw_new, prop_new, candidate
                bar.update(1)
            tokens_out.append(y)
            logprobs_out.append(torch.tensor(raw, dtype=torch.float64))
        bar.close()
    info = {"acceptance_rate": accepted / proposed if proposed else float("nan"), "proposals": proposed}
    return Completions(tokens_out, logprobs_out, timer.calls, timer.tokens, required, timer.seconds, info)


def _extend(y, raw, prop, out, eos):
    """Append one decoded row (trimmed at its first EOS) to copies of ``y`` and its log-prob lists."""
    new_tokens = out.tokens[0].tolist()
    end = len(new_tokens)
    if eos is not None and eos in new_tokens:
        end = new_tokens.index(eos) + 1
    return (
        y + new_tokens[:end],
        raw + out.raw[0, :end].tolist(),
        prop + out.processed[0, :end].tolist(),
    )


def sample_power_inf(
    lm: LanguageModel,
    prompt: Sequence[int],
    n: int,
    alpha: float,
    generator: torch.Generator,
    block_size: int,
    n_mcmc: int,
    max_new_tokens: int | None = None,
    reuse_cache: bool = True,
    progress: bool | None = None,
) -> Completions:
    """Power(∞) (Algorithm 2, line 10): proposals at temperature ``1/α``, accepted iff ``π(y' | x) > π(y | x)``."""
    return sample_power_mh(
        lm, prompt, n, alpha, generator, block_size, n_mcmc, max_new_tokens, greedy=True,
        reuse_cache=reuse_cache, progress=progress,
    )
