"""``llm.HFModel(path, adapter=dir)`` loads a LoRA student merged into the base weights (Algorithm 1's output)."""

import peft
import torch
import transformers

import llm
from llm.experiments.distill import LORA_TARGETS


def test_adapter_is_merged_exactly_as_peft_merges_it(real_model, tmp_path):
    torch.manual_seed(0)
    vocab = real_model.vocab_size
    config = transformers.LlamaConfig(
        vocab_size=vocab, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=1, max_position_embeddings=64,
    )
    base = transformers.LlamaForCausalLM(config)
    base.save_pretrained(tmp_path / "base")
    real_model.tokenizer.save_pretrained(tmp_path / "base")  # the real tokenizer, so ids mean something

    lora = peft.get_peft_model(base, peft.LoraConfig(r=4, lora_alpha=8, target_modules=list(LORA_TARGETS)))
    with torch.no_grad():  # LoRA's B starts at zero; make the adapter change the model
        for name, parameter in lora.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0.0, 0.5)
    lora.save_pretrained(tmp_path / "adapter")
    ids = torch.tensor([[1, 2, 3, 4]])
    with torch.no_grad():
        expected = torch.log_softmax(lora(input_ids=ids).logits[0, -1].double(), -1)

    student = llm.HFModel(str(tmp_path / "base"), adapter=tmp_path / "adapter")
    base_only = llm.HFModel(str(tmp_path / "base"))
    got = student.next_token_logprobs([[1, 2, 3, 4]])[0].double()
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-4)
    assert (got - base_only.next_token_logprobs([[1, 2, 3, 4]])[0].double()).abs().max() > 1e-2  # the adapter mattered
    assert "lora" in student.name
