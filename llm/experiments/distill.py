"""Power self-distillation, student training (Algorithm 1, lines 9-11; Appendix B.1 "Distillation").

``θ ← argmin_θ Σ_{(x,y)∈D} -log q_θ(y | x)`` over the teacher records, with the
loss on completion tokens only (prompt labels ``-100``).  As in B.1: LoRA
adapters (``r = 16``, ``lora_alpha = 32``, dropout 0.05) on
``q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj`` (those the
architecture has), AdamW with weight decay 0.01, linear warm-up over 3% of the
steps then linear decay, 3 epochs, batch 1 with 8 gradient-accumulation steps,
sequences capped at 1024 tokens (longer completions truncated, every in-window
completion token still counts).  Training is ``transformers.Trainer``.

The student is trained on a *copy* of the base network (``copy.deepcopy``), so
the caller's model is never modified; a GGUF-loaded copy has its quantizer
marker removed first (ECOSYSTEM.md: ``Trainer`` and ``save_pretrained`` refuse it
otherwise).  ``out/`` receives the adapter (``adapter_config.json``,
``adapter_model.safetensors``), ``training_curve.json`` (step, epoch, loss,
learning rate) and ``distill_config.json``.  :func:`load_student` merges an
adapter into a copy of the base and returns an :class:`llm.HFModel`, or on a vLLM
base serves it on the base's engine (vLLM's LoRA API).
"""

from __future__ import annotations

import copy
import json
import math
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple, Sequence

import torch

from exact._atomic_output import exclusive_lock, publish_together

from exact._validate import check_count, check_positive

from ..hf.loading import LORA_TARGETS
from .teacher import numbered_records

__all__ = [
    "LORA_TARGETS",
    "DistillConfig",
    "DistillResult",
    "build_examples",
    "check_training_records",
    "distill",
    "load_student",
    "read_training_records",
    "trainable_copy",
    "wrap_model",
]

#: The fields of a teacher record that training reads (lists of token ids).
TRAINING_FIELDS = ("prompt_tokens", "tokens")



@dataclass(frozen=True)
class DistillConfig:
    """SFT settings (defaults: Appendix B.1, except the learning rate -- B.1 tunes it per model, 1e-5..1e-3).

    ``max_steps > 0`` overrides ``epochs`` (used by the tiny CI path).
    """

    epochs: float = 3.0
    learning_rate: float = 1e-4
    batch_size: int = 1
    grad_accum: int = 8
    max_length: int = 1024
    weight_decay: float = 0.01
    warmup: float = 0.03  # fraction of the steps (transformers 5: warmup_steps accepts a float)
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    max_steps: int = -1
    seed: int = 0
    use_cpu: bool | None = None  # None: the CPU unless CUDA is available

    def __post_init__(self):
        # a non-positive epoch count or rate would train nothing and still save a "student"
        for name in ("epochs", "learning_rate", "lora_alpha"):
            check_positive(getattr(self, name), name)
        for name in ("batch_size", "grad_accum", "max_length", "lora_r"):
            check_count(getattr(self, name), name)
        check_count(self.seed, "seed", 0)
        if isinstance(self.max_steps, bool) or not isinstance(self.max_steps, int) or self.max_steps < -1:
            raise ValueError(f"max_steps must be -1 (epochs decide) or an integer >= 0, got {self.max_steps!r}")
        for name in ("weight_decay", "warmup", "lora_dropout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
                raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")


class DistillResult(NamedTuple):
    """``curve``: ``[{step, epoch, loss, learning_rate}]``; ``model``: the trained PEFT model; ``out``: the folder."""

    curve: list[dict]
    final_loss: float
    model: object
    out: Path


def wrap_model(network, tokenizer, name: str, template=None):
    """An :class:`llm.HFModel` around an in-memory network (EOS/pad ids copied from ``template`` if given)."""
    from ..hf import HFModel

    return HFModel.from_model(network, tokenizer, name, template=template)


def trainable_copy(network):
    """A deep copy of ``network`` without the GGUF quantizer marker, in float32, ready for PEFT + ``Trainer``."""
    clone = copy.deepcopy(network)
    quantizer = getattr(clone, "hf_quantizer", None)
    if quantizer is not None:
        quantizer.remove_quantization_config(clone)
    for attribute in ("hf_quantizer", "quantization_method"):
        if hasattr(clone, attribute):
            try:
                delattr(clone, attribute)
            except AttributeError:
                pass
    if getattr(clone.config, "quantization_config", None) is not None:
        del clone.config.quantization_config
    clone.is_quantized = False
    return clone.float()


def read_training_records(path: str | Path, vocab_size: int | None = None) -> list[dict]:
    """The teacher records of a JSONL file, each checked by :func:`check_training_records` (errors name file:line).

    A missing or directory ``path``, a file with no complete record (empty, or one line without its
    newline: a truncated write) and a malformed line are ``ValueError``\\ s.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file" if not path.exists() else f"{path} is not a file")
    numbered = numbered_records(path)
    if not numbered:
        raise ValueError(f"{path}: no complete teacher record (an empty file, or one line without its final newline)")
    check_training_records(numbered, path, vocab_size)
    return [record for _, record in numbered]


def check_training_records(
    numbered: Sequence[tuple[int, dict]], source: object = None, vocab_size: int | None = None
) -> None:
    """Every ``(line, record)`` has :data:`TRAINING_FIELDS` as lists of token ids ``>= 0`` (``< vocab_size`` if given).

    ``ValueError`` naming ``source:line`` (``record N`` without a ``source``) and the field, for the first
    record that does not.
    """
    for line, record in numbered:
        where = f"{source}:{line}" if source is not None else f"record {line}"
        if not isinstance(record, dict):
            raise ValueError(f"{where}: a teacher record must be a JSON object, got {type(record).__name__}")
        for name in TRAINING_FIELDS:
            if name not in record:
                raise ValueError(f"{where}: missing field {name!r} (a teacher record needs {' and '.join(TRAINING_FIELDS)})")
            value = record[name]
            if not isinstance(value, list) or not all(type(t) is int and t >= 0 for t in value):
                raise ValueError(f"{where}: field {name!r} must be a list of token ids (integers >= 0), got {str(value)[:60]}")
            if vocab_size is not None and value and max(value) >= vocab_size:
                raise ValueError(f"{where}: field {name!r} has token id {max(value)}, outside the model's vocabulary [0, {vocab_size})")


def build_examples(records: Sequence[dict], max_length: int) -> list[dict]:
    """``input_ids = prompt + completion`` (cut to ``max_length``), ``labels`` = ids with prompt positions ``-100``."""
    examples = []
    for record in records:
        prompt, completion = list(record["prompt_tokens"]), list(record["tokens"])
        if not completion:
            continue
        ids = (prompt + completion)[:max_length]
        labels = ([-100] * len(prompt) + completion)[:max_length]
        if all(label == -100 for label in labels):
            continue  # the prompt alone fills the window: no completion token to learn from
        examples.append({"input_ids": ids, "labels": labels})
    if not examples:
        raise ValueError(f"no training example has a completion token inside max_length = {max_length} "
                         f"({len(records)} records; their completions are empty or lie beyond it)")
    return examples


class _Collator:
    """Right-pads a batch: ``pad_token_id`` for ids, 0 in the attention mask, ``-100`` for labels."""

    def __init__(self, pad_token_id: int):
        self.pad_token_id = pad_token_id

    def __call__(self, batch: list[dict]) -> dict:
        width = max(len(example["input_ids"]) for example in batch)
        ids = torch.full((len(batch), width), self.pad_token_id, dtype=torch.long)
        labels = torch.full((len(batch), width), -100, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, example in enumerate(batch):
            n = len(example["input_ids"])
            ids[row, :n] = torch.tensor(example["input_ids"])
            labels[row, :n] = torch.tensor(example["labels"])
            mask[row, :n] = 1
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def _targets(network) -> list[str]:
    names = {name.rsplit(".", 1)[-1] for name, _ in network.named_modules()}
    found = [t for t in LORA_TARGETS if t in names]
    if not found:
        raise ValueError(f"none of the LoRA targets {LORA_TARGETS} exist in {type(network).__name__}")
    return found


def distill(data: str | Path | Sequence[dict], out: str | Path, base, config: DistillConfig = DistillConfig()) -> DistillResult:
    """Train a LoRA student on teacher records (a JSONL path or a list) and save it to ``out``.

    ``base`` is an :class:`llm.HFModel` (its network is copied, never modified) or an
    :class:`llm.VLLMModel`, whose transformers twin (:meth:`llm.VLLMModel.hf_twin`: the same
    weights; the default model from its GGUF) is loaded and trained.  On a GPU the vLLM engine
    holds most of the memory (``gpu_memory_utilization``, default 0.9): a pipeline closes it
    (``model.close()``) before training, or starts it with a smaller ``gpu_memory_utilization``.
    ``out`` is published as a whole (:func:`exact._atomic_output.publish_together`):
    adapter, curve and config appear together, replacing any old ``out``
    folder entirely, and a kill leaves the old folder or (after the next
    start) the new one, never new weights next to an old config.  A second
    run writing the same ``out`` meanwhile fails at once.
    """
    from peft import LoraConfig, get_peft_model

    if hasattr(base, "hf_twin"):  # vLLM: train its weights on transformers
        base = base.hf_twin()
    vocab_size = getattr(base, "vocab_size", None)
    if isinstance(data, (str, Path)):
        records = read_training_records(data, vocab_size)
        try:
            examples = build_examples(records, config.max_length)
        except ValueError as error:
            raise ValueError(f"{data}: {error}") from None
    else:
        records = list(data)
        check_training_records(list(enumerate(records, start=1)), None, vocab_size)
        examples = build_examples(records, config.max_length)
    out = Path(out)
    with exclusive_lock(out):
        torch.manual_seed(config.seed)
        network = trainable_copy(base.model)
        network.train()
        lora = LoraConfig(
            r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout, bias="none",
            task_type="CAUSAL_LM", target_modules=_targets(network),
        )
        student = get_peft_model(network, lora)
        history = _train(student, examples, base.pad_token_id, config)
        curve = [
            {"step": int(entry["step"]), "epoch": float(entry.get("epoch", math.nan)), "loss": float(entry["loss"]),
             "learning_rate": float(entry.get("learning_rate", math.nan))}
            for entry in history
            if "loss" in entry
        ]
        student.eval()
        with publish_together(out.parent, out.name) as staging:
            folder = staging / out.name
            student.save_pretrained(folder)
            (folder / "training_curve.json").write_text(json.dumps(curve, indent=1) + "\n")
            (folder / "distill_config.json").write_text(
                json.dumps({**asdict(config), "base": getattr(base, "name", None), "examples": len(examples)}, indent=1)
                + "\n"
            )
    final = curve[-1]["loss"] if curve else math.nan
    return DistillResult(curve, final, student, out)


def _train(student, examples, pad_token_id: int, config: DistillConfig) -> list[dict]:
    """Run ``transformers.Trainer`` on ``student`` (in place); its log history."""
    from transformers import PrinterCallback, Trainer, TrainingArguments
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        with tempfile.TemporaryDirectory(prefix="distill-") as scratch:
            arguments = TrainingArguments(
                output_dir=scratch,
                num_train_epochs=config.epochs,
                max_steps=config.max_steps,
                per_device_train_batch_size=config.batch_size,
                gradient_accumulation_steps=config.grad_accum,
                learning_rate=config.learning_rate,
                weight_decay=config.weight_decay,
                warmup_steps=config.warmup,
                lr_scheduler_type="linear",
                optim="adamw_torch",
                logging_steps=1,
                save_strategy="no",
                report_to=[],
                use_cpu=(not torch.cuda.is_available()) if config.use_cpu is None else config.use_cpu,
                seed=config.seed,
                data_seed=config.seed,
                remove_unused_columns=False,
                disable_tqdm=True,
            )
            trainer = Trainer(model=student, args=arguments, train_dataset=examples, data_collator=_Collator(pad_token_id))
            trainer.remove_callback(PrinterCallback)  # the curve goes to training_curve.json, not stdout
            trainer.train()
    finally:
        hf_logging.set_verbosity(verbosity)
    return trainer.state.log_history


def load_student(adapter_dir: str | Path, base=None):
    """The distilled student: ``adapter_dir`` on ``base``, which is never modified.

    ``base`` an :class:`llm.HFModel` (default: a fresh ``llm.HFModel()``): an :class:`llm.HFModel`
    with the adapter merged into a copy of the network.  ``base`` an :class:`llm.VLLMModel`: a view
    of it that sends the adapter with every engine call (:meth:`llm.VLLMModel.with_adapter`; the
    same engine, no merged copy).
    """
    if hasattr(base, "with_adapter"):
        return base.with_adapter(adapter_dir)
    from peft import PeftModel

    if base is None:
        from ..hf import HFModel

        base = HFModel()
    network = trainable_copy(base.model)
    merged = PeftModel.from_pretrained(network, str(adapter_dir)).merge_and_unload()
    return wrap_model(merged.eval(), base.tokenizer, f"{getattr(base, 'name', 'base')}+lora:{adapter_dir}", template=base)
