"""The kit catches the bugs real sampler code has under EOS: the EOS zoo on its documented toys.

Documented check (``eos_zoo``): n = 1000 completions, alpha_level = 0.01; MH (one block,
30 steps) at α = 4 and Power-SMC (32 particles) at α = 2 on ``eos_toy(5)``, scalable
(4 rollouts, no jackknife) at α = 2 on ``eos_toy(7)``.  Power over many seeds:
``measure_eos_power.py`` (slow test at the bottom).
"""

import numpy as np
import pytest

import exact
import exact.testing as kit
from eos_zoo import (
    ALPHA_LEVEL,
    FAMILY_ALPHA,
    MH_VARIANTS,
    N_DRAWS,
    N_MCMC,
    as_padded_table,
    completions_of,
    documented_check,
    eos_toy,
    mh_kernel,
    mh_law,
    zoo,
)
from measure_eos_power import caught

CORRECT = ("mh_correct", "smc_correct", "scalable_correct")
BROKEN = tuple(name for name in zoo() if name not in CORRECT)
MH_ALPHA = FAMILY_ALPHA["mh"]


def _family(name: str) -> str:
    return name.split("_", 1)[0]


# -- the brute-force analysis is right ---------------------------------------------------------------
def test_completions_of_the_toy_cover_the_model_and_end_where_they_should():
    toy = eos_toy()
    states = completions_of(toy)
    table = as_padded_table(toy, states, np.ones(len(states)))
    assert np.all((toy.joint() > 0) == (table > 0))
    assert all(len(y) == toy.horizon or y[-1] == toy.eos_token_id for y in states)
    assert any(len(y) < toy.horizon for y in states)


@pytest.mark.parametrize("variant", [v for v in MH_VARIANTS if v != "capped"])
def test_mh_kernels_are_stochastic_and_only_the_correct_one_keeps_the_power_distribution(variant):
    toy = eos_toy()
    states, _, K = mh_kernel(toy, variant, MH_ALPHA)
    np.testing.assert_allclose(K.sum(axis=1), 1.0, atol=1e-12)
    assert np.all(K >= -1e-15)
    padded = exact.pad_completions(states, toy.horizon, toy.eos_token_id)
    target = exact.power_joint(toy, MH_ALPHA)[tuple(padded.T)]
    drift = np.abs(target @ K - target).max()
    if variant == "correct":
        assert drift < 1e-12  # detailed balance with the Hastings factor |y|/|y'|
    else:
        assert drift > 1e-3


def test_without_the_hastings_factor_mh_targets_the_length_biased_law():
    """The missing |y|/|y'| makes the stationary law ∝ |y| π(y)^α (what the issue measured)."""
    toy = eos_toy()
    states, _, K = mh_kernel(toy, "no_hastings", MH_ALPHA)
    padded = exact.pad_completions(states, toy.horizon, toy.eos_token_id)
    biased = toy.completion_lengths(padded) * np.exp(MH_ALPHA * toy.log_prob(padded))
    biased /= biased.sum()
    np.testing.assert_allclose(biased @ K, biased, atol=1e-12)


def test_brute_force_law_matches_the_engine_output_distribution():
    toy = eos_toy()
    for n_mcmc in (0, 1, 5):
        engine = exact.mh_output_distribution(toy, MH_ALPHA, toy.horizon, n_mcmc).probabilities
        np.testing.assert_allclose(mh_law(toy, "correct", MH_ALPHA, n_mcmc), engine, atol=1e-12)


def test_mcmc_error_of_the_correct_mh_is_far_below_the_check_resolution():
    documented = documented_check("mh")
    assert kit.check_power(mh_law(documented.toy), documented.target, N_DRAWS).noncentrality < 0.05


@pytest.mark.parametrize("variant", ["no_hastings", "dropped_tail", "tempered_as_base"])
def test_predicted_power_of_the_check_against_each_mh_bug(variant):
    """Noncentral chi-square power of the documented check, from the exact law of the broken chain."""
    documented = documented_check("mh")
    assert kit.check_power(mh_law(documented.toy, variant), documented.target, N_DRAWS, ALPHA_LEVEL).power >= 0.99


@pytest.mark.parametrize("variant", [v for v in MH_VARIANTS if v != "capped"])
def test_zoo_mh_samplers_draw_their_exact_law(variant):
    toy = eos_toy()
    completions = zoo()[f"mh_{variant}"](toy, N_DRAWS, np.random.default_rng(2024))
    draws = exact.pad_completions(completions, toy.horizon, toy.eos_token_id)
    assert exact.chi_square_pvalue(draws, mh_law(toy, variant, MH_ALPHA, N_MCMC)) > 1e-3


# -- the documented check -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", CORRECT)
def test_correct_samplers_pass_the_documented_check(name):
    assert caught(zoo()[name], _family(name), seed=0) is None


@pytest.mark.parametrize("name", BROKEN)
def test_each_broken_sampler_fails_the_documented_check(name):
    expected = {"mh_capped": "not a completion of the model", "smc_unseeded": "not reproducible"}
    assert caught(zoo()[name], _family(name), seed=0) == expected.get(name, "chi-square")


@pytest.mark.slow
def test_power_and_false_alarm_rate_over_seeds():
    """Every EOS bug caught in ≥ 99% of 200 seeds; correct samplers' false-alarm rate within a
    factor 2 of alpha_level over 1500 seeds each (≈ 6 min)."""
    from measure_eos_power import measure

    rates = measure(seeds=200, null_seeds=1500)
    for name in BROKEN:
        assert rates[name] >= 0.99, (name, rates)
    for name in CORRECT:
        assert ALPHA_LEVEL / 2 <= rates[name] <= 2 * ALPHA_LEVEL or rates[name] < ALPHA_LEVEL, (name, rates)
