"""Test kit: exact-toy checks of power samplers for anyone's CI.

Import explicitly (``import exact.testing``); ``import exact`` never loads it,
because the strategies need Hypothesis (and the plugin needs pytest, imported
only by ``exact.testing.plugin``).  One import gives everything::

    from exact.testing import assert_sampler_matches, power_target, tabular_models

* :mod:`exact.testing.assertions` -- ``assert_normalized``,
  ``assert_autoregressive_factorization``, ``assert_power_conditionals``,
  ``assert_sampler_matches`` (chi-square / G-test of a sampler against an exact
  law, stated false-alarm rate), ``assert_draws_match`` (draws made anywhere,
  variable-length completions under EOS included), ``assert_reproducible``
  (the seed controls the draws) and the exact targets ``power_target``,
  ``temperature_target``, ``base_target``;
* :mod:`exact.testing.strategies` -- bounded Hypothesis strategies for random
  models, exponents and prefixes;
* :mod:`exact.testing.plugin` -- pytest options ``--power-toy-draws``,
  ``--power-toy-examples``, ``--power-toy-alpha-level``, ``--power-toy-seed`` and
  fixtures (enable with ``pytest_plugins = ["exact.testing.plugin"]`` in your
  root ``conftest.py``).
"""

from ..models import MarkovAR, TabularAR
from ..power import log_power_joint, power_conditional, power_joint, temp_conditional
from ..synthetic import pivotal_example
from .assertions import *  # noqa: F401,F403
from .assertions import __all__ as _assertions_all
from .strategies import *  # noqa: F401,F403
from .strategies import __all__ as _strategies_all

__all__ = [
    *_assertions_all,
    *_strategies_all,
    "TabularAR",
    "MarkovAR",
    "pivotal_example",
    "power_joint",
    "log_power_joint",
    "power_conditional",
    "temp_conditional",
]
