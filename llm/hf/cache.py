"""The KV cache of an :class:`llm.HFModel`: append-in-place layers for plain-attention models.

transformers' ``DynamicLayer.update`` re-copies the whole cache for every token
(``torch.cat``); :func:`append_into` writes new keys/values into spare capacity
(doubling) instead.  :class:`KVCaches` decides once per model whether its layers
can stand in (every default layer a plain ``DynamicLayer``: no sliding window, no
linear attention) and builds caches that adopt given per-layer tensors.
"""

from __future__ import annotations

import functools
from typing import Sequence

import torch

__all__ = ["KVCaches", "append_into", "append_layer_class", "cache_keyword", "layer_tensors", "plain_attention"]


def append_into(view: torch.Tensor, buffer: torch.Tensor | None, new: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
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
def append_layer_class():
    """A transformers ``DynamicLayer`` that appends with :func:`append_into` instead of ``torch.cat``.

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
            self.keys, self._key_buffer = append_into(self.keys, self._key_buffer, key_states)
            self.values, self._value_buffer = append_into(self.values, self._value_buffer, value_states)
            return self.keys, self.values

    return AppendLayer


def plain_attention(network) -> bool:
    """Whether every layer of ``network``'s default cache is a plain ``DynamicLayer`` (no sliding window,
    no linear attention), so that :func:`append_layer_class`'s layers can stand in for them."""
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    try:
        layers = DynamicCache(config=network.config).layers
    except Exception:  # an exotic config: keep transformers' own cache
        return False
    return bool(layers) and all(type(layer) is DynamicLayer for layer in layers)


def cache_keyword(network) -> str:
    """The name under which ``network``'s forward takes and returns its KV cache.

    transformers renamed ``past_key_values`` to ``cache`` in 5.20 (argument and output field);
    vLLM's CPU build pins an older transformers, and one environment may hold both.
    """
    import inspect

    return "cache" if "cache" in inspect.signature(network.forward).parameters else "past_key_values"


def layer_tensors(cache) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per layer ``(keys, values)`` of a transformers cache, each ``(batch, heads, positions, head_dim)``; ``[]`` for ``None``."""
    return [(layer.keys, layer.values) for layer in cache.layers] if cache is not None else []


class KVCaches:
    """Builds the KV caches of one network: append-in-place layers if :func:`plain_attention`, else transformers' own."""

    def __init__(self, network):
        self.append_in_place = plain_attention(network)

    def new(self, data: Sequence[tuple[torch.Tensor, torch.Tensor]] = ()):
        """A cache holding ``data`` (per layer ``(keys, values)``, adopted, not copied: pass tensors no other
        cache holds); with transformers' own cache an empty one is ``None`` (the model builds it, sliding
        layers and all)."""
        from transformers import DynamicCache

        if not self.append_in_place:
            return DynamicCache(data) if data else None
        layer_class = append_layer_class()
        cache = DynamicCache()
        cache.layer_class_to_replicate = layer_class
        for keys, values in data:
            layer = layer_class()
            layer.lazy_initialization(keys, values)
            layer.keys, layer.values = keys, values
            cache.layers.append(layer)
        return cache
