"""The kit catches real mistakes: the broken-sampler zoo on the suffix-entropy toy.

Documented check (``sampler_zoo``): α = 2, N_MCMC = 20, n = 1000 draws,
alpha_level = 0.01, top-k = 2.  Exact laws of every sampler come from the
brute-force MH kernel (``init @ K^N_MCMC``), cross-checked against
``exact.samplers.mh_output_distribution`` when that module is present.
Power over many seeds: ``measure_power.py`` (slow test at the bottom).
"""

import numpy as np
import pytest

import exact
import exact.testing as kit
from sampler_zoo import (
    ALPHA,
    ALPHA_LEVEL,
    N_DRAWS,
    N_MCMC,
    SUFFIX_ENTROPY_JOINT,
    TOP_K,
    InterfaceOnly,
    VARIANTS,
    mh_output_law,
    mh_transition_matrix,
    suffix_entropy_toy,
    temperature_law,
    zoo,
)

BROKEN = ("flipped", "dropped", "top_k", "temperature")


def _exact_law(name, n_mcmc=N_MCMC):
    if name == "temperature":
        return temperature_law(SUFFIX_ENTROPY_JOINT, ALPHA)
    return mh_output_law(SUFFIX_ENTROPY_JOINT, ALPHA, n_mcmc, name, TOP_K)


# -- the exact analysis is right --------------------------------------------------------------
def test_brute_force_kernel_matches_the_engine_output_distribution():
    samplers = pytest.importorskip("exact.samplers")
    if not hasattr(samplers, "mh_output_distribution"):
        pytest.skip("exact.samplers.mh_output_distribution not available")
    for model in (suffix_entropy_toy(), exact.pivotal_example(), exact.TabularAR.random(2, 3, seed=4, zero_fraction=0.3)):
        joint = model.joint()
        for n_mcmc in (0, 1, 7):
            engine = samplers.mh_output_distribution(model, ALPHA, model.horizon, n_mcmc).probabilities
            np.testing.assert_allclose(mh_output_law(joint, ALPHA, n_mcmc), engine, atol=1e-12)


@pytest.mark.parametrize("variant", VARIANTS)
def test_kernels_are_stochastic_and_only_the_correct_one_keeps_the_power_distribution(variant):
    target = kit.power_target(suffix_entropy_toy(), ALPHA).reshape(-1)
    _, K = mh_transition_matrix(SUFFIX_ENTROPY_JOINT, ALPHA, variant, TOP_K)
    np.testing.assert_allclose(K.sum(axis=1), 1.0, atol=1e-12)
    assert np.all(K >= -1e-15)
    drift = np.abs(target @ K - target).max()
    if variant == "correct":
        assert drift < 1e-12  # detailed balance: π_α K = π_α
    else:
        assert drift > 1e-3


def test_mcmc_error_of_the_correct_sampler_is_far_below_the_check_resolution():
    """``n · χ²(law ‖ π_α)`` is the chi-square noncentrality the MCMC bias adds: ≈ 2e-3 ≪ 1."""
    target = kit.power_target(suffix_entropy_toy(), ALPHA)
    assert kit.check_power(_exact_law("correct"), target, N_DRAWS).noncentrality < 0.01


@pytest.mark.parametrize("name", BROKEN)
def test_broken_samplers_are_far_from_the_power_distribution(name):
    """Predicted power (noncentral chi-square) of the documented check is ≥ 0.999 for each bug."""
    target = kit.power_target(suffix_entropy_toy(), ALPHA)
    assert kit.check_power(_exact_law(name), target, N_DRAWS, ALPHA_LEVEL).power >= 0.999


# -- the zoo samplers draw their exact laws -------------------------------------------------
@pytest.mark.parametrize("name", ("correct", *BROKEN))
def test_zoo_samplers_draw_their_exact_law(name):
    model = suffix_entropy_toy()
    kit.assert_sampler_matches(zoo()[name], model, _exact_law(name), N_DRAWS, np.random.default_rng(1000))


# -- the documented check ----------------------------------------------------------------------
def test_correct_sampler_passes_the_documented_check():
    model = suffix_entropy_toy()
    kit.assert_sampler_matches(
        zoo()["correct"], model, kit.power_target(model, ALPHA), N_DRAWS, np.random.default_rng(0), ALPHA_LEVEL
    )


def test_the_check_needs_only_the_model_interface():
    model = InterfaceOnly(suffix_entropy_toy())
    target = kit.power_target(model, ALPHA)  # by enumerating log_prob
    kit.assert_sampler_matches(zoo()["correct"], model, target, N_DRAWS, np.random.default_rng(0), ALPHA_LEVEL)
    with pytest.raises(AssertionError, match="does not match"):
        kit.assert_sampler_matches(zoo()["dropped"], model, target, N_DRAWS, np.random.default_rng(0), ALPHA_LEVEL)


@pytest.mark.parametrize("name", BROKEN)
def test_each_broken_sampler_fails_the_documented_check(name):
    model = suffix_entropy_toy()
    with pytest.raises(AssertionError, match=f"sampler 'mh_{name}'|sampler '{name}'") as info:
        kit.assert_sampler_matches(
            zoo()[name], model, kit.power_target(model, ALPHA), N_DRAWS, np.random.default_rng(0), ALPHA_LEVEL
        )
    assert "worst cells" in str(info.value)


@pytest.mark.slow
def test_power_and_false_alarm_rate_over_seeds():
    """Done-when of issue 9, over 400 seeds per sampler (≈ 1 min): every bug caught with rate ≥ 0.99,
    false-alarm rate of the correct sampler within a factor 2 of alpha_level (2000 seeds)."""
    from measure_power import measure

    rates = measure(seeds=400, null_seeds=2000)
    for name in BROKEN:
        assert rates[name] >= 0.99, (name, rates)
    assert ALPHA_LEVEL / 2 <= rates["correct"] <= 2 * ALPHA_LEVEL, rates
