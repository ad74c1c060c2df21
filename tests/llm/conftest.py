"""Fixtures for the ``llm`` tests (the real model fixture ``real_model`` is in tests/conftest.py).

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
