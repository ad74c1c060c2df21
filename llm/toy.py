"""``ToyModel``: an ``exact`` model behind the :class:`llm.LanguageModel` interface.

The toy's "prompt" is a prefix ``y_{1:j}`` of its fixed-length sequences
(the empty prompt is allowed); token ids are ``0 .. V-1``.  Completions run to
the horizon ``T``, or, when the exact model has an absorbing EOS token
(``exact.eos``), stop at their first EOS like a real model's: the samplers then
see ``eos_token_id`` and never decode the padding.  Steps with a smaller vocabulary
``V_t < V`` give ``-inf`` to the ids ``≥ V_t``.  Because the truth is known,
every sampler and estimator run on a ``ToyModel`` can be compared with
``exact``.  Each row of a ``next_token_logprobs`` batch counts as one forward
token (what a KV-cached network would process).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .model import DecodeState, ForwardCounter
from .stepwise import StepwiseEngine

__all__ = ["ToyModel"]


class ToyModel(StepwiseEngine):
    """Wrap an ``exact`` model (``log_conditional``, ``next_token_logprobs``, ``vocab_sizes``, ``horizon``).

    The engine calls (``extend``, ``serve``, ``top_k``) are :class:`llm.stepwise.StepwiseEngine`'s,
    on the exact next-token table; ``serve`` runs one request at a time (no ``ragged_batch``).
    """

    def __init__(self, exact_model):
        for attribute in ("vocab_sizes", "horizon", "next_token_logprobs", "log_conditional"):
            if not hasattr(exact_model, attribute):
                raise ValueError(f"ToyModel needs an exact model with {attribute!r}, got {type(exact_model).__name__}")
        self.exact = exact_model
        self.vocab_sizes = tuple(int(v) for v in exact_model.vocab_sizes)
        self.horizon = int(exact_model.horizon)
        self.vocab_size = max(self.vocab_sizes)
        self.eos_token_id = getattr(exact_model, "eos_token_id", None)
        self.counter = ForwardCounter()

    def __repr__(self) -> str:
        return f"ToyModel({self.exact!r})"

    def _check_tokens(self, tokens: Sequence[int], offset: int = 0) -> list[int]:
        ids = [int(v) for v in tokens]
        if offset + len(ids) > self.horizon:
            raise ValueError(f"{offset + len(ids)} tokens exceed the toy horizon T = {self.horizon}")
        for position, token in enumerate(ids, start=offset):
            if not 0 <= token < self.vocab_sizes[position]:
                raise ValueError(f"token id {token} at position {position} is out of range [0, {self.vocab_sizes[position]})")
        return ids

    def _padded(self, logprobs: np.ndarray) -> torch.Tensor:
        out = np.full((logprobs.shape[0], self.vocab_size), -np.inf)
        out[:, : logprobs.shape[1]] = logprobs
        return torch.from_numpy(out)

    def _next(self, contexts: np.ndarray) -> torch.Tensor:
        self.counter.add(contexts.shape[0])
        return self._padded(np.asarray(self.exact.next_token_logprobs(contexts), dtype=np.float64))

    def next_token_logprobs(self, contexts: Sequence[Sequence[int]]) -> torch.Tensor:
        """Raw ``log π(· | context)`` for contexts of any lengths ``< T``: ``(n, V)`` float64."""
        rows = [self._check_tokens(c) for c in contexts]
        out = torch.empty((len(rows), self.vocab_size), dtype=torch.float64)
        for length in sorted({len(r) for r in rows}):
            if length >= self.horizon:
                raise ValueError(f"a context of length {length} has no next token (T = {self.horizon})")
            index = [i for i, r in enumerate(rows) if len(r) == length]
            out[index] = self._next(np.array([rows[i] for i in index], dtype=np.int64).reshape(len(index), length))
        return out

    def score(self, prompts: Sequence[Sequence[int]], completions: Sequence[Sequence[int]]) -> list[torch.Tensor]:
        """Per-token ``log π(y_t | x, y_<t)`` of each completion given its prompt (prefix)."""
        if len(prompts) != len(completions):
            raise ValueError(f"{len(prompts)} prompts but {len(completions)} completions")
        scores = []
        for prompt, completion in zip(prompts, completions):
            prefix = self._check_tokens(prompt)
            tokens = self._check_tokens(completion, offset=len(prefix))
            values = []
            for t, token in enumerate(tokens):
                self.counter.add(1)
                values.append(float(self.exact.log_conditional(prefix + tokens[:t])[token]))
            scores.append(torch.tensor(values, dtype=torch.float64))
        return scores

    def start(self, prompts: Sequence[Sequence[int]]) -> "ToyState":
        """A decode state for prompts (prefixes) of one common length."""
        rows = [self._check_tokens(p) for p in prompts]
        if not rows or len({len(r) for r in rows}) != 1:
            raise ValueError("ToyModel.start needs at least one prompt, all of the same length")
        return ToyState(self, np.array(rows, dtype=np.int64).reshape(len(rows), len(rows[0])), len(rows[0]))


class ToyState(DecodeState):
    """Decode state of a :class:`ToyModel`: the token array; the next-token table is memoised."""

    def __init__(self, model: ToyModel, tokens: np.ndarray, prompt_length: int):
        self.model = model
        self.tokens = tokens  # (n, P + length)
        self.prompt_length = prompt_length
        self._cached: torch.Tensor | None = None

    @property
    def batch_size(self) -> int:
        return self.tokens.shape[0]

    @property
    def length(self) -> int:
        return self.tokens.shape[1] - self.prompt_length

    def logprobs(self) -> torch.Tensor:
        if self._cached is None:
            if self.tokens.shape[1] >= self.model.horizon:
                raise ValueError(f"the toy sequences are complete (T = {self.model.horizon}); no next token")
            self._cached = self.model._next(self.tokens)
        return self._cached

    def append(self, tokens: torch.Tensor) -> None:
        new = torch.as_tensor(tokens).reshape(self.batch_size, -1).numpy().astype(np.int64)
        if self.tokens.shape[1] + new.shape[1] > self.model.horizon:
            raise ValueError(f"appending {new.shape[1]} tokens exceeds the toy horizon T = {self.model.horizon}")
        self.tokens = np.concatenate([self.tokens, new], axis=1)
        self._cached = None

    def truncate(self, length: int) -> None:
        if not 0 <= length <= self.length:
            raise ValueError(f"cannot truncate a state of length {self.length} to {length}")
        if length < self.length:
            self.tokens = self.tokens[:, : self.prompt_length + length]
            self._cached = None

    def fork(self, rows=None, length: int | None = None) -> "ToyState":
        index = np.arange(self.batch_size) if rows is None else np.asarray(torch.as_tensor(rows).cpu().numpy(), dtype=np.int64)
        new = ToyState(self.model, self.tokens[index].copy(), self.prompt_length)
        if self._cached is not None:
            new._cached = self._cached[torch.from_numpy(index)]
        if length is not None:
            new.truncate(length)
        return new

    def completion(self) -> torch.Tensor:
        return torch.from_numpy(self.tokens[:, self.prompt_length :].copy())
