"""Fixtures for the ``llm`` tests (the real model fixture ``real_model`` is in tests/conftest.py).

Torch runs single-threaded in these tests (``LLM_TEST_THREADS`` overrides; the
previous setting is restored after each test): on a shared 2-core machine two
OpenMP threads per process made a forward pass ~15x slower and a (4, 3)
``log_softmax`` ~1000x slower.
"""

import os
import sys
from pathlib import Path

import pytest
import torch

# helper modules of these tests (``native_engine``) import by name, like tests/reference_law.py
sys.path.insert(0, str(Path(__file__).resolve().parent))


THREADS = int(os.environ.get("LLM_TEST_THREADS", "1"))


@pytest.fixture(autouse=True)
def _torch_threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    yield
    torch.set_num_threads(previous)



class HFReference:
    """What ``llm.HFModel`` computed on the vLLM tests' tiny Llama (tests/llm/vllm_reference.py), as a lookup.

    ``next_token_logprobs`` answers for the prompt followed by at most ``T`` tokens (a
    :class:`llm.LanguageModel` enough for ``llm.enumerate_exact``); ``score`` for completions of
    at most ``T`` tokens after the prompt.
    """

    def __init__(self, data: dict):
        self.prompt = list(data["prompt"])
        self.vocab_size = data["tiny"]["vocab_size"]
        self.eos_token_id = data["tiny"]["eos_token_id"]
        self.horizon_tokens = data["tiny"]["horizon"]
        self._next = {tuple(self.prompt + s): row for s, row in data["next_token"]}
        self._scores = {tuple(c): row for c, row in data["scores"]}
        self.joint = data["joint"]

    def next_token_logprobs(self, contexts):
        import torch

        return torch.tensor([self._next[tuple(int(i) for i in c)] for c in contexts], dtype=torch.float64)

    def score(self, prompts, completions):
        import torch

        assert all(list(p) == self.prompt for p in prompts)
        return [torch.tensor(self._scores[tuple(int(i) for i in c)] if c else [], dtype=torch.float64) for c in completions]


@pytest.fixture(scope="session")
def vllm_tiny(tmp_path_factory):
    """``(reference, exact_model, llm.VLLMModel)`` for the tiny Llama of ``vllm_reference.VLLM_TINY``.

    The model directory and the HF backend's log-probs come from tests/llm/vllm_reference.py run by
    ``$HF_REFERENCE_PYTHON`` (the main environment's Python; ``make test-vllm`` sets it), so the
    reference is the transformers the default suite tests, not the older one vLLM pins.  ``exact_model``: ``llm.enumerate_exact``
    over the HF log-probs (EOS-absorbing).  The engine runs with LoRA enabled (rank <= 8), so the
    students of tests/llm/test_vllm_students.py share it; requests without an adapter compute the
    plain network (the base tests here check that).  ONE engine per test session (start ~1.5 min on CPU);
    skipped where vLLM is not installed.  A vLLM that is installed but fails to import (e.g. a
    mismatched torchvision) is an error, not a skip.
    """
    import json
    import subprocess
    import sys
    from pathlib import Path

    pytest.importorskip("vllm", reason="vLLM is not installed here: `make test-vllm` runs these tests in .venv-vllm")
    import llm

    out = tmp_path_factory.mktemp("vllm-tiny")
    python = os.environ.get("HF_REFERENCE_PYTHON", sys.executable)
    subprocess.run([python, str(Path(__file__).with_name("vllm_reference.py")), str(out)], check=True)
    reference = HFReference(json.loads((out / "hf_reference.json").read_text()))
    exact_model = llm.enumerate_exact(reference, reference.prompt, range(reference.vocab_size), reference.horizon_tokens)
    engine = llm.VLLMModel(str(out / "model"), dtype="float32", max_model_len=64, seed=0, enable_lora=True, max_lora_rank=8)
    yield reference, exact_model, engine
    engine.close()
