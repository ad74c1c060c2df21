import numpy as np
import exact
from exact.testing import assert_sampler_matches, power_target

def my_sampler(model, n, rng):  # yours: (model, n, rng) -> (n, T) array of token ids
    return exact.sample_power(model, 2.0, n, rng)  # exact, so this passes

def test_my_sampler_draws_the_power_distribution():
    model = exact.pivotal_example()  # or exact.TabularAR.random(vocab_size=3, horizon=3, seed=0)
    assert_sampler_matches(my_sampler, model, power_target(model, alpha=2.0), n=1000, rng=np.random.default_rng(0))
