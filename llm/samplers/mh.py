"""Block-wise Metropolis–Hastings power sampling (Algorithm 2 of the paper; Karan & Du 2026).

Target ``π̃_α(y | x) = π(y | x)^α``.  For block ``k`` the current completion is
extended to length ``L_k = min((k+1)B, max_new_tokens)`` by the proposal
``p_prop`` = base model at temperature ``1/α`` (``proposal_alpha`` overrides
the ``α`` of the proposal); then ``n_mcmc`` times: draw ``m ~ U{1..|y|}``,
resample ``y'_{m:L_k} ~ p_prop`` after the shared prefix ``y_{<m}`` and accept
with (Eq. 20, plus the Hastings factor of the restart position)

    log A = α [log π(y'_{m:} | y_{<m}) - log π(y_{m:} | y_{<m})]
            + log p_prop(y_{m:} | y_{<m}) - log p_prop(y'_{m:} | y_{<m})
            + log |y| - log |y'|,

i.e. the target ratio times the *reverse over forward* proposal ratio, where
the forward move's probability includes ``P(m | y) = 1/|y|``.  Without EOS
every state of block ``k`` has ``|y| = L_k`` and the last term is 0; with EOS
``|y|`` is the length up to the first EOS, ``m``'s range depends on the state,
and omitting ``|y|/|y'|`` makes the chain's stationary law ``∝ |y| π(y)^α``,
biased towards long completions (the public reference code has that bug).
``greedy=True`` is Power(∞): accept iff ``π(y' | x) > π(y | x)`` (strictly: log probabilities within
``exact.samplers.mh.GREEDY_TIE_LOG_TOL`` are a tie, never accepted).

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
Consequence: with ``B < T`` the chain does *not* converge to ``π_α`` as
``n_mcmc → ∞`` -- chains frozen by an early EOS keep the block-``k`` law of
their completion (limit ``F + (1 - ΣF) π_α`` with ``F`` the frozen mass); only
``B ≥ max_new_tokens`` targets ``π_α`` itself.  ``exact.mh_output_distribution``
is the exact law at every setting.
Every chain has its own generator (seeded from ``generator``), so a chain's
output is the same whether chains run one after another or all at once.

Scheduling: a chain is a coroutine of decode requests (block extension, then
one proposal after another), each request "continue this state by up to ``n``
tokens at temperature ``1/α``"; the model's ``serve`` call (:mod:`llm.model`)
answers them with the sampled tokens, their raw ``log π`` and their proposal
``log p_prop``: one chain at a time, or all chains by continuous batching, where
a chain whose proposal has finished accepts or rejects it and joins the next step
with its next proposal while the others are still decoding theirs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
from tqdm.auto import tqdm

from exact import check_alpha
from exact.samplers.mh import GREEDY_TIE_LOG_TOL

from ..model import LanguageModel
from .common import Completions, Request, Timer, resolve_max_new_tokens

__all__ = ["MHCompletions", "sample_power_mh", "sample_power_inf"]


@dataclass(frozen=True, kw_only=True)
class MHCompletions(Completions):
    """:class:`Completions` of ``n`` MH chains (one completion per chain).

    ``acceptance_rate``: accepted / proposed moves over all chains (NaN without proposals);
    ``proposals``: the number of proposed moves.
    """

    acceptance_rate: float
    proposals: int


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
) -> MHCompletions:
    """``n`` independent MH chains targeting ``π(y | x)^α`` (Algorithm 2); see the module docstring.

    Each chain draws from its own ``torch.Generator`` seeded from ``generator``, so
    its output does not depend on how chains are scheduled.  With ``batch_chains``
    all chains' requests go to the model's ``serve`` at once (on :class:`llm.HFModel`:
    continuous batching; each step decodes one token for every live proposal, and a
    chain whose proposal is done decides, draws its next ``m`` and rejoins the batch at
    once -- no padding is ever decoded).
    """
    _check(alpha, block_size, n_mcmc)
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    prompt = [int(i) for i in prompt]
    steps = resolve_max_new_tokens(lm, len(prompt), max_new_tokens)
    temperature = 1.0 / (alpha if proposal_alpha is None else proposal_alpha)
    n_blocks = -(-steps // block_size)
    show = progress if progress is not None else n * n_blocks * max(n_mcmc, 1) >= 200
    seeds = torch.randint(0, 2**62, (n,), generator=generator).tolist()
    chains = [_Chain(torch.Generator().manual_seed(int(seed))) for seed in seeds]
    with Timer(lm) as timer, tqdm(total=n * n_blocks, disable=not show, desc="power-mh", leave=False) as bar:
        root = None
        if reuse_cache:
            root = lm.start([prompt])
            root.prefill()  # the prompt once, for all chains
        tasks = [
            (c.run(lm, prompt, root, alpha, block_size, n_mcmc, steps, greedy, bar), c.generator) for c in chains
        ]
        lm.serve(tasks, temperature, batched=reuse_cache and batch_chains)
    proposed = sum(c.proposed for c in chains)
    accepted = sum(c.accepted for c in chains)
    return MHCompletions(
        [c.y for c in chains], [torch.tensor(c.raw, dtype=torch.float64) for c in chains],
        timer.calls, timer.tokens, len(prompt) + sum(c.sampled for c in chains), timer.seconds,
        acceptance_rate=accepted / proposed if proposed else float("nan"), proposals=proposed,
    )


class _Chain:
    """One MH chain: its generator, current completion with its cached raw/proposal log-probs, and KV state."""

    def __init__(self, generator: torch.Generator):
        self.generator = generator
        self.y: list[int] = []
        self.raw: list[float] = []  # log π(y_t | x, y_<t) of the current y
        self.prop: list[float] = []  # log p_prop(y_t | x, y_<t) of the current y
        self.accepted = self.proposed = self.sampled = 0

    def run(self, lm, prompt, root, alpha, block_size, n_mcmc, steps, greedy, bar):
        """The chain as a coroutine of decode :class:`Request` s (Algorithm 2, one block after another).

        ``root``: the prefilled prompt state to fork (``None``: naive, re-encode prompt + prefix per request).
        """
        eos = lm.eos_token_id
        state = root.fork() if root is not None else None
        for k in range(-(-steps // block_size)):
            if self.y and eos is not None and self.y[-1] == eos:  # finished at EOS: skips the remaining blocks
                bar.update(1)
                continue
            end = min((k + 1) * block_size, steps)
            start = state if root is not None else lm.start([prompt + self.y])
            state, out = yield Request(start, end - len(self.y))
            self.y, self.raw, self.prop = _extend(self.y, self.raw, self.prop, out, eos)
            self.sampled += out.sampled
            for _ in range(n_mcmc):
                m = int(torch.randint(1, len(self.y) + 1, (1,), generator=self.generator))
                fork = state.fork(length=m - 1) if root is not None else lm.start([prompt + self.y[: m - 1]])
                candidate, new = yield Request(fork, end - (m - 1))
                self.sampled += new.sampled
                y_new, raw_new, prop_new = _extend(self.y[: m - 1], self.raw[: m - 1], self.prop[: m - 1], new, eos)
                log_target = sum(raw_new[m - 1 :]) - sum(self.raw[m - 1 :])
                if greedy:
                    accept = log_target > GREEDY_TIE_LOG_TOL  # ties (a few ulps apart) never accepted
                else:
                    # Hastings factor |y|/|y'|: m ~ U{1..|y|} has a state-dependent range under EOS
                    log_ratio = (
                        alpha * log_target + sum(self.prop[m - 1 :]) - sum(prop_new[m - 1 :])
                        + math.log(len(self.y)) - math.log(len(y_new))
                    )
                    u = float(torch.rand((1,), generator=self.generator, dtype=torch.float64))
                    accept = math.log(u) < log_ratio if u > 0 else True
                self.proposed += 1
                if accept:
                    self.accepted += 1
                    self.y, self.raw, self.prop, state = y_new, raw_new, prop_new, candidate
            bar.update(1)


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
) -> MHCompletions:
    """Power(∞) (Algorithm 2, line 10): proposals at temperature ``1/α``, accepted iff ``π(y' | x) > π(y | x)``."""
    return sample_power_mh(
        lm, prompt, n, alpha, generator, block_size, n_mcmc, max_new_tokens, greedy=True,
        reuse_cache=reuse_cache, progress=progress, batch_chains=batch_chains,
    )
