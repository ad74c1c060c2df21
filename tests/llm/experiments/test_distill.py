"""Student training (Algorithm 1, lines 9-11): completion-only loss, LoRA on B.1's projections, adapter round trip.

Runs on a tiny randomly initialised Llama (the default model's architecture at toy
size) so it takes a second; the real-model path runs in ``tests/figures/test_llm_figures.py``.
"""

import json

import pytest
import torch

from llm.experiments.distill import LORA_TARGETS, DistillConfig, build_examples, distill, load_student, wrap_model

import transformers


@pytest.fixture()
def tiny():
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=40, hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=1, max_position_embeddings=64, eos_token_id=1, pad_token_id=0,
        initializer_range=0.5,  # large enough that the output head can express a sharp next-token law
    )
    return wrap_model(transformers.LlamaForCausalLM(config), None, "tiny-llama")


RECORDS = [{"prompt_tokens": [5, 6, 7], "tokens": [9, 10, 11, 1]}, {"prompt_tokens": [8], "tokens": [12, 13, 1]}]


def test_prompt_tokens_are_masked_and_long_examples_truncated():
    examples = build_examples(RECORDS, max_length=5)
    assert examples[0] == {"input_ids": [5, 6, 7, 9, 10], "labels": [-100, -100, -100, 9, 10]}
    assert examples[1] == {"input_ids": [8, 12, 13, 1], "labels": [-100, 12, 13, 1]}
    with pytest.raises(ValueError, match="no training example"):
        build_examples([{"prompt_tokens": [1, 2, 3], "tokens": [4]}], max_length=3)


def test_completion_only_loss_is_the_mean_nll_of_completion_tokens(tiny):
    from llm.experiments.distill import _Collator

    batch = _Collator(tiny.pad_token_id)(build_examples(RECORDS, 1024))
    with torch.no_grad():
        loss = float(tiny.model(**batch).loss)
    # independent route: the model's own per-token scores of the completions, prompt masked
    scores = tiny.score([r["prompt_tokens"] for r in RECORDS], [r["tokens"] for r in RECORDS])
    expected = -float(torch.cat(scores).mean())
    assert loss == pytest.approx(expected, abs=1e-4)


def test_distill_lowers_the_loss_saves_adapter_and_curve_and_reloads(tiny, tmp_path):
    before = tiny.score([[5, 6, 7]], [[9, 10, 11, 1]])[0]
    config = DistillConfig(epochs=10, learning_rate=2e-1, grad_accum=1)
    result = distill(RECORDS * 2, tmp_path / "student", tiny, config)
    curve = json.loads((tmp_path / "student" / "training_curve.json").read_text())
    assert curve == result.curve and len(curve) == 40  # 4 examples x 10 epochs, batch 1, no accumulation
    assert curve[0]["learning_rate"] == 0.0  # linear warm-up over ceil(0.03 * 40) = 2 steps starts at 0
    first, last = sum(c["loss"] for c in curve[:4]) / 4, sum(c["loss"] for c in curve[-4:]) / 4
    assert last < first - 0.5
    adapter = json.loads((tmp_path / "student" / "adapter_config.json").read_text())
    assert set(adapter["target_modules"]) == set(LORA_TARGETS)
    assert (adapter["r"], adapter["lora_alpha"], adapter["lora_dropout"]) == (16, 32, 0.05)
    torch.testing.assert_close(tiny.score([[5, 6, 7]], [[9, 10, 11, 1]])[0], before)  # the base is untouched
    student = load_student(tmp_path / "student", tiny)
    after = student.score([[5, 6, 7]], [[9, 10, 11, 1]])[0]
    assert float(after.sum()) > float(before.sum()) + 1.0  # the student likes its training completion more
    with torch.no_grad():  # the merged reload equals the in-memory adapter model
        ids = torch.tensor([[5, 6, 7, 9, 10, 11, 1]])
        logits = result.model(input_ids=ids).logits[0, 2:-1]
        reference = torch.log_softmax(logits.double(), -1).gather(-1, ids[0, 3:, None]).squeeze(-1)
    torch.testing.assert_close(after, reference, atol=1e-4, rtol=0)


def test_a_rerun_replaces_the_whole_adapter_folder_and_a_concurrent_one_is_refused(tiny, tmp_path):
    from exact._atomic_output import OutputLocked, exclusive_lock

    out = tmp_path / "student"
    distill(RECORDS, out, tiny, DistillConfig(epochs=1, grad_accum=1))
    (out / "stale.txt").write_text("from an older run")
    distill(RECORDS, out, tiny, DistillConfig(epochs=2, grad_accum=1))
    assert json.loads((out / "distill_config.json").read_text())["epochs"] == 2
    assert not (out / "stale.txt").exists()  # the folder is one set: nothing of the old one is kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["student"]  # no staging or lock left
    with exclusive_lock(out):  # another distill run writing the same folder
        with pytest.raises(OutputLocked, match="another process"):
            distill(RECORDS, out, tiny, DistillConfig(epochs=1, grad_accum=1))
