"""Shared fixtures of the figure tests: ``cli``, the ``paper_repro.py`` script loaded as a module."""

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "paper_repro.py"


@pytest.fixture(scope="module")
def cli():
    """``paper_repro.py`` as a module (its ``main(argv)`` runs in-process)."""
    spec = importlib.util.spec_from_file_location("paper_repro", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
