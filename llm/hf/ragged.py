"""``RaggedBatch``: continuous batching of batch-1 :class:`llm.hf.HFState` decode states."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import torch

from .cache import layer_tensors
from .state import HFState

if TYPE_CHECKING:
    from .model import HFModel

__all__ = ["RaggedBatch"]


class RaggedBatch:
    """Batch-1 decode states of different lengths decoded together; rows join and leave at any step.

    Every row is right-aligned at the last column (left padding masked, positions
    from the mask as everywhere in :mod:`llm.hf`) and holds exactly one *pending*
    token there; :meth:`logprobs` pushes that column -- one token per row, no
    padding ever fed -- and :meth:`append` adds the next one.  A row that is done
    is copied out with :meth:`take` and its slot refilled in place with
    :meth:`put` or removed with :meth:`drop`, so the batch stays full of rows
    that still need tokens (continuous batching: how MH runs many chains, each
    proposal from its own position, without decoding padding).
    """

    def __init__(self, model: "HFModel"):
        self.model = model
        self.ids = torch.empty((0, 0), dtype=torch.long)
        self.mask = torch.empty((0, 0), dtype=torch.long)
        self.prompt_widths: list[int] = []
        self.cache = None  # a KV cache over every column but the last, once there is one

    @property
    def batch_size(self) -> int:
        return self.ids.shape[0]

    def _layers(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return layer_tensors(self.cache)

    def _set_layers(self, data) -> None:
        self.cache = self.model.new_cache(data) if data and data[0][0].shape[2] > 0 else None

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

    def _row(self, state: HFState, width: int):
        """``state`` as one row of a ``width``-column batch: ids, mask, left padding, per-layer cache rows, prompt width."""
        exported = state.export_row()
        total = exported.ids.shape[0]
        pad = width - total
        ids = torch.full((width,), self.model.pad_token_id, dtype=torch.long)
        mask = torch.zeros(width, dtype=torch.long)
        ids[pad:], mask[pad:] = exported.ids, exported.mask
        return ids, mask, pad, exported.layers, exported.prompt_width

    def put(self, row: int | None, state: HFState) -> None:
        """Place a batch-1 ``state`` in slot ``row`` (``None``: a new slot); a state not yet prefilled is prefilled first."""
        if state.batch_size != 1:
            raise ValueError("RaggedBatch rows are batch-1 states")
        self._widen(state.ids.shape[1])
        width = self.ids.shape[1]
        ids, mask, pad, layers, prompt_width = self._row(state, width)
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
            self.prompt_widths.append(prompt_width)
            if self.cache is not None:
                self._set_layers([
                    (torch.cat([k, k.new_zeros((1,) + k.shape[1:])], 0), torch.cat([v, v.new_zeros((1,) + v.shape[1:])], 0))
                    for k, v in self._layers()
                ])
        else:
            self.ids[row], self.mask[row] = ids, mask
            self.prompt_widths[row] = prompt_width
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
        cache = self.cache if self.cache is not None else self.model.new_cache()
        logits, self.cache = self.model.forward_logits(self.ids[:, -1:], self.mask, keep=1, cache=cache, past=width - 1)
        return torch.log_softmax(logits[:, -1].float(), dim=-1).double().cpu()

    def append(self, tokens: torch.Tensor) -> None:
        """One new pending token per row (after :meth:`logprobs`)."""
        new = torch.as_tensor(tokens, dtype=torch.long).reshape(self.batch_size, 1).cpu()
        self.ids = torch.cat([self.ids, new], 1)
        self.mask = torch.cat([self.mask, torch.ones_like(new)], 1)

    def take(self, row: int) -> HFState:
        """A copy of slot ``row`` as a batch-1 :class:`HFState` (cache over all but its last token)."""
        width = self.ids.shape[1]
        pad = width - int(self.mask[row].sum())
        data = [(k[row : row + 1, :, pad:].clone(), v[row : row + 1, :, pad:].clone()) for k, v in self._layers()]
        ids, mask = self.ids[row : row + 1, pad:].clone(), self.mask[row : row + 1, pad:].clone()
        return HFState.from_cache_data(self.model, ids, mask, self.prompt_widths[row], data)
