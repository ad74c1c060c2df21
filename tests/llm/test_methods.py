"""llm.methods: one registry of methods behind the command line, the teacher, the evaluation and the figures.

Reference values come from ``exact``: every method's completions are scored against the
exact joint of a ``TabularAR`` toy, and Power-SMC's completions (one particle per
independent run, drawn by final weight) against ``exact.samplers.sir_output_distribution``
on a two-token horizon, where the tempered proposal makes the first weight increment the
same for every particle, so no intermediate resampling happens and Power-SMC is SIR.
"""

import argparse

import numpy as np
import pytest
import torch

import exact
import llm
from exact.samplers import chi_square_pvalue, sir_output_distribution
from llm.methods import METHODS, SamplerConfig, add_arguments, config_from_args, draw

SMALL = dict(block_size=1, n_mcmc=1, candidates=2, top_k=2, rollouts=2, particles=3)


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_draws_n_completions_scored_by_the_exact_model(method):
    model = exact.TabularAR.random(3, 3, 0)
    out = draw(llm.ToyModel(model), [], 4, SamplerConfig(method, 2.0, None, **SMALL), torch.Generator().manual_seed(1))
    assert len(out) == 4 and out.model_calls > 0 and out.seconds >= 0
    for tokens, logprobs in zip(out.tokens, out.logprobs):
        assert len(tokens) == len(logprobs) == 3
        assert float(logprobs.sum()) == pytest.approx(np.log(model.joint()[tuple(tokens)]), abs=1e-10)


def test_power_smc_completions_follow_the_exact_sir_law_on_a_two_token_horizon():
    """n = 300 runs of N = 2 particles, α = 4 (toy V = 3, T = 2, seed 10); χ² p-value > 1e-3 at a fixed seed.

    Picking the particle uniformly instead of by weight gives the proposal's law, whose
    χ² noncentrality against this one is 0.14 per draw (≈ 43 at n = 300: p ≈ 1e-8).
    """
    model = exact.TabularAR.random(3, 2, 10)
    out = draw(llm.ToyModel(model), [], 300, SamplerConfig("power-smc", 4.0, None, particles=2), torch.Generator().manual_seed(0))
    law = sir_output_distribution(model, 4.0, 2, "temperature").probabilities
    assert chi_square_pvalue(np.array(out.tokens), law) > 1e-3
    assert out.log_evidence.shape == (300,) and out.n_resamples == [0] * 300


def test_power_scalable_gets_every_setting_of_the_config():
    lm = llm.ToyModel(exact.TabularAR.random(3, 4, 2))
    config = SamplerConfig("power-scalable", 3.0, None, top_k=2, rollouts=3, rollout_horizon=1, jackknife=False)
    via_registry = draw(lm, [], 3, config, torch.Generator().manual_seed(5))
    direct = llm.sample_power_scalable(lm, [], 3, 3.0, torch.Generator().manual_seed(5), 2, 3, 1, False, progress=False)
    assert via_registry.tokens == direct.tokens
    assert via_registry.forward_tokens == direct.forward_tokens  # same K, M and H: the same work


def test_settings_keep_the_four_historical_fields_and_add_the_method_s_own():
    """Teacher files written before the registry grew record these four settings; they must still resume."""
    historical = {"max_new_tokens": 32, "block_size": 8, "n_mcmc": 2, "candidates": 4}
    for method in ("standard", "temperature", "power-mh", "power-inf", "bon"):
        assert SamplerConfig(method).settings() == historical
    assert SamplerConfig("power-smc", particles=5).settings() == {**historical, "particles": 5}
    assert SamplerConfig("power-scalable").settings() == {
        **historical, "top_k": 8, "rollouts": 8, "rollout_horizon": None, "jackknife": True,
    }


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"method": "power-xyz"}, "unknown method 'power-xyz'; choose from standard, temperature"),
        ({"alpha": 0.0}, "alpha must be > 0"),
        ({"particles": 0}, "particles must be a positive integer"),
        ({"top_k": 2.5}, "top_k must be a positive integer"),
        ({"max_new_tokens": 0}, "max_new_tokens must be a positive integer"),
        ({"rollout_horizon": -1}, "rollout_horizon must be None or an integer >= 0"),
    ],
)
def test_bad_configs_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        SamplerConfig(**changes)


def test_draw_refuses_bad_arguments():
    lm = llm.ToyModel(exact.TabularAR.random(2, 2, 0))
    with pytest.raises(ValueError, match="n must be a positive integer"):
        draw(lm, [], 0, SamplerConfig("standard"), torch.Generator())
    with pytest.raises(ValueError, match="generator must be a torch.Generator"):
        draw(lm, [], 1, SamplerConfig("standard"), np.random.default_rng(0))
    with pytest.raises(ValueError, match="config must be a SamplerConfig"):
        draw(lm, [], 1, "standard", torch.Generator())


def test_every_registered_field_and_method_is_on_the_command_lines():
    from llm.__main__ import build_parser

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    config = config_from_args(parser.parse_args(["--particles", "5", "--no-jackknife", "--rollout-horizon", "2"]))
    assert config == SamplerConfig(particles=5, jackknife=False, rollout_horizon=2)
    assert config_from_args(parser.parse_args([]), "power-smc") == SamplerConfig("power-smc")
    for command in (["sample", "--prompt", "x"], ["teacher", "--n", "1", "--out", "t.jsonl"]):
        for method in METHODS:
            assert build_parser().parse_args([*command, "--method", method]).method == method
    assert {m.name for m in METHODS.values()} == set(METHODS)
    assert all(set(m.reads) <= set(SamplerConfig.__dataclass_fields__) for m in METHODS.values())
