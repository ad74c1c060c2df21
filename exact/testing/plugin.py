"""pytest plugin: command-line options and fixtures for exact-toy sampler checks.

Enable it in your project's root ``conftest.py``::

    pytest_plugins = ["exact.testing.plugin"]

(or, in a ``conftest.py`` below the root, ``from exact.testing.plugin import *``).
Then ``pytest --power-toy-draws=5000 --power-toy-examples=200`` sets:

* ``--power-toy-draws`` (fixture ``power_toy_draws``): draws ``n`` per sampler check (1000);
* ``--power-toy-examples`` (``power_toy_examples``): random toy models / Hypothesis examples per test (20);
* ``--power-toy-alpha-level`` (``power_toy_alpha_level``): false-alarm rate of each sampler check (0.01);
* ``--power-toy-seed`` (``power_toy_rng``): base seed; each test gets its own stream (0).

``power_toy_check(sampler, model, target)`` runs
:func:`exact.testing.assert_sampler_matches` with those settings.  For
Hypothesis tests, apply the example count inside the test::

    def test_my_sampler_on_random_models(power_toy_examples, power_toy_check):
        @hypothesis.settings(max_examples=power_toy_examples, deadline=None)
        @hypothesis.given(exact.testing.tabular_models(max_horizon=3))
        def check(model):
            power_toy_check(my_sampler, model, exact.testing.power_target(model, 2.0))
        check()

Note that with ``k`` sampler checks in one run, the chance that at least one
raises for an exact sampler is about ``k · alpha_level``: lower the level
accordingly (the check's power falls only slowly with it).
"""

from __future__ import annotations

import zlib
from typing import Callable

import numpy as np
import pytest

DEFAULT_DRAWS = 1000
DEFAULT_EXAMPLES = 20
DEFAULT_ALPHA_LEVEL = 0.01  # same as exact.testing.assertions.DEFAULT_ALPHA_LEVEL
DEFAULT_SEED = 0


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ``--power-toy-*`` options (idempotent: safe if the plugin is loaded twice)."""
    group = parser.getgroup("power-toy", "exact.testing: exact-toy checks of power samplers")
    options = [
        ("--power-toy-draws", int, DEFAULT_DRAWS, "draws per sampler check (default %(default)s)"),
        ("--power-toy-examples", int, DEFAULT_EXAMPLES, "random toy models / Hypothesis examples per test (default %(default)s)"),
        ("--power-toy-alpha-level", float, DEFAULT_ALPHA_LEVEL, "false-alarm rate of each sampler check (default %(default)s)"),
        ("--power-toy-seed", int, DEFAULT_SEED, "base seed of power_toy_rng (default %(default)s)"),
    ]
    for flag, kind, default, text in options:
        try:
            group.addoption(flag, type=kind, default=default, help=text)
        except ValueError:  # already registered (plugin loaded twice, e.g. entry point + conftest)
            pass


def _option(config: pytest.Config, name: str, default):
    return config.getoption(name, default=default)


@pytest.fixture
def power_toy_draws(pytestconfig: pytest.Config) -> int:
    """Draws per sampler check (``--power-toy-draws``)."""
    return int(_option(pytestconfig, "power_toy_draws", DEFAULT_DRAWS))


@pytest.fixture
def power_toy_examples(pytestconfig: pytest.Config) -> int:
    """Random toy models / Hypothesis examples per test (``--power-toy-examples``)."""
    return int(_option(pytestconfig, "power_toy_examples", DEFAULT_EXAMPLES))


@pytest.fixture
def power_toy_alpha_level(pytestconfig: pytest.Config) -> float:
    """False-alarm rate of each sampler check (``--power-toy-alpha-level``)."""
    return float(_option(pytestconfig, "power_toy_alpha_level", DEFAULT_ALPHA_LEVEL))


@pytest.fixture
def power_toy_rng(pytestconfig: pytest.Config, request: pytest.FixtureRequest) -> np.random.Generator:
    """A generator seeded by ``(--power-toy-seed, test id)``: reproducible, independent across tests."""
    seed = int(_option(pytestconfig, "power_toy_seed", DEFAULT_SEED))
    return np.random.default_rng([seed, zlib.crc32(request.node.nodeid.encode())])


@pytest.fixture
def power_toy_check(power_toy_draws: int, power_toy_alpha_level: float, power_toy_rng: np.random.Generator) -> Callable:
    """``check(sampler, model, target, **kwargs)``: :func:`exact.testing.assert_sampler_matches` with the
    options' ``n``, ``alpha_level`` and the test's generator (keyword arguments override them)."""
    from .assertions import assert_sampler_matches

    def check(sampler, model, target, **kwargs):
        settings = {"n": power_toy_draws, "rng": power_toy_rng, "alpha_level": power_toy_alpha_level, **kwargs}
        return assert_sampler_matches(sampler, model, target, **settings)

    return check


__all__ = [
    "pytest_addoption",
    "power_toy_draws",
    "power_toy_examples",
    "power_toy_alpha_level",
    "power_toy_rng",
    "power_toy_check",
]
