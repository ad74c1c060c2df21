"""``HFState``: the KV-cached decode state of an :class:`llm.HFModel` (conventions in :mod:`llm.hf`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, Sequence

import torch

from ..model import DecodeState
from .cache import layer_tensors

if TYPE_CHECKING:
    from .model import HFModel

__all__ = ["HFState", "StateRow"]


class StateRow(NamedTuple):
    """One prefilled batch-1 state, for a :class:`llm.hf.RaggedBatch` slot (:meth:`HFState.export_row`).

    ``ids``, ``mask``: ``(total,)`` (left padding included); ``layers``: per layer ``(keys, values)`` of
    shape ``(heads, total - 1, head_dim)``, the cache over every token but the pending last one
    (``[]`` when there is no cache); views of the state's tensors, not copies.
    """

    ids: torch.Tensor
    mask: torch.Tensor
    prompt_width: int
    layers: list[tuple[torch.Tensor, torch.Tensor]]


class HFState(DecodeState):
    """KV-cached decode state of an :class:`HFModel` (see :mod:`llm.hf`).

    ``ids``, ``mask``: ``(n, W + length)``, left-padded prompt then completion; ``cache``
    covers ``ids[:, :fed]``.
    """

    def __init__(self, model: "HFModel", ids, mask, prompt_width: int, cache, fed: int):
        self.model = model
        self.ids = ids  # (n, W + length), left-padded prompt then completion
        self.mask = mask  # (n, W + length)
        self.prompt_width = prompt_width
        self.cache = cache  # covers ids[:, :fed]
        self.fed = fed
        self._cached: torch.Tensor | None = None

    @classmethod
    def from_cache_data(
        cls, model: "HFModel", ids, mask, prompt_width: int, data: Sequence[tuple[torch.Tensor, torch.Tensor]]
    ) -> "HFState":
        """A batch-1 state whose cache adopts ``data`` (per layer ``(keys, values)`` over every token but the last)."""
        total = ids.shape[1]
        cache = model.new_cache(data) if data and total - 1 > 0 else None
        return cls(model, ids, mask, prompt_width, cache, total - 1 if cache is not None else 0)

    def export_row(self) -> StateRow:
        """This batch-1 state as a :class:`StateRow` (prefilled first if it has not been)."""
        if self.batch_size != 1:
            raise ValueError("RaggedBatch rows are batch-1 states")
        total = self.ids.shape[1]
        if self.fed < total - 1:  # not prefilled yet: prefill it on its own first
            self.logprobs()
        layers = []
        if self.cache is not None and total > 1:
            layers = [(keys[0, :, : total - 1], values[0, :, : total - 1]) for keys, values in layer_tensors(self.cache)]
        return StateRow(self.ids[0], self.mask[0], self.prompt_width, layers)

    @property
    def batch_size(self) -> int:
        return self.ids.shape[0]

    @property
    def length(self) -> int:
        return self.ids.shape[1] - self.prompt_width

    def logprobs(self) -> torch.Tensor:
        if self._cached is None:
            total = self.ids.shape[1]
            cache = self.cache if self.cache is not None else self.model.new_cache()
            logits, self.cache = self.model.forward_logits(
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
            data = [(keys[:, :, :keep][device_index], values[:, :, :keep][device_index]) for keys, values in layer_tensors(self.cache)]
            cache = self.model.new_cache(data)
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
