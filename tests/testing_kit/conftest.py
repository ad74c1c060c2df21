"""The test kit's own tests: enable the plugin's options and fixtures, make the zoo importable.

A ``conftest.py`` below the root may not set ``pytest_plugins``, so the plugin is
star-imported (its ``pytest_addoption`` is idempotent, so this stays safe if the
``pytest11`` entry point loads it too).
"""

import sys
from pathlib import Path

from exact.testing.plugin import *  # noqa: F401,F403

sys.path.insert(0, str(Path(__file__).parent))  # sampler_zoo, readme_example
