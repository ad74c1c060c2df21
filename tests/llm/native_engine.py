"""A backend without a full-vocabulary row: the engine calls of ``llm.model`` implemented natively on an exact toy.

What a serving engine such as vLLM offers the samplers is ``extend`` / ``serve`` / ``top_k`` /
``score``, not ``log π(· | context)`` for the whole vocabulary.  :class:`NativeToy` is that
kind of backend, written independently of ``llm.stepwise``: its ``next_token_logprobs`` and
its states' ``logprobs()`` raise ``AssertionError``, so a sampler (or estimator) that still
reads a full row fails loudly.  Tokens are drawn with ``torch.multinomial`` (not
``llm.sample_from_logprobs``) from the exact conditionals ``exact_model.log_conditional``,
so seeded draws differ from :class:`llm.ToyModel`'s while every sampler's output law is the
same; ``serve`` interleaves the tasks' requests round by round, as an engine scheduler would.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

import llm


class FullRowRead(AssertionError):
    """A sampler asked a native backend for a full-vocabulary next-token row."""


class RowsState(llm.DecodeState):
    """Token ids only (prompt + completion per row), like a vLLM state; no cache, no full rows."""

    def __init__(self, rows: list[list[int]], prompt_length: int):
        self.rows = rows
        self.prompt_length = prompt_length

    @property
    def batch_size(self) -> int:
        return len(self.rows)

    @property
    def length(self) -> int:
        return len(self.rows[0]) - self.prompt_length if self.rows else 0

    def logprobs(self) -> torch.Tensor:
        raise FullRowRead("DecodeState.logprobs() read on a backend that has no full-vocabulary row")

    def prefill(self) -> None:
        pass  # nothing to cache

    def append(self, tokens) -> None:
        new = torch.as_tensor(tokens, dtype=torch.long).reshape(self.batch_size, -1).tolist()
        for row, extra in zip(self.rows, new):
            row.extend(extra)

    def truncate(self, length: int) -> None:
        if not 0 <= length <= self.length:
            raise ValueError(f"cannot truncate a state of length {self.length} to {length}")
        self.rows = [row[: self.prompt_length + length] for row in self.rows]

    def fork(self, rows=None, length: int | None = None) -> "RowsState":
        index = range(self.batch_size) if rows is None else torch.as_tensor(rows, dtype=torch.long).reshape(-1).tolist()
        new = RowsState([list(self.rows[i]) for i in index], self.prompt_length)
        if length is not None:
            new.truncate(length)
        return new

    def completion(self) -> torch.Tensor:
        return torch.tensor([row[self.prompt_length :] for row in self.rows], dtype=torch.long).reshape(self.batch_size, -1)


class NativeToy:
    """An ``exact`` model behind the engine calls only (module docstring)."""

    def __init__(self, exact_model):
        self.exact = exact_model
        self.vocab_size = max(int(v) for v in exact_model.vocab_sizes)
        self.eos_token_id = getattr(exact_model, "eos_token_id", None)
        self.horizon = int(exact_model.horizon)
        self.counter = llm.ForwardCounter()
        self._scorer = llm.ToyModel(exact_model)

    def next_token_logprobs(self, contexts):
        raise FullRowRead("next_token_logprobs called on a backend that has no full-vocabulary row")

    def score(self, prompts, completions):
        return self._scorer.score(prompts, completions)

    def start(self, prompts: Sequence[Sequence[int]]) -> RowsState:
        rows = [[int(i) for i in p] for p in prompts]
        return RowsState(rows, len(rows[0]))

    def _conditional(self, context: list[int]) -> torch.Tensor:
        self.counter.add(1)
        values = np.full(self.vocab_size, -np.inf)
        row = np.asarray(self.exact.log_conditional(context), dtype=np.float64)
        values[: len(row)] = row
        return torch.from_numpy(values)

    def extend(self, state, max_tokens, generator, temperature=1.0, finished=None, quotas=None) -> llm.Decoded:
        n = state.batch_size
        generators = [generator] * n if isinstance(generator, torch.Generator) else list(generator)
        done = torch.zeros(n, dtype=torch.bool) if finished is None else finished.clone()
        limit = [max_tokens] * n if quotas is None else [int(q) for q in quotas]
        steps = max(limit, default=0)
        pad = self.eos_token_id if self.eos_token_id is not None else 0
        tokens = torch.full((n, steps), pad, dtype=torch.long)
        raw = torch.zeros((n, steps), dtype=torch.float64)
        processed = torch.zeros((n, steps), dtype=torch.float64)
        sampled = used = 0
        for t in range(steps):
            live = [i for i in range(n) if not done[i] and t < limit[i]]
            if not live:
                break
            used = t + 1
            for i in live:
                logp = self._conditional(state.rows[i])
                q = torch.log_softmax(logp / temperature, 0)
                token = int(torch.multinomial(torch.exp(q), 1, generator=generators[i])[0])
                tokens[i, t], raw[i, t], processed[i, t] = token, logp[token], q[token]
                sampled += 1
            state.append(tokens[:, t])
            for i in live:
                if self.eos_token_id is not None and int(tokens[i, t]) == self.eos_token_id:
                    done[i] = True
        return llm.Decoded(tokens[:, :used], raw[:, :used], processed[:, :used], done, sampled)

    def serve(self, tasks, temperature, batched=True) -> None:
        """Round by round: every live task's pending request is extended, then each gets its reply."""
        live = []
        for coroutine, generator in tasks:
            request = _next(coroutine, None)
            if request is not None:
                live.append((coroutine, generator, request))
        while live:
            following = []
            for coroutine, generator, request in live:
                out = self.extend(request.state, request.quota, [generator], temperature)
                request = _next(coroutine, (request.state, out))
                if request is not None:
                    following.append((coroutine, generator, request))
            live = following

    def top_k(self, state, k):
        out = []
        for row in state.rows:
            logp = self._conditional(row)
            values = logp.numpy()
            order = [int(i) for i in np.argsort(-values, kind="stable") if np.isfinite(values[i])][:k]
            tokens = torch.tensor(order, dtype=torch.long)
            out.append(llm.TopTokens(tokens, logp[tokens]))
        return out


def _next(coroutine, reply):
    try:
        request = next(coroutine) if reply is None else coroutine.send(reply)
        while request.quota <= 0:
            request = coroutine.send((request.state, llm.Decoded.empty()))
        return request
    except StopIteration:
        return None
