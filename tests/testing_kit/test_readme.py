"""The README's "Test your sampler in 10 lines" example runs, and README and snippet cannot drift.

The snippet lives in ``readme_example.py``; once README.md has the section, its first
```python block must equal that file character for character.
"""

import re
from pathlib import Path

import numpy as np
import pytest

import exact

SNIPPET = Path(__file__).with_name("readme_example.py")
README = Path(__file__).parents[2] / "README.md"
HEADING = "## Test your sampler in 10 lines"


def _namespace() -> dict:
    namespace: dict = {"__name__": "readme_example"}
    exec(compile(SNIPPET.read_text(), str(SNIPPET), "exec"), namespace)
    return namespace


def test_readme_example_passes():
    namespace = _namespace()
    tests = [value for name, value in namespace.items() if name.startswith("test_")]
    assert len(tests) == 1
    for test in tests:
        test()


def test_readme_example_fails_for_per_token_temperature_sampling():
    namespace = _namespace()
    namespace["my_sampler"] = lambda model, n, rng: _temperature(model, 2.0, n, rng)
    with pytest.raises(AssertionError, match="does not match the target"):
        namespace["test_my_sampler_draws_the_power_distribution"]()


def _temperature(model, alpha, n, rng):
    out = np.zeros((n, model.horizon), dtype=np.int64)
    for row in range(n):
        for t in range(model.horizon):
            q = exact.temp_conditional(model, out[row, :t], alpha)
            out[row, t] = rng.choice(q.size, p=q)
    return out


def test_snippet_is_at_most_ten_lines():
    assert len(SNIPPET.read_text().strip().splitlines()) <= 10


def test_readme_section_matches_the_snippet():
    text = README.read_text(encoding="utf-8") if README.exists() else ""
    if HEADING not in text:
        pytest.skip(f"README.md has no {HEADING!r} section yet")
    section = text.split(HEADING, 1)[1]
    block = re.search(r"```python\n(.*?)```", section, flags=re.S)
    assert block is not None, "the README section has no ```python block"
    assert block.group(1).strip() == SNIPPET.read_text().strip()
