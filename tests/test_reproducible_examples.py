"""A Hypothesis test draws the same examples whatever else the run imported (tests/conftest.py).

A failure in the full suite must reproduce when its test file runs alone.  The full run
imports far more of our modules (``llm``, ``figures``, ``proofs_check``, ...) than one file
does; Hypothesis's pool of "local constants" (literals of every imported non-test module)
used to follow ``sys.modules``, so the same derandomised test drew different examples.
Here a module full of new float and integer literals is imported between two runs of one
test: the drawn examples must be identical.
"""

import importlib
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

PROBE = '''"""Literals that a local-constant pool would pick up."""
VALUES = (0.1234567, 0.2345678, 0.3456789, 0.4567891, 0.5678912, 0.6789123, 0.7891234, 0.8912345)
COUNTS = (17, 23, 29, 31, 37, 41, 43, 47)
'''


def _draws() -> list:
    seen = []

    @settings(max_examples=60, derandomize=True, database=None)
    @given(st.lists(st.floats(0.0, 1.0), min_size=3, max_size=6), st.integers(0, 50))
    def probe(values, count):
        seen.append((tuple(values), count))

    probe()
    return seen


def test_examples_do_not_depend_on_imported_modules(tmp_path, monkeypatch):
    before = _draws()
    (tmp_path / "pool_probe_module.py").write_text(PROBE)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("pool_probe_module")
    try:
        after = _draws()
    finally:
        sys.modules.pop("pool_probe_module", None)
    assert module.VALUES and after == before
