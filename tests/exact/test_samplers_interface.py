"""``exact.power_smc`` (the one vectorised law-estimator left in ``exact``) runs on a model that offers only
``horizon``, ``vocab_sizes`` and ``next_token_logprobs``.

Bit-identical outputs (same seed) to the table fast path show it touches nothing else, so
it runs on any model (a long ``MarkovAR``).  The samplers themselves live in ``llm``.
"""

from __future__ import annotations

import numpy as np
import pytest

import exact
from exact import samplers as S


class InterfaceOnly:
    """Hides everything but the batched next-token interface of a wrapped model."""

    def __init__(self, model):
        self._model = model
        self.horizon = model.horizon
        self.vocab_sizes = model.vocab_sizes

    def next_token_logprobs(self, contexts):
        return self._model.next_token_logprobs(contexts)

    def check_prefix(self, prefix):
        return self._model.check_prefix(prefix)


ROUTINES = {
    "sir": lambda m, rng: S.power_smc(m, 3.0, 4, 200, rng, ess_threshold=0.0, proposal="base").particles,
    "power_smc": lambda m, rng: S.power_smc(m, 3.0, 4, 50, rng, ess_threshold=1.0, ramp=True).particles,
}


@pytest.mark.parametrize("name", sorted(ROUTINES))
def test_interface_only_model_gives_identical_draws(name):
    model = exact.TabularAR.random((3, 2, 3), seed=1)
    fast = ROUTINES[name](model, np.random.default_rng(5))
    slow = ROUTINES[name](InterfaceOnly(model), np.random.default_rng(5))
    np.testing.assert_array_equal(fast, slow)
