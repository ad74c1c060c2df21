"""The HF backend's side of the vLLM tests, run in the MAIN environment: ``python vllm_reference.py OUT``.

vLLM pins a transformers release older than the one ``llm.HFModel`` is written for, so the
Hugging Face reference cannot run next to the engine.  This script builds the tiny Llama of
``VLLM_TINY`` (``llm.tiny_causal_lm``), saves it as a Hugging Face directory ``OUT/model``
for vLLM to load, and writes what ``llm.HFModel`` computes on it to ``OUT/hf_reference.json``:
next-token log-probs after the prompt followed by every sequence of at most ``T`` tokens, and
the per-token scores of every completion of at most ``T`` tokens.  The vLLM environment
rebuilds the exact law from those log-probs (``llm.enumerate_exact`` on a lookup model).
"""

import itertools
import json
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPOSITORY))

#: The tiny Llama that the vLLM backend serves (``llm.tiny_causal_lm`` arguments): V = 3 with EOS = 2, T = 3.
#: vLLM's CPU attention takes head sizes 32, 64, ... (``CPUAttentionBackend.get_supported_head_sizes``);
#: the default hidden size 16 with two heads is 8, so hidden_size = 64, at which sharpness 2 (not 3)
#: keeps the conditionals away from point masses; seed 24 gives |y| = 1, 2, 3 the masses 0.56, 0.33,
#: 0.11 and MH at B = T reaches TV 0.01 of π_α in 5 steps.
VLLM_TINY = dict(vocab_size=3, horizon=3, eos_token_id=2, seed=24, hidden_size=64, sharpness=2.0)


def sequences(vocab_size: int, horizon: int) -> list[list[int]]:
    """Every token sequence of length 0..horizon (EOS anywhere)."""
    return [list(s) for t in range(horizon + 1) for s in itertools.product(range(vocab_size), repeat=t)]


def main(out: Path) -> None:
    import torch

    import llm

    torch.set_num_threads(1)
    tiny = llm.tiny_causal_lm(**VLLM_TINY)
    tiny.model.save_pretrained(out / "model")
    tiny.tokenizer.save_pretrained(out / "model")
    prompt = list(tiny.prompt_ids)
    suffixes = sequences(VLLM_TINY["vocab_size"], VLLM_TINY["horizon"])
    logprobs = tiny.lm.next_token_logprobs([prompt + s for s in suffixes])
    completions = [s for s in suffixes if s]
    scores = tiny.lm.score([prompt] * len(completions), completions)
    reference = {
        "tiny": VLLM_TINY,
        "prompt": prompt,
        "next_token": [[s, row] for s, row in zip(suffixes, logprobs.tolist())],
        "scores": [[c, row.tolist()] for c, row in zip(completions, scores)],
        "joint": tiny.exact_model.joint().ravel().tolist(),
    }
    (out / "hf_reference.json").write_text(json.dumps(reference))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
