"""llm.methods.plan_work: a method's forward passes before it runs, against the model's own counters.

Reference: ``Completions.model_calls`` / ``forward_tokens`` of a run on an ``llm.ToyModel``
without EOS (a forward pass of ``r`` rows counts one call and ``r`` tokens).  Exact for every
method but MH / Power(∞), whose restart positions ``m ~ U{1..L_k}`` are random: there the mean
proposal length ``(L_k + 1)/2`` is checked over many chains within 4 standard deviations of the
sum, the variance of ``L_k - m + 1`` being ``(L_k² - 1)/12`` per proposal.
"""

import io
import json
import math
import sys

import pytest
import torch

import exact
import llm
from llm.methods import SamplerConfig, Workload, draw, plan_work

T = 12


def _toy():
    return llm.ToyModel(exact.TabularAR.random(3, T, seed=1))


EXACT = [
    ("standard", {}),
    ("temperature", {}),
    ("bon", {"candidates": 4}),
    ("power-smc", {"particles": 5}),
    ("power-scalable", {"top_k": 2, "rollouts": 3}),
    ("power-scalable", {"top_k": 2, "rollouts": 3, "rollout_horizon": 2}),
    ("power-scalable", {"top_k": 3, "rollouts": 2, "rollout_horizon": 0}),
]


@pytest.mark.parametrize("method, settings", EXACT)
@pytest.mark.parametrize("n", [1, 3])
def test_planned_passes_and_rows_are_the_toy_counters_exactly(method, settings, n):
    config = SamplerConfig(method, 2.0, None, **settings)
    run = draw(_toy(), [], n, config, torch.Generator().manual_seed(0))
    work = plan_work(config, n, T)
    assert work.exact
    assert run.model_calls == work.passes
    assert run.forward_tokens == work.forward_rows
    assert work.forward_rows == (work.passes - work.wide_passes) + work.wide_passes * work.rows


def test_hand_counts():
    """standard: 1 + (T-1)n rows; scalable (K=2, M=3, H=2): T top-K passes + Σ_t min(2, T-t-1) = 21 rollout passes."""
    assert plan_work(SamplerConfig("standard"), 3, T) == Workload("standard", 3, T, 12, 3, 11, 34, True)
    work = plan_work(SamplerConfig("power-scalable", top_k=2, rollouts=3, rollout_horizon=2), 1, T)
    assert (work.passes, work.rows, work.wide_passes, work.forward_rows) == (33, 6, 21, 12 + 6 * 21)
    # MH, B = 5, n_mcmc = 3: blocks end at 5, 10, 12; E = 12 + 3 (6/2 + 11/2 + 13/2) = 57
    assert plan_work(SamplerConfig("power-mh", block_size=5, n_mcmc=3), 1, T).passes == 57


@pytest.mark.parametrize("method", ["power-mh", "power-inf"])
def test_mh_expected_passes_match_the_counters_over_many_chains(method):
    """n = 80 chains, T = 11, B = 2, n_mcmc = 2 (blocks end at 2, 4, 6, 8, 10, 11): E = 58 passes a chain.

    |forward_tokens - plan| < 4σ with σ² = n · n_mcmc Σ_k (L_k² - 1)/12 (σ ≈ 67).  The toy serves
    chains one at a time, so its calls equal its rows.  Dropping the ``+ 1`` of ``(L_k + 1)/2``
    moves the plan by n · n_mcmc · 6/2 = 480 ≈ 7.2σ.
    """
    n, steps, ends = 80, 11, [2, 4, 6, 8, 10, 11]
    config = SamplerConfig(method, 2.0, None, block_size=2, n_mcmc=2)
    run = draw(llm.ToyModel(exact.TabularAR.random(3, steps, seed=1)), [], n, config, torch.Generator().manual_seed(3))
    work = plan_work(config, n, steps)
    assert not work.exact and work.rows == n and work.passes == 58
    sigma = math.sqrt(n * 2 * sum((L * L - 1) / 12 for L in ends))
    assert run.model_calls == run.forward_tokens
    assert abs(run.forward_tokens - work.forward_rows) < 4 * sigma, (run.forward_tokens, work.forward_rows, sigma)


def test_plan_work_refuses_bad_input():
    with pytest.raises(ValueError, match="n must be a positive integer"):
        plan_work(SamplerConfig(), 0, T)
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        plan_work(SamplerConfig(), 1, 2.5)
    with pytest.raises(ValueError, match="config must be a SamplerConfig"):
        plan_work("power-mh", 1, T)


def test_sample_announces_the_passes_before_the_first_completion(monkeypatch):
    from llm.__main__ import main

    stream = io.StringIO()  # stdout and stderr in one stream: their order is the order printed
    monkeypatch.setattr(sys, "stdout", stream)
    monkeypatch.setattr(sys, "stderr", stream)
    argv = ["sample", "--model", "toy:3,6,0", "--prompt", "", "--method", "power-scalable", "--n", "2",
            "--top-k", "2", "--rollouts", "2", "--alpha", "2"]
    assert main(argv) == 0
    lines = stream.getvalue().splitlines()
    passes = plan_work(SamplerConfig("power-scalable", 2.0, 6, top_k=2, rollouts=2), 2, 6).passes
    announced = [i for i, line in enumerate(lines) if line.startswith("sample: ")]
    records = [i for i, line in enumerate(lines) if line.startswith("{")]
    assert len(announced) == 1 and len(records) == 2 and announced[0] < records[0]
    line = lines[announced[0]]
    assert line.startswith(f"sample: {passes} forward passes to make (power-scalable, n=2, 6 tokens; 4 rows")
    assert "estimated time ≈ " in line and "(an estimate: " in line
    assert "Over a minute" not in line  # a toy takes milliseconds
    assert all(json.loads(lines[i])["method"] == "power-scalable" for i in records)


def test_a_slow_estimate_suggests_cheaper_settings(monkeypatch):
    import llm.__main__ as cli

    lm = _toy()
    config = SamplerConfig("power-scalable", 2.0, None, top_k=2, rollouts=3)
    monkeypatch.setattr(cli, "calibrate_passes", lambda lm, prompt, rows: (1.0, 2.0))  # seconds per pass
    line = cli.announce_sample(lm, [], 1, config)
    assert "estimated time ≈ 2.4 min" in line  # 12 one-row passes + 66 of 6 rows: 12 + 132 = 144 s
    assert line.endswith("Over a minute: smaller --top-k, --rollouts, --rollout-horizon, --max-new-tokens, --n "
                         "make it cheaper")
    monkeypatch.setattr(cli, "calibrate_passes", lambda lm, prompt, rows: (0.1, 0.1))
    assert "Over a minute" not in cli.announce_sample(lm, [], 1, config)  # 7.8 s


def test_calibration_times_two_small_passes_and_extrapolates_wider_ones():
    """Prefill (1 row on a toy) + a 1-row pass + a pass of min(rows, CALIBRATION_ROWS) rows: never the 64 rows."""
    from llm.methods import CALIBRATION_ROWS, calibrate_passes

    lm = _toy()
    one, wide = calibrate_passes(lm, [0, 1], 64)
    assert lm.counter.snapshot() == (3, 1 + 1 + CALIBRATION_ROWS)
    assert one > 0 and wide > 0
    lm = llm.ToyModel(exact.TabularAR.random(3, 3, seed=1))
    assert min(calibrate_passes(lm, [0, 1], 2)) > 0  # one step from the horizon: the prompt's own pass is timed
    with pytest.raises(ValueError, match="rows must be a positive integer"):
        calibrate_passes(lm, [], 0)
