"""``HFModel``: text, batched forward passes and scoring of a Hugging Face causal LM (see :mod:`llm.hf`)."""

from __future__ import annotations

import os
from typing import Sequence

import torch

from ..model import ForwardCounter
from ..stepwise import StepwiseEngine
from .cache import KVCaches, cache_keyword
from .loading import load_network
from .ragged import RaggedBatch
from .state import HFState

__all__ = ["HFModel"]

#: Upper bound on the float32 logits one forward pass may materialise (bytes).
_LOGITS_BUDGET = 256 * 2**20


class HFModel(StepwiseEngine):
    """Any local or hub causal LM (``name_or_path``, optionally a ``gguf_file`` in it); no argument: the default model.

    The engine calls (``extend``, ``serve``, ``top_k``) are :class:`llm.stepwise.StepwiseEngine`'s on
    the KV-cached :class:`HFState`; ``serve`` batches continuously through :meth:`ragged_batch`.

    ``adapter``: a LoRA adapter directory saved by :func:`llm.experiments.distill.distill` (a power-distilled
    student), merged into the loaded weights.
    """

    def __init__(
        self,
        name_or_path: str | None = None,
        gguf_file: str | None = None,
        device: str = "cpu",
        dtype: torch.dtype = torch.float32,
        offline: bool = True,
        adapter: str | os.PathLike | None = None,
    ):
        network, tokenizer, label = load_network(name_or_path, gguf_file, device, dtype, offline, adapter)
        self._setup(network, tokenizer, label)

    @classmethod
    def from_model(cls, network, tokenizer=None, name: str = "in-memory", template: "HFModel | None" = None) -> "HFModel":
        """Wrap an in-memory causal LM ``network`` (fine-tuned, PEFT, or built from a config) and its tokenizer.

        No files are read.  ``tokenizer=None``: token ids only (``encode``/``decode`` raise
        ``ValueError``), EOS from ``network.generation_config``, and an empty prompt is a
        ``ValueError`` (no BOS to condition on).  ``template``: copy EOS/pad ids from another
        :class:`HFModel` (same tokenizer conventions).
        """
        lm = cls.__new__(cls)
        lm._setup(network, tokenizer, name)
        if template is not None:
            lm.eos_token_id, lm.pad_token_id = template.eos_token_id, template.pad_token_id
        return lm

    def _setup(self, network, tokenizer, name: str) -> None:
        self.model = network.eval()
        self.tokenizer = tokenizer
        self.name = name
        self.device = next(network.parameters()).device
        self.vocab_size = int(network.get_output_embeddings().weight.shape[0])
        eos = tokenizer.eos_token_id if tokenizer is not None else None
        if eos is None:
            eos = network.generation_config.eos_token_id
        self.eos_token_id = eos[0] if isinstance(eos, (list, tuple)) else eos
        pad = tokenizer.pad_token_id if tokenizer is not None else None
        self.pad_token_id = int(pad if pad is not None else (self.eos_token_id or 0))
        self.horizon = None
        self.counter = ForwardCounter()
        self.caches = KVCaches(network)
        self._cache_keyword = cache_keyword(network)

    def new_cache(self, data: Sequence[tuple[torch.Tensor, torch.Tensor]] = ()):
        """A KV cache holding ``data`` (per layer ``(keys, values)``, adopted, not copied; see :class:`KVCaches`)."""
        return self.caches.new(data)

    def __repr__(self) -> str:
        return f"HFModel({self.name!r})"

    # -- text ---------------------------------------------------------------
    def _require_tokenizer(self):
        if self.tokenizer is None:
            raise ValueError(f"{self!r} has no tokenizer: pass token ids, or a tokenizer to HFModel.from_model")
        return self.tokenizer

    def encode(self, text: str, chat: bool = False) -> list[int]:
        """Token ids of ``text``; with ``chat=True`` wrapped in the chat template as a user turn."""
        self._require_tokenizer()
        if chat:
            encoded = self.tokenizer.apply_chat_template(
                [{"role": "user", "content": text}], add_generation_prompt=True, tokenize=True
            )
            ids = encoded["input_ids"] if hasattr(encoded, "keys") else encoded
            return [int(i) for i in ids]
        return [int(i) for i in self.tokenizer(text, add_special_tokens=False)["input_ids"]]

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        return self._require_tokenizer().decode([int(i) for i in ids], skip_special_tokens=skip_special_tokens)

    # -- forward ------------------------------------------------------------
    def _check_context(self, ids: Sequence[int]) -> list[int]:
        row = [int(i) for i in ids]
        if not row:  # a causal LM cannot run on no input: condition on BOS, if the tokenizer has one
            bos = getattr(self.tokenizer, "bos_token_id", None)
            if bos is None:
                raise ValueError(
                    f"an empty prompt or context needs a BOS token, and {self!r} has none "
                    f"({'no tokenizer' if self.tokenizer is None else 'its tokenizer defines no bos_token'}): "
                    "pass a non-empty prompt"
                )
            row = [int(bos)]
        if any(not 0 <= i < self.vocab_size for i in row):
            raise ValueError(f"token ids must lie in [0, {self.vocab_size})")
        return row

    def _left_pad(self, rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, width - len(row) :] = torch.tensor(row, dtype=torch.long)
            mask[i, width - len(row) :] = 1
        return ids, mask

    @torch.no_grad()
    def forward_logits(self, ids, mask, keep: int, cache=None, past: int = 0):
        """``(logits of the last keep positions, cache)``; ``ids``/``mask`` are the new block, the past mask included in ``mask``.

        Positions are ``cumsum(mask) - 1``; the new tokens are counted in :attr:`counter`.
        Decode states pass their cache (:meth:`new_cache` when they have none yet); one-shot
        scoring passes ``None`` and drops the cache transformers builds."""
        position_ids = (mask.cumsum(-1) - 1).clamp(min=0)[:, past:]
        self.counter.add(int(mask[:, past:].sum()))
        out = self.model(
            input_ids=ids.to(self.device),
            attention_mask=mask.to(self.device),
            position_ids=position_ids.to(self.device),
            use_cache=True,
            logits_to_keep=keep,
            **{self._cache_keyword: cache},
        )
        return out.logits, getattr(out, self._cache_keyword)

    def _chunks(self, n: int, positions: int) -> int:
        return max(1, _LOGITS_BUDGET // max(1, 4 * positions * self.vocab_size))

    def next_token_logprobs(self, contexts: Sequence[Sequence[int]]) -> torch.Tensor:
        """Raw ``log π(· | context)`` for contexts of any lengths (left-padded, batched): ``(n, V)`` float64."""
        rows = [self._check_context(c) for c in contexts]
        out = []
        step = self._chunks(len(rows), 1)
        for start in range(0, len(rows), step):
            ids, mask = self._left_pad(rows[start : start + step])
            logits, _ = self.forward_logits(ids, mask, keep=1)
            out.append(torch.log_softmax(logits[:, -1].float(), dim=-1).double().cpu())
        return torch.cat(out) if out else torch.empty((0, self.vocab_size), dtype=torch.float64)

    def score(self, prompts: Sequence[Sequence[int]], completions: Sequence[Sequence[int]]) -> list[torch.Tensor]:
        """Per-token raw ``log π(y_t | x, y_<t)`` of each completion, prompt masked; batched and left-padded."""
        if len(prompts) != len(completions):
            raise ValueError(f"{len(prompts)} prompts but {len(completions)} completions")
        pairs = [(self._check_context(p), [int(i) for i in c]) for p, c in zip(prompts, completions)]
        scores: list[torch.Tensor] = [torch.empty(0, dtype=torch.float64)] * len(pairs)
        todo = [i for i, (_, c) in enumerate(pairs) if c]
        longest = max((len(pairs[i][1]) for i in todo), default=0)
        step = self._chunks(len(todo), longest + 1)
        for start in range(0, len(todo), step):
            batch = todo[start : start + step]
            width = max(len(pairs[i][1]) for i in batch)
            ids, mask = self._left_pad([pairs[i][0] + pairs[i][1] for i in batch])
            logits, _ = self.forward_logits(ids, mask, keep=width + 1)
            logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)  # (b, width, V): predicts the last `width` tokens
            targets = ids[:, -width:].to(logp.device)
            picked = logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1).double().cpu()
            for row, i in enumerate(batch):
                scores[i] = picked[row, width - len(pairs[i][1]) :].clone()
        return scores

    def start(self, prompts: Sequence[Sequence[int]]) -> HFState:
        """Left-pad the prompts; the prefill runs on ``prefill()`` or the first ``logprobs()``."""
        rows = [self._check_context(p) for p in prompts]
        if not rows:
            raise ValueError("start needs at least one prompt")
        ids, mask = self._left_pad(rows)
        return HFState(self, ids, mask, ids.shape[1], cache=None, fed=0)

    def ragged_batch(self) -> RaggedBatch:
        """An empty :class:`RaggedBatch` (continuous batching of batch-1 states, see there)."""
        return RaggedBatch(self)
