"""What every sampler shares: the result type, the decode loop, EOS handling.

EOS convention (real models).  A row stops at the first EOS it samples (the
EOS token is part of the completion and its log-prob counts) or after
``max_new_tokens``.  Rows of one batch stay aligned: after a row has stopped
it is fed the EOS id as padding with log-prob 0 and is trimmed on return, so
completions may have unequal lengths.  Every sequence-level quantity (the
target ``π(y | x)^α``, proposal densities, self-reward sums) is a sum over the
completion's own tokens up to and including its EOS; the length-normalised
self-reward divides by that length.  An ``exact`` toy with an absorbing EOS
(``exact.eos``) behaves the same through ``llm.ToyModel``; its dense table holds
each completion padded with EOS, which is how every sampler's exact law is
compared with these variable-length outputs (``exact.pad_completions``).
Toy models without EOS have a fixed length ``T``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Generator, Sequence

import torch

from ..model import DecodeState, LanguageModel, sample_from_logprobs, temper

__all__ = [
    "Completions", "Decoded", "Request", "Timer", "decode", "resolve_max_new_tokens", "rollout_suffix_logprobs",
    "run_requests", "top_candidates", "trim",
]


@dataclass(frozen=True)
class Completions:
    """Sampled completions and the work it took.

    ``tokens[i]``: completion token ids of sample ``i`` (EOS included when reached);
    ``logprobs[i]``: raw base ``log π(y_t | x, y_<t)`` of each of those tokens (float64);
    ``model_calls`` / ``forward_tokens``: forward passes and tokens pushed through the model;
    ``required_tokens``: prompt tokens plus every token the algorithm sampled (what it
    must score at the least); ``seconds``: wall-clock; ``info``: sampler-specific
    diagnostics (acceptance rate, log evidence, ...).
    """

    tokens: list[list[int]]
    logprobs: list[torch.Tensor]
    model_calls: int = 0
    forward_tokens: int = 0
    required_tokens: int = 0
    seconds: float = 0.0
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def log_likelihood(self) -> torch.Tensor:
        """``Σ_t log π(y_t | x, y_<t)`` per sample (the self-reward sum), float64 ``(n,)``."""
        return torch.tensor([float(lp.sum()) for lp in self.logprobs], dtype=torch.float64)

    @property
    def mean_logprob(self) -> torch.Tensor:
        """Length-normalised self-reward ``(1/|y|) Σ_t log π(y_t | x, y_<t)`` (Sec. 6.1, B.1); NaN for empty."""
        return torch.tensor([float(lp.mean()) if len(lp) else float("nan") for lp in self.logprobs], dtype=torch.float64)

    @property
    def efficiency(self) -> float:
        """Forward-token efficiency ``required_tokens / forward_tokens``."""
        return self.required_tokens / self.forward_tokens if self.forward_tokens else float("nan")


class Timer:
    """Measures wall-clock and the model's counter difference over a ``with`` block."""

    def __init__(self, lm: LanguageModel):
        self.lm = lm

    def __enter__(self) -> "Timer":
        self.start_calls, self.start_tokens = self.lm.counter.snapshot()
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.start
        calls, tokens = self.lm.counter.snapshot()
        self.calls, self.tokens = calls - self.start_calls, tokens - self.start_tokens


@dataclass
class Decoded:
    """Output of :func:`decode`: ``(n, k)`` tokens, raw and processed log-probs, stop flags."""

    tokens: torch.Tensor
    raw: torch.Tensor
    processed: torch.Tensor
    finished: torch.Tensor
    sampled: int  # tokens actually sampled (stopped rows excluded)


def resolve_max_new_tokens(lm: LanguageModel, prompt_length: int, max_new_tokens: int | None) -> int:
    """``max_new_tokens``, or the rest of the toy horizon ``T - len(prompt)`` when ``None``."""
    if lm.horizon is not None:
        remaining = lm.horizon - prompt_length
        if max_new_tokens is None or max_new_tokens > remaining:
            max_new_tokens = remaining
    if max_new_tokens is None:
        raise ValueError("max_new_tokens is required for a model without a fixed horizon")
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    return int(max_new_tokens)


def sample_rows(logprobs: torch.Tensor, generators: Sequence[torch.Generator], rows: Sequence[int]) -> torch.Tensor:
    """One token for each row in ``rows``, row ``i`` drawn with ``generators[i]`` (order-independent draws)."""
    out = torch.zeros(logprobs.shape[0], dtype=torch.long)
    for i in rows:
        out[i] = sample_from_logprobs(logprobs[i : i + 1], generators[i])[0]
    return out


def decode(
    state: DecodeState,
    n_tokens: int,
    generator: torch.Generator | Sequence[torch.Generator],
    temperature: float = 1.0,
    eos_token_id: int | None = None,
    finished: torch.Tensor | None = None,
    quotas: Sequence[int] | None = None,
) -> Decoded:
    """Sample up to ``n_tokens`` tokens per row from the tempered model, appending them to ``state``.

    Token ``y_t`` is drawn from ``p_τ(· | ·) ∝ π(· | ·)^{1/τ}`` (``temper``);
    ``raw`` holds ``log π(y_t | ·)`` and ``processed`` ``log p_τ(y_t | ·)``,
    both 0 for stopped rows (which are fed EOS, or 0 without EOS, as padding).
    ``generator``: one for the batch, or one per row (a row's draws then depend
    only on its own generator: batching rows together or decoding them one by
    one gives the same tokens).  ``quotas[i]``: row ``i`` stops after that many
    tokens.  Stops early when every row has stopped.
    """
    n = state.batch_size
    done = torch.zeros(n, dtype=torch.bool) if finished is None else finished.clone()
    per_row = not isinstance(generator, torch.Generator)
    if quotas is not None:
        quotas = torch.as_tensor(list(quotas), dtype=torch.long)
        n_tokens = int(quotas.max()) if len(quotas) else 0
    pad = eos_token_id if eos_token_id is not None else 0
    tokens, raw, processed = [], [], []
    sampled = 0
    for step in range(n_tokens):
        if quotas is not None:
            done = done | (quotas <= step)
        if bool(done.all()):
            break
        logp = state.logprobs().to(torch.float64)
        proc = temper(logp, temperature)
        if per_row:
            token = sample_rows(proc, generator, torch.nonzero(~done).flatten().tolist())
        else:
            token = sample_from_logprobs(proc, generator)
        raw_t = logp.gather(-1, token[:, None]).squeeze(-1)
        proc_t = proc.gather(-1, token[:, None]).squeeze(-1)
        sampled += int((~done).sum())
        token = torch.where(done, torch.full_like(token, pad), token)
        raw_t = torch.where(done, torch.zeros_like(raw_t), raw_t)
        proc_t = torch.where(done, torch.zeros_like(proc_t), proc_t)
        state.append(token)
        tokens.append(token)
        raw.append(raw_t)
        processed.append(proc_t)
        if eos_token_id is not None:
            done = done | (token == eos_token_id)
    if not tokens:
        return _empty(n, done)
    return Decoded(torch.stack(tokens, 1), torch.stack(raw, 1), torch.stack(processed, 1), done, sampled)


def top_candidates(logprobs: torch.Tensor, k: int) -> torch.Tensor:
    """The ``k`` most probable tokens of a ``(V,)`` log-prob vector (ties by token id; probability 0 never kept)."""
    from exact._numerics import top_candidates as candidates  # the one top-K rule (numpy)

    return torch.from_numpy(candidates(logprobs.detach().to("cpu", torch.float64).numpy(), k))


def rollout_suffix_logprobs(
    rollouts: DecodeState, candidates: torch.Tensor, n_rollouts: int, horizon: int,
    generator: torch.Generator, eos_token_id: int | None,
) -> tuple[torch.Tensor, int]:
    """``log π(z_k^{(r)} | ·, a_k)`` for ``n_rollouts`` base-model rollouts of ``horizon`` tokens after each candidate.

    ``rollouts`` holds ``K · M`` copies of the prefix; row ``k·M + r`` gets candidate ``k`` and
    its ``r``-th rollout (a row whose candidate is EOS decodes nothing).  Returns the ``(K, M)``
    suffix log-probs (Theorem 3.1's ``ζ`` averages their ``(α-1)``-th powers) and the tokens sampled.
    """
    repeated = candidates.repeat_interleave(n_rollouts)
    rollouts.append(repeated)
    first = repeated == eos_token_id if eos_token_id is not None else None
    out = decode(rollouts, horizon, generator, 1.0, eos_token_id, finished=first)
    return out.raw.sum(1).view(len(candidates), n_rollouts), out.sampled


@dataclass
class Request:
    """What a sampler coroutine asks for: up to ``quota`` tokens decoded after the batch-1 ``state``.

    The coroutine receives ``(state, Decoded)``: the state with the new tokens
    appended (a row stops at EOS) and the decoded row (``(1, k)`` tensors).
    """

    state: DecodeState
    quota: int


#: A sampler coroutine (yields requests, receives their results) and the generator its tokens are drawn with.
Task = tuple[Generator[Request, tuple[DecodeState, Decoded], None], torch.Generator]


def _empty(n: int = 1, finished: torch.Tensor | None = None) -> Decoded:
    """``n`` rows with no tokens decoded."""
    empty = torch.empty((n, 0))
    finished = torch.zeros(n, dtype=torch.bool) if finished is None else finished
    return Decoded(empty.long(), empty.double(), empty.double(), finished, 0)


def _send(coroutine, reply) -> Request | None:
    """Advance ``coroutine`` to its next request with a non-zero quota (``None`` when it is finished)."""
    try:
        request = next(coroutine) if reply is None else coroutine.send(reply)
        while request.quota <= 0:
            request = coroutine.send((request.state, _empty()))
        return request
    except StopIteration:
        return None


def run_requests(lm: LanguageModel, tasks: Sequence[Task], temperature: float, eos_token_id: int | None, batched: bool = True) -> None:
    """Serve every task's decode requests, each row's tokens drawn from its task's own generator.

    One task after another (``decode`` per request), or -- with ``batched`` and a
    model offering ``ragged_batch()`` (:class:`llm.HFModel`) -- all tasks at once by
    continuous batching: every step pushes one pending token per live request, a
    finished request's slot is refilled by its task's next request at once, and
    nothing is decoded for a request that has stopped.  Draws depend only on each
    task's own generator, so both schedules produce the same tokens.
    """
    if not (batched and hasattr(lm, "ragged_batch")):
        for coroutine, generator in tasks:
            request = _send(coroutine, None)
            while request is not None:
                out = decode(request.state, request.quota, [generator], temperature, eos_token_id)
                request = _send(coroutine, (request.state, out))
        return
    batch = lm.ragged_batch()
    rows: list[_Row] = []
    for coroutine, generator in tasks:
        request = _send(coroutine, None)
        if request is not None:
            batch.put(None, request.state)
            rows.append(_Row(coroutine, generator, request.quota))
    while rows:
        logp = batch.logprobs()
        proc = temper(logp, temperature)
        token = sample_rows(proc, [row.generator for row in rows], range(len(rows)))
        raw_t = logp.gather(-1, token[:, None]).squeeze(-1)
        proc_t = proc.gather(-1, token[:, None]).squeeze(-1)
        batch.append(token)
        finished = []
        for i, row in enumerate(rows):
            row.add(int(token[i]), float(raw_t[i]), float(proc_t[i]))
            if len(row.tokens) < row.quota and not (eos_token_id is not None and row.tokens[-1] == eos_token_id):
                continue
            request = _send(row.coroutine, (batch.take(i), row.decoded(eos_token_id)))
            if request is None:
                finished.append(i)
            else:
                batch.put(i, request.state)
                rows[i] = _Row(row.coroutine, row.generator, request.quota)
        batch.drop(finished)
        rows = [row for i, row in enumerate(rows) if i not in finished]


class _Row:
    """One live request of :func:`run_requests`: its task and the tokens decoded so far."""

    def __init__(self, coroutine, generator: torch.Generator, quota: int):
        self.coroutine, self.generator, self.quota = coroutine, generator, quota
        self.tokens: list[int] = []
        self.raw: list[float] = []
        self.processed: list[float] = []

    def add(self, token: int, raw: float, processed: float) -> None:
        self.tokens.append(token)
        self.raw.append(raw)
        self.processed.append(processed)

    def decoded(self, eos_token_id: int | None) -> Decoded:
        stopped = eos_token_id is not None and self.tokens[-1] == eos_token_id
        return Decoded(
            torch.tensor([self.tokens], dtype=torch.long),
            torch.tensor([self.raw], dtype=torch.float64),
            torch.tensor([self.processed], dtype=torch.float64),
            torch.tensor([stopped]),
            len(self.tokens),
        )


def trim(tokens: torch.Tensor, logprobs: torch.Tensor, eos_token_id: int | None) -> tuple[list[list[int]], list[torch.Tensor]]:
    """Split ``(n, k)`` rows into per-row lists ending at the first EOS (included)."""
    out_tokens, out_logprobs = [], []
    for row_tokens, row_logp in zip(tokens.tolist(), logprobs):
        end = len(row_tokens)
        if eos_token_id is not None and eos_token_id in row_tokens:
            end = row_tokens.index(eos_token_id) + 1
        out_tokens.append(row_tokens[:end])
        out_logprobs.append(row_logp[:end].clone().to(torch.float64))
    return out_tokens, out_logprobs


