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
Every chain has its own generator (seeded from ``generator``), so a chain's
output is the same whether chains run one after another or in lockstep as one
batch (each proposal with its own ``m``, merged into one left-padded batch).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from tqdm.auto import tqdm

from exact import check_alpha

from ..model import LanguageModel
from .common import Completions, Decoded, Timer, decode, resolve_max_new_tokens

__all__ = ["sample_power_mh", "sample_power_inf"]


def _check(alpha: float, block_size: int, n_mcmc: int) -> None:
    check_alpha(alpha)
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
    batch_chains: bool = True,
) -> Completions:
    """``n`` independent MH chains targeting ``π(y | x)^α`` (Algorithm 2); see the module docstring.

    Each chain draws from its own ``torch.Generator`` seeded from ``generator``, so
    its output does not depend on how chains are batched.  With ``batch_chains``
    (and a model whose states can be merged, i.e. :class:`llm.HFModel`), the chains
    advance in lockstep and every round of proposals -- each from its own ``m`` --
    is decoded as one left-padded batch from the chains' forked caches.
    ``info``: ``acceptance_rate`` (accepted / proposed moves), ``proposals``.
    """
    _check(alpha, block_size, n_mcmc)
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    prompt = [int(i) for i in prompt]
    steps = resolve_max_new_tokens(lm, len(prompt), max_new_tokens)
    temperature = 1.0 / (alpha if proposal_alpha is None else proposal_alpha)
    eos = lm.eos_token_id
    n_blocks = -(-steps // block_size)
    show = progress if progress is not None else n * n_blocks * max(n_mcmc, 1) >= 200
    seeds = torch.randint(0, 2**62, (n,), generator=generator).tolist()
    chains = [_Chain(torch.Generator().manual_seed(int(seed))) for seed in seeds]
    accepted = proposed = 0
    required = len(prompt)
    with Timer(lm) as timer:
        root = None
        if reuse_cache:
            root = lm.start([prompt])
            root.logprobs()  # prefill the prompt once for all chains
        for chain in chains:
            chain.state = root.fork() if reuse_cache else None
        bar = tqdm(total=n * n_blocks, disable=not show, desc="power-mh", leave=False)
        for k in range(n_blocks):
            active = [c for c in chains if not (c.y and eos is not None and c.y[-1] == eos)]
            bar.update(len(chains) - len(active))  # finished chains (EOS) skip the block
            if not active:
                break
            end = min((k + 1) * block_size, steps)
            starts = [c.state if reuse_cache else lm.start([prompt + c.y]) for c in active]
            for c, (state, out) in zip(active, _decode_all(lm, starts, [end - len(c.y) for c in active], active, temperature, eos, reuse_cache and batch_chains)):
                c.y, c.raw, c.prop = _extend(c.y, c.raw, c.prop, out, eos)
                c.state = state
                required += out.sampled
            for _ in range(n_mcmc):
                ms = [int(torch.randint(1, len(c.y) + 1, (1,), generator=c.generator)) for c in active]
                forks = [c.state.fork(length=m - 1) if reuse_cache else lm.start([prompt + c.y[: m - 1]]) for c, m in zip(active, ms)]
                results = _decode_all(lm, forks, [end - (m - 1) for m in ms], active, temperature, eos, reuse_cache and batch_chains)
                for c, m, (candidate, new) in zip(active, ms, results):
                    y_new, raw_new, prop_new = _extend(c.y[: m - 1], c.raw[: m - 1], c.prop[: m - 1], new, eos)
                    required += new.sampled
                    log_target = sum(raw_new[m - 1 :]) - sum(c.raw[m - 1 :])
                    if greedy:
                        accept = log_target > 0
                    else:
                        log_ratio = alpha * log_target + sum(c.prop[m - 1 :]) - sum(prop_new[m - 1 :])
                        u = float(torch.rand((1,), generator=c.generator, dtype=torch.float64))
                        accept = math.log(u) < log_ratio if u > 0 else True
                    proposed += 1
                    if accept:
                        accepted += 1
                        c.y, c.raw, c.prop, c.state = y_new, raw_new, prop_new, candidate
            bar.update(len(active))
        bar.close()
    info = {"acceptance_rate": accepted / proposed if proposed else float("nan"), "proposals": proposed}
    return Completions(
        [c.y for c in chains], [torch.tensor(c.raw, dtype=torch.float64) for c in chains],
        timer.calls, timer.tokens, required, timer.seconds, info,
    )


class _Chain:
    """One MH chain: its generator, current completion, its cached raw/proposal log-probs and KV state."""

    def __init__(self, generator: torch.Generator):
        self.generator = generator
        self.y: list[int] = []
        self.raw: list[float] = []  # log π(y_t | x, y_<t) of the current y
        self.prop: list[float] = []  # log p_prop(y_t | x, y_<t) of the current y
        self.state = None


def _decode_all(lm, states, quotas, chains, temperature, eos, batched):
    """Decode ``quotas[i]`` proposal tokens from ``states[i]`` with chain ``i``'s generator.

    Batched (HF states): one left-padded batch, split back into per-chain states;
    otherwise one chain at a time.  Both give the same tokens (per-chain generators).
    Returns ``[(state_i, Decoded row i)]``.
    """
    from ..hf import HFState, merge_states, split_state

    generators = [c.generator for c in chains]
    if batched and len(states) > 1 and all(isinstance(s, HFState) for s in states):
        prompt_widths = [s.prompt_width for s in states]
        merged, pads = merge_states(states)
        out = decode(merged, max(quotas), generators, temperature, eos, quotas=quotas)
        rows = []
        for i in range(len(states)):
            row_tokens = out.tokens[i, : quotas[i]].tolist()
            kept = len(row_tokens)
            if eos is not None and eos in row_tokens:
                kept = row_tokens.index(eos) + 1
            rows.append(Decoded(out.tokens[i : i + 1, :kept], out.raw[i : i + 1, :kept], out.processed[i : i + 1, :kept], out.finished[i : i + 1], kept))
        new_states = split_state(merged, pads, [r.tokens.shape[1] for r in rows], prompt_widths)
        return list(zip(new_states, rows))
    return [(s, decode(s, q, [g], temperature, eos)) for s, q, g in zip(states, quotas, generators)]


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
    batch_chains: bool = True,
) -> Completions:
    """Power(∞) (Algorithm 2, line 10): proposals at temperature ``1/α``, accepted iff ``π(y' | x) > π(y | x)``."""
    return sample_power_mh(
        lm, prompt, n, alpha, generator, block_size, n_mcmc, max_new_tokens, greedy=True,
        reuse_cache=reuse_cache, progress=progress, batch_chains=batch_chains,
    )
