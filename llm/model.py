"""The engine interface: everything a sampler or estimator of ``llm`` asks of a language model.

Stated here once; :class:`llm.HFModel`, :class:`llm.ToyModel` and :class:`llm.VLLMModel`
implement it.  The samplers (arXiv 2605.04542: standard, temperature, MH / Power(∞),
Power-SMC, self-reward Best-of-N; arXiv 2601.21590: the scalable sampler) are written
against the *engine calls* below, at the level every inference engine works at --
"continue these rows by up to ``n`` tokens at temperature ``τ``, with this randomness,
and report the log-prob of each sampled token" -- never against a full-vocabulary
next-token row, which costs a vLLM engine ~0.3 s per row at ``V = 49 152``.

**Engine calls** (:class:`LanguageModel`):

* ``extend(state, max_tokens, generator, temperature=1, finished=None, quotas=None)`` --
  continue every row of a :class:`DecodeState` by up to ``max_tokens`` tokens (row ``i``
  by at most ``quotas[i]``), token ``y_t`` drawn from the tempered conditional
  ``q_τ(· | ·) = π(· | ·)^{1/τ} / Σ_v π(v | ·)^{1/τ}`` (no top-k, no top-p); a row stops
  after its first EOS (kept) or its quota, and rows marked in ``finished`` decode nothing.
  The new tokens are appended to ``state``.  Returns :class:`Decoded`: ``tokens``, ``raw``
  ``= log π(y_t | ·)`` and ``processed`` ``= log q_τ(y_t | ·)`` of each sampled token
  (``processed == raw`` at ``τ = 1``; MH and Power-SMC need both, e.g. the SMC increment
  ``α·raw - processed`` is ``log Σ_v π(v | ·)^α`` at ``τ = 1/α``), ``finished`` flags and
  the number of tokens ``sampled``.  Stopped rows are padded with EOS (0 without EOS) at
  log-prob 0.
* ``serve(tasks, temperature, batched=True)`` -- many such requests at once: each task is a
  coroutine yielding :class:`Request` s (a batch-1 state and a quota) with the
  ``torch.Generator`` its tokens are drawn with; each coroutine receives ``(state,
  Decoded)`` back and yields its next request.  How they are batched (continuous batching,
  prefix caching, an engine scheduler) is the backend's business.  ``batched=False``
  serves one request at a time (a reference schedule).
* ``top_k(state, k)`` -- the ``k`` most probable next tokens of every row with their raw
  ``log π`` (:class:`TopTokens`; ties by token id, zero-probability tokens never listed).
* ``score(prompts, completions)`` -- raw per-token ``log π(y_t | x, y_<t)`` of given
  completions, prompt masked, float64.
* ``start(prompts)`` -- a :class:`DecodeState` holding the prompts, nothing decoded.
* ``next_token_logprobs(contexts)`` and ``DecodeState.logprobs()`` -- the full raw
  next-token row ``(n, V)``: for estimators, ``llm.enumerate_exact`` and toys.  **No
  sampler calls them.**

**Randomness.**  ``generator`` is one ``torch.Generator`` for the whole batch or one per
row.  Per row, row ``i``'s tokens depend only on ``generator[i]`` (batching rows together or
decoding them one by one gives the same tokens: MH chains and ``serve`` rely on it).  A
backend draws every random number it uses from these generators (vLLM: a per-request
``seed`` drawn from the row's generator), so a seeded run is reproducible on one backend.

**Decode states** (:class:`DecodeState`): a batch of rows sharing one completion length,
with ``append``, ``truncate`` (drop the tail, keep the cache of the prefix), ``fork(rows,
length)`` (copies of rows, repeats allowed, optionally truncated: an MH proposal from
position ``m`` or a particle resampling never re-encodes the prompt or the prefix) and
``prefill()`` (compute the prompt's cache now, so that forks share it).  What backs them --
a KV cache (HF), a token array (toys), token ids and the engine's prefix cache (vLLM) --
is the backend's business.

**Log-probs** are always raw base-model log-probs (``log_softmax`` of the logits), float64,
next to the proposal's ``log q`` where a temperature was applied: the two are never mixed.

**One generic implementation** (:class:`llm.stepwise.StepwiseEngine`) gives the engine calls
to any model whose states offer ``logprobs()``: it samples each token from the tempered row
with :func:`sample_from_logprobs` (one uniform per row), which is how HF and the toys draw.
A backend with a native sampler implements ``extend``, ``serve`` and ``top_k`` itself (:class:`llm.VLLMModel`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generator, NamedTuple, Protocol, Sequence, runtime_checkable

import torch

from exact._validate import check_positive

__all__ = [
    "DecodeState",
    "Decoded",
    "ForwardCounter",
    "LanguageModel",
    "Request",
    "Task",
    "TopTokens",
    "sample_from_logprobs",
    "temper",
]


@dataclass
class ForwardCounter:
    """Work done by a model: forward ``calls`` and ``tokens`` pushed through it.

    ``tokens`` counts every input position the network processed (prefill and
    decode, padding excluded), which is what the forward-token efficiency of
    ``bench llm`` divides by.
    """

    calls: int = 0
    tokens: int = 0

    def add(self, tokens: int) -> None:
        self.calls += 1
        self.tokens += int(tokens)

    def snapshot(self) -> tuple[int, int]:
        return self.calls, self.tokens


@runtime_checkable
class DecodeState(Protocol):
    """A batch of ``n`` rows (prompt + completion so far), backed by a cache."""

    @property
    def batch_size(self) -> int: ...

    @property
    def length(self) -> int:
        """Number of completion tokens appended so far (the same for every row)."""
        ...

    def logprobs(self) -> torch.Tensor:
        """Raw ``log π(· | x, y_{1:length})`` of every row: ``(n, V)``."""
        ...

    def append(self, tokens: torch.Tensor) -> None:
        """Append ``(n,)`` or ``(n, k)`` token ids to every row."""
        ...

    def truncate(self, length: int) -> None:
        """Keep the first ``length`` completion tokens of every row (cache cropped, not recomputed)."""
        ...

    def fork(self, rows: Sequence[int] | torch.Tensor | None = None, length: int | None = None) -> "DecodeState":
        """A new independent state holding copies of ``rows`` (repeats allowed), truncated to ``length``."""
        ...

    def completion(self) -> torch.Tensor:
        """The ``(n, length)`` completion token ids."""
        ...

    def prefill(self) -> None:
        """Compute the rows' cache up to their last token now, so that :meth:`fork` s share it.

        Default: one :meth:`logprobs` call (whose row the forks inherit); a backend whose
        engine caches prefixes itself (vLLM) does nothing.
        """
        self.logprobs()


@dataclass
class Decoded:
    """What :meth:`LanguageModel.extend` returns: ``(n, k)`` tokens, their raw ``log π`` and their
    ``log q_τ`` under the distribution actually sampled (``processed``), the ``(n,)`` stop flags
    (EOS reached, or already finished), and the number of tokens ``sampled`` (stopped rows excluded)."""

    tokens: torch.Tensor
    raw: torch.Tensor
    processed: torch.Tensor
    finished: torch.Tensor
    sampled: int

    @classmethod
    def empty(cls, n: int = 1, finished: torch.Tensor | None = None) -> "Decoded":
        """``n`` rows with no tokens decoded."""
        nothing = torch.empty((n, 0))
        finished = torch.zeros(n, dtype=torch.bool) if finished is None else finished
        return cls(nothing.long(), nothing.double(), nothing.double(), finished, 0)


@dataclass
class Request:
    """What a sampler coroutine asks :meth:`LanguageModel.serve` for: up to ``quota`` tokens after the batch-1 ``state``.

    The coroutine receives ``(state, Decoded)``: the state with the new tokens appended (a
    row stops at EOS) and the decoded row (``(1, k)`` tensors).
    """

    state: "DecodeState"
    quota: int


#: A sampler coroutine (yields requests, receives their results) and the generator its tokens are drawn with.
Task = tuple[Generator[Request, tuple["DecodeState", Decoded], None], torch.Generator]


class TopTokens(NamedTuple):
    """The most probable next tokens of one row (most probable first, ties by id) and their raw ``log π``, ``(K,)``."""

    tokens: torch.Tensor
    logprobs: torch.Tensor


@runtime_checkable
class LanguageModel(Protocol):
    """The engine interface (module docstring): :class:`llm.HFModel`, :class:`llm.ToyModel`, :class:`llm.VLLMModel`."""

    #: Size of the (largest) next-token vocabulary.
    vocab_size: int
    #: End-of-sequence token id, or ``None`` (toys: fixed length ``horizon``).
    eos_token_id: int | None
    #: Fixed completion length counted from the empty prompt (toys), or ``None``.
    horizon: int | None
    #: Forward calls and tokens pushed through the network so far.
    counter: ForwardCounter

    def next_token_logprobs(self, contexts: Sequence[Sequence[int]]) -> torch.Tensor:
        """Raw ``log π(· | context)`` for a batch of contexts of any lengths: ``(n, V)``."""
        ...

    def score(self, prompts: Sequence[Sequence[int]], completions: Sequence[Sequence[int]]) -> list[torch.Tensor]:
        """Per-token raw ``log π(y_t | x, y_<t)`` of each completion (prompt masked), float64."""
        ...

    def start(self, prompts: Sequence[Sequence[int]]) -> DecodeState:
        """A decode state holding the prompts, with empty completions (prefilled lazily or by ``prefill()``)."""
        ...

    def extend(
        self,
        state: DecodeState,
        max_tokens: int,
        generator: torch.Generator | Sequence[torch.Generator],
        temperature: float = 1.0,
        finished: torch.Tensor | None = None,
        quotas: Sequence[int] | None = None,
    ) -> Decoded:
        """Continue every row by up to ``max_tokens`` (``quotas[i]``) tokens from ``π^{1/τ}`` normalised, stopping at EOS."""
        ...

    def serve(self, tasks: Sequence[Task], temperature: float, batched: bool = True) -> None:
        """Serve every task's :class:`Request` s until each coroutine is exhausted, tokens drawn with its own generator."""
        ...

    def top_k(self, state: DecodeState, k: int) -> list[TopTokens]:
        """The ``k`` most probable next tokens of every row and their raw ``log π``."""
        ...


def temper(logprobs: torch.Tensor, temperature: float) -> torch.Tensor:
    """Log-probs of the token-level tempered distribution ``p^{1/τ} / Σ p^{1/τ}``.

    ``temperature = 1`` returns ``logprobs`` itself (already normalised raw
    log-probs); ``-inf`` entries stay ``-inf``.  Computed in float64.
    """
    temperature = check_positive(temperature, "temperature")  # finite: τ = inf gave NaN for -inf entries
    lp = logprobs.to(torch.float64)
    if temperature == 1.0:
        return lp
    return torch.log_softmax(lp / temperature, dim=-1)


def sample_from_logprobs(logprobs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One token per row from ``(n, V)`` log-probs, with ``generator``: ``(n,)`` int64.

    Inverse CDF in float64: one uniform per row (``torch.multinomial`` draws one
    exponential per *vocabulary entry*, ~1 ms a row at V = 49 152).  The token is
    the first whose cumulative mass exceeds ``u · total``, so a zero-probability
    token is never drawn.
    """
    from exact._numerics import inverse_cdf  # the one inverse-CDF sampler (numpy, on a view of the tensor)

    logp = logprobs.detach().to("cpu", torch.float64)
    u = torch.rand((logp.shape[0], 1), generator=generator, dtype=torch.float64)
    return torch.from_numpy(inverse_cdf(logp.numpy(), u.numpy()[:, 0]))
