"""Audit a sampler you did not write: a tiny real causal LM with an exact twin, and adapters to draws.

The exact checks of ``exact.testing`` need a model whose law over completions is
known.  :func:`tiny_causal_lm` builds one that is a *real* Hugging Face model
(a ``transformers`` ``LlamaForCausalLM`` with its own forward, KV cache and
``generate``, and a ``PreTrainedTokenizerFast``) whose whole vocabulary is the
test alphabet, so no probability mass is lost outside it, and enumerates its
law over ``T`` new tokens after a fixed prompt ``x``:

    π(y | x) = Π_t softmax(logits(x, y_<t))[y_t],     y ∈ {0..V-1}^T,

as an ``exact.TabularAR`` (through :func:`llm.enumerate_exact`).  With an EOS
token the completions stop at it and the exact model is EOS-absorbing
(``exact.eos``): the padded sequence ``(y_1..y_k = EOS, EOS, ..)`` has
``π(y_1..y_k | x)``.  Targets for the power distribution
``π_α(y | x) ∝ π(y | x)^α`` (arXiv 2605.04542, Eq. 4) and for every sampler's
own law then come from ``exact``.

The model has no BOS token: every id is a letter of the alphabet and can be
sampled, so an empty prompt cannot be fed (``llm.HFModel`` raises
``ValueError``); the one-token default prompt ``(0,)`` plays the role of BOS.
A reserved, never-sampled BOS id would need its logit forced to ``-inf``, which
a plain Llama head cannot do; a prompt is what every real model sees anyway.

Adapters turn a sampler with any calling convention into the ``(n, T)`` padded
draws that ``exact.testing.assert_draws_match`` tests: :func:`llm_sampler_draws`
for this package's samplers, :func:`hf_sampler_draws` for user code that calls
the network's ``generate`` or ``forward``; ``exact.testing.assert_reproducible``
checks the seed handling of either.
"""

from __future__ import annotations

import math
import string
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch

import exact

from .enumerate import enumerate_exact
from .hf import HFModel
from .model import LanguageModel

__all__ = ["TinyLM", "tiny_causal_lm", "llm_sampler_draws", "hf_sampler_draws"]

#: The character of the EOS token in the tiny tokenizer (other ids are ``a, b, c, ...``).
EOS_CHARACTER = "$"


@dataclass(frozen=True)
class TinyLM:
    """A tiny Hugging Face causal LM and its exact law (see :func:`tiny_causal_lm`)."""

    model: Any
    """The ``transformers.LlamaForCausalLM`` (float32, eval mode); ``vocab_size`` = the alphabet size ``V``."""
    tokenizer: Any
    """``transformers.PreTrainedTokenizerFast``: token ``i`` is one character (``a, b, ...``; EOS is ``$``)."""
    lm: HFModel
    """The same network behind ``llm.HFModel`` (no tokenizer files involved)."""
    exact_model: "exact.TabularAR"
    """``π(y | x)`` over the ``V^T`` padded completions after ``prompt_ids`` (EOS-absorbing when ``eos_token_id`` is set)."""
    prompt_ids: tuple[int, ...]
    """The fixed prompt ``x`` (non-empty: the model has no BOS)."""
    horizon: int
    """``T``: the most new tokens of a completion."""
    eos_token_id: int | None
    """The EOS id (``None``: every completion has ``T`` tokens)."""


def _tokenizer(vocab_size: int, eos_token_id: int | None):
    """A ``PreTrainedTokenizerFast`` whose token ``i`` is the ``i``-th lowercase letter (``$`` for EOS)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    characters = list(string.ascii_lowercase[:vocab_size])
    if eos_token_id is not None:
        characters[eos_token_id] = EOS_CHARACTER
    backend = Tokenizer(models.WordLevel({c: i for i, c in enumerate(characters)}, unk_token=None))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")  # one token per character
    backend.decoder = decoders.Fuse()  # decode without spaces
    special = {} if eos_token_id is None else {"eos_token": EOS_CHARACTER, "pad_token": EOS_CHARACTER}
    return PreTrainedTokenizerFast(tokenizer_object=backend, **special)


def tiny_causal_lm(
    vocab_size: int = 5,
    horizon: int = 3,
    eos_token_id: int | None = None,
    prompt_ids: Sequence[int] = (0,),
    seed: int = 0,
    sharpness: float = 3.0,
    hidden_size: int = 16,
    num_layers: int = 2,
) -> TinyLM:
    """A randomly initialised Llama over the alphabet ``{0..V-1}``, its tokenizer, and its exact law.

    Initialisation (from a ``torch.Generator`` seeded with ``seed``, independent of the global
    RNG): embeddings ``N(0, 1)``; every other weight matrix ``N(0, 1/fan_in)``, so each layer
    writes at the scale of the residual stream and the next-token law depends on the whole
    context; norms 1; the output head ``N(0, sharpness² / hidden_size)``, so the logits have
    standard deviation about ``sharpness`` after the final RMS norm.  ``transformers``' own
    init (std 0.02) leaves every conditional within 0.4% of the uniform entropy, useless for an
    audit; at the defaults (V = 5, T = 3, prompt ``(0,)``) the next-token conditionals have mean
    entropy 0.54 ln V and mean largest probability 0.65.

    ``eos_token_id``: an alphabet id that ends completions; it is set in the model's config,
    its generation config (``generate`` stops there and pads with it) and the tokenizer
    (``eos_token`` = ``pad_token`` = ``"$"``).  ``prompt_ids`` must be non-empty (the model has
    no BOS).  The exact model takes one batched forward pass per position (``llm.enumerate_exact``).
    """
    from transformers import LlamaConfig, LlamaForCausalLM

    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or not 2 <= vocab_size <= 26:
        raise ValueError(f"vocab_size must be an integer in [2, 26] (one letter per token), got {vocab_size!r}")
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
        raise ValueError(f"horizon must be a positive integer, got {horizon!r}")
    eos_token_id = exact.check_eos_token_id(eos_token_id, (vocab_size,))
    prompt = tuple(int(i) for i in prompt_ids)
    if not prompt:
        raise ValueError("prompt_ids must be non-empty: the tiny LM has no BOS token; a one-token prompt plays its role")
    if any(not 0 <= i < vocab_size for i in prompt):
        raise ValueError(f"prompt_ids must lie in [0, {vocab_size}), got {list(prompt)}")
    if not (math.isfinite(sharpness) and sharpness > 0):
        raise ValueError(f"sharpness must be positive and finite, got {sharpness!r}")
    if hidden_size < 4 or hidden_size % 4 or num_layers < 1:
        raise ValueError(f"need hidden_size a multiple of 4 (two heads) and num_layers >= 1, got {hidden_size}, {num_layers}")
    heads = 2
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=max(64, 2 * (len(prompt) + horizon)),
        tie_word_embeddings=False,
        bos_token_id=None,  # LlamaConfig's defaults (1, 2) would name alphabet tokens
        eos_token_id=eos_token_id,
        pad_token_id=eos_token_id,
    )
    with torch.random.fork_rng(devices=[]):  # transformers' own init draws from the global RNG: leave it as it was
        network = LlamaForCausalLM(config).eval()
    network.generation_config.bos_token_id = None
    network.generation_config.eos_token_id = eos_token_id
    network.generation_config.pad_token_id = eos_token_id
    generator = torch.Generator().manual_seed(int(seed))
    with torch.no_grad():
        for name, weight in network.named_parameters():
            if "norm" in name:
                weight.fill_(1.0)
                continue
            if "embed_tokens" in name:
                std = 1.0
            elif "lm_head" in name:
                std = sharpness / math.sqrt(hidden_size)
            else:
                std = 1.0 / math.sqrt(weight.shape[-1])
            weight.copy_(torch.randn(weight.shape, generator=generator) * std)
    tokenizer = _tokenizer(vocab_size, eos_token_id)
    lm = HFModel.from_model(network, tokenizer, name=f"tiny-llama(V={vocab_size}, eos={eos_token_id}, seed={seed})")
    table = enumerate_exact(lm, prompt, range(vocab_size), horizon)  # EOS-absorbing when lm has EOS
    return TinyLM(network, tokenizer, lm, table, prompt, horizon, eos_token_id)


def _pad(completions: Sequence[Sequence[int]], horizon: int, eos_token_id: int | None, name: str) -> np.ndarray:
    """:func:`exact.pad_completions`, a malformed completion being the sampler's failure (``AssertionError``)."""
    try:
        return exact.pad_completions(completions, horizon, eos_token_id)
    except ValueError as error:
        raise AssertionError(f"{name} returned a completion that is not a state of the model: {error}") from error


def llm_sampler_draws(
    sample: Callable[..., Any],
    lm: LanguageModel,
    prompt: Sequence[int],
    n: int,
    seed: int = 0,
    max_new_tokens: int | None = None,
    **kwargs: Any,
) -> np.ndarray:
    """``n`` completions of an ``llm`` sampler as the ``(n, T)`` padded draws of ``exact``'s EOS-absorbing table.

    Calls ``sample(lm, prompt, n, generator=torch.Generator().manual_seed(seed),
    max_new_tokens=T, **kwargs)`` (e.g. ``llm.sample_power_mh`` with ``alpha=``,
    ``block_size=``, ``n_mcmc=``); ``T`` is ``max_new_tokens``, or the rest of a toy's
    horizon.  Completions end at ``lm.eos_token_id`` or after ``T`` tokens and are padded
    with EOS (:func:`exact.pad_completions`); any other completion fails (``AssertionError``).
    """
    prompt = [int(i) for i in prompt]
    if max_new_tokens is None:
        if lm.horizon is None:
            raise ValueError("max_new_tokens is required for a model without a fixed horizon")
        max_new_tokens = lm.horizon - len(prompt)
    generator = torch.Generator().manual_seed(int(seed))
    out = sample(lm, prompt, n, generator=generator, max_new_tokens=max_new_tokens, **kwargs)
    name = getattr(sample, "__name__", "sampler")
    if len(out.tokens) != n:
        raise AssertionError(f"{name} returned {len(out.tokens)} completions, expected n = {n}")
    return _pad(out.tokens, max_new_tokens, lm.eos_token_id, name)


def hf_sampler_draws(
    sample: Callable[[Any, Any, list[int], int, int], Any],
    tiny: TinyLM,
    n: int,
    seed: int = 0,
    includes_prompt: bool = True,
) -> np.ndarray:
    """Draws of user code that calls the network's ``generate`` or ``forward``, as ``(n, T)`` padded draws.

    ``sample(model, tokenizer, prompt_ids, n, seed)`` gets ``tiny.model``, ``tiny.tokenizer``,
    the prompt as a list and must return ``n`` rows: a ``(n, L)`` tensor or array (what
    ``generate`` returns), token-id lists, or strings.  With ``includes_prompt`` (``generate``'s
    convention) each row must start with the prompt (for strings: its decoded text), which is
    stripped.  A completion is what follows, up to its first EOS (kept) within ``T`` tokens, or
    its first ``T`` tokens; after an EOS only padding (the tokenizer's ``pad_token_id`` or EOS)
    may follow.  A string decoded with ``skip_special_tokens=True`` has lost its EOS, so a
    string completion shorter than ``T`` tokens gets it back.  A row that is none of these
    (cut short without EOS, more than ``T`` tokens, tokens after EOS) fails with
    ``AssertionError``: it is no completion the model can produce.
    """
    rows = sample(tiny.model, tiny.tokenizer, list(tiny.prompt_ids), n, seed)
    if isinstance(rows, (torch.Tensor, np.ndarray)):
        rows = rows.tolist()
    name = getattr(sample, "__name__", "sampler")
    if len(rows) != n:
        raise AssertionError(f"{name} returned {len(rows)} rows, expected n = {n}")
    T, eos, prompt = tiny.horizon, tiny.eos_token_id, list(tiny.prompt_ids)
    pad_ids = {i for i in (tiny.tokenizer.pad_token_id, eos) if i is not None}
    completions = []
    for index, row in enumerate(rows):
        text = isinstance(row, str)
        if text:
            prompt_text = tiny.tokenizer.decode(prompt)
            if includes_prompt and not row.startswith(prompt_text):
                raise AssertionError(f"{name}: row {index} {row!r} does not start with the prompt text {prompt_text!r}")
            ids = tiny.tokenizer(row[len(prompt_text) :] if includes_prompt else row, add_special_tokens=False)["input_ids"]
        else:
            ids = [int(i) for i in row]
            if includes_prompt:
                if ids[: len(prompt)] != prompt:
                    raise AssertionError(
                        f"{name}: row {index} {ids} does not start with the prompt {prompt} "
                        "(pass includes_prompt=False if it returns completions only)"
                    )
                ids = ids[len(prompt) :]
        stop = ids.index(eos) + 1 if eos is not None and eos in ids[:T] else min(len(ids), T)
        completion, rest = ids[:stop], ids[stop:]
        ended = eos is not None and completion[-1:] == [eos]
        if rest and (not ended or any(i not in pad_ids for i in rest)):
            what = "tokens after its EOS" if ended else f"more than T = {T} tokens"
            raise AssertionError(f"{name}: row {index} has {what}: completion {completion}, then {rest}")
        if text and eos is not None and not ended and len(completion) < T:
            completion = completion + [eos]
        elif not ended and len(completion) < T:
            raise AssertionError(f"{name}: row {index} was cut short: completion {completion} has no EOS and < T = {T} tokens")
        completions.append(completion)
    return _pad(completions, T, eos, name)
