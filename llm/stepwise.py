"""The engine calls of :mod:`llm.model`, implemented step by step on a decode state's full next-token row.

:class:`StepwiseEngine` is the one generic implementation of ``extend``, ``serve`` and
``top_k`` for any model whose :class:`llm.DecodeState` offers ``logprobs()`` (the raw row
``log π(· | context)``): :class:`llm.HFModel` and :class:`llm.ToyModel` inherit it, and a
backend with a native sampler (:class:`llm.VLLMModel`) implements them itself.  Each step pushes one token per live
row, tempers the row (:func:`llm.temper`) and draws the token by inverse CDF with one
uniform per row (:func:`llm.sample_from_logprobs`) from the caller's generator -- the same
draws, in the same order, as the samplers made before the interface existed, so seeded
runs reproduce.

``serve`` decodes all tasks at once by continuous batching when the model offers
``ragged_batch()`` (:class:`llm.hf.RaggedBatch`): every step pushes one pending token per
live request, a finished request's slot is refilled by its task's next request at once,
and nothing is decoded for a request that has stopped.  Otherwise (or with
``batched=False``) one request after another.  Draws depend only on each task's own
generator, so both schedules produce the same tokens.
"""

from __future__ import annotations

from typing import Sequence

import torch

from exact._validate import check_count

from .model import DecodeState, Decoded, Request, Task, TopTokens, sample_from_logprobs, temper
from .samplers.common import top_candidates

__all__ = ["StepwiseEngine", "decode", "next_request", "run_requests"]


class StepwiseEngine:
    """Mixin: :meth:`extend`, :meth:`serve` and :meth:`top_k` from ``DecodeState.logprobs()``.

    The class using it provides ``eos_token_id`` and ``start``; ``ragged_batch()`` optionally.
    """

    eos_token_id: int | None

    def extend(
        self,
        state: DecodeState,
        max_tokens: int,
        generator: torch.Generator | Sequence[torch.Generator],
        temperature: float = 1.0,
        finished: torch.Tensor | None = None,
        quotas: Sequence[int] | None = None,
    ) -> Decoded:
        """:func:`decode` with this model's EOS (contract: :meth:`llm.LanguageModel.extend`)."""
        return decode(state, max_tokens, generator, temperature, self.eos_token_id, finished, quotas)

    def serve(self, tasks: Sequence[Task], temperature: float, batched: bool = True) -> None:
        """:func:`run_requests` with this model's EOS (contract: :meth:`llm.LanguageModel.serve`)."""
        run_requests(self, tasks, temperature, self.eos_token_id, batched)

    def top_k(self, state: DecodeState, k: int) -> list[TopTokens]:
        """The ``k`` most probable next tokens of every row (:func:`top_candidates`) and their raw log-probs."""
        k = check_count(k, "k")
        rows = state.logprobs().to(torch.float64)
        out = []
        for row in rows:
            tokens = top_candidates(row, k)
            out.append(TopTokens(tokens, row[tokens]))
        return out


def _sample_rows(logprobs: torch.Tensor, generators: Sequence[torch.Generator], rows: Sequence[int]) -> torch.Tensor:
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
    ``generator``: one for the batch (one uniform per row and step, stopped rows
    included), or one per row (a row's draws then depend only on its own generator:
    batching rows together or decoding them one by one gives the same tokens).
    ``quotas[i]``: row ``i`` stops after that many tokens.  Stops early when every row
    has stopped.
    """
    n = state.batch_size
    done = torch.zeros(n, dtype=torch.bool) if finished is None else finished.clone()
    per_row = not isinstance(generator, torch.Generator)
    if per_row and len(generator) != n:
        raise ValueError(f"{len(generator)} generators for {n} rows")
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
            token = _sample_rows(proc, generator, torch.nonzero(~done).flatten().tolist())
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
        return Decoded.empty(n, done)
    return Decoded(torch.stack(tokens, 1), torch.stack(raw, 1), torch.stack(processed, 1), done, sampled)


def next_request(coroutine, reply) -> Request | None:
    """Advance a sampler coroutine (``reply``: ``None`` to start it, else ``(state, Decoded)``) to its next
    request with a non-zero quota, answering zero quotas with nothing decoded; ``None`` when it is finished."""
    try:
        request = next(coroutine) if reply is None else coroutine.send(reply)
        while request.quota <= 0:
            request = coroutine.send((request.state, Decoded.empty()))
        return request
    except StopIteration:
        return None


def run_requests(lm, tasks: Sequence[Task], temperature: float, eos_token_id: int | None, batched: bool = True) -> None:
    """Serve every task's decode requests, each row's tokens drawn from its task's own generator (module docstring)."""
    if not (batched and hasattr(lm, "ragged_batch")):
        for coroutine, generator in tasks:
            request = next_request(coroutine, None)
            while request is not None:
                out = decode(request.state, request.quota, [generator], temperature, eos_token_id)
                request = next_request(coroutine, (request.state, out))
        return
    batch = lm.ragged_batch()
    rows: list[_Row] = []
    for coroutine, generator in tasks:
        request = next_request(coroutine, None)
        if request is not None:
            batch.put(None, request.state)
            rows.append(_Row(coroutine, generator, request.quota))
    while rows:
        logp = batch.logprobs()
        proc = temper(logp, temperature)
        token = _sample_rows(proc, [row.generator for row in rows], range(len(rows)))
        raw_t = logp.gather(-1, token[:, None]).squeeze(-1)
        proc_t = proc.gather(-1, token[:, None]).squeeze(-1)
        batch.append(token)
        finished = []
        for i, row in enumerate(rows):
            row.add(int(token[i]), float(raw_t[i]), float(proc_t[i]))
            if len(row.tokens) < row.quota and not (eos_token_id is not None and row.tokens[-1] == eos_token_id):
                continue
            request = next_request(row.coroutine, (batch.take(i), row.decoded(eos_token_id)))
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
