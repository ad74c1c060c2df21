"""exact.testing.plugin: the --power-toy-* options reach the fixtures, in our suite and in a user's."""

import subprocess
import sys
import textwrap

import numpy as np

import exact

USER_TEST = '''
import hypothesis
import numpy as np

import exact
import exact.testing as kit

SEEN = []


def test_options_reach_the_fixtures(power_toy_draws, power_toy_examples, power_toy_alpha_level, power_toy_rng):
    assert (power_toy_draws, power_toy_examples, power_toy_alpha_level) == (123, 7, 0.05)
    assert isinstance(power_toy_rng, np.random.Generator)


def test_check_uses_the_options(power_toy_check):
    model = exact.pivotal_example()
    result = power_toy_check(lambda m, n, rng: exact.sample_power(m, 2.0, n, rng), model, kit.power_target(model, 2.0))
    assert result.n == 123


def test_examples_drive_hypothesis(power_toy_examples):
    @hypothesis.settings(max_examples=power_toy_examples, deadline=None, database=None)
    @hypothesis.given(kit.tabular_models(max_horizon=2))
    def check(model):
        SEEN.append(model)

    check()
    assert len(SEEN) == 7
'''


def _run_user_suite(tmp_path, conftest: str, *extra: str) -> subprocess.CompletedProcess:
    (tmp_path / "conftest.py").write_text(conftest)
    (tmp_path / "test_user.py").write_text(USER_TEST)
    options = ["--power-toy-draws=123", "--power-toy-examples=7", "--power-toy-alpha-level=0.05", "--power-toy-seed=5"]
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra, *options, str(tmp_path)]
    return subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=120)


def test_a_user_suite_enables_the_plugin_with_pytest_plugins(tmp_path):
    result = _run_user_suite(tmp_path, 'pytest_plugins = ["exact.testing.plugin"]\n')
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


def test_loading_the_plugin_twice_is_harmless(tmp_path):
    """As with a pytest11 entry point (here ``-p``) plus the conftest star-import we use ourselves."""
    result = _run_user_suite(tmp_path, "from exact.testing.plugin import *  # noqa\n", "-p", "exact.testing.plugin")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


def test_fixtures_in_our_suite_follow_the_command_line(pytestconfig, power_toy_draws, power_toy_alpha_level, power_toy_check):
    assert power_toy_draws == pytestconfig.getoption("power_toy_draws", 1000) >= 1
    assert 0 < power_toy_alpha_level < 1
    model = exact.pivotal_example()
    result = power_toy_check(lambda m, n, rng: exact.sample_power(m, 2.0, n, rng), model, exact.power_joint(model, 2.0))
    assert result.n == power_toy_draws


def test_each_test_gets_its_own_reproducible_stream(power_toy_rng, request):
    import zlib

    seed = request.config.getoption("power_toy_seed", 0)
    expected = np.random.default_rng([seed, zlib.crc32(request.node.nodeid.encode())]).random(3)
    np.testing.assert_array_equal(power_toy_rng.random(3), expected)


def test_plugin_docstring_example_is_the_user_suite_pattern():
    import exact.testing.plugin as plugin

    assert "@hypothesis.settings(max_examples=power_toy_examples" in textwrap.dedent(plugin.__doc__)
