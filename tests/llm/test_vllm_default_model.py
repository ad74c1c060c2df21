"""The default model (SmolLM2-135M-Instruct) on the vLLM engine, through the command line users type.

``python -m llm sample --engine vllm --method power-mh --alpha 4 --prompt "What is 2+3?"`` (the README's
command, default settings) and ``python -m llm evaluate --task gsm8k --data-file F --n 8 --engine vllm``
(the same command tests/llm/experiments/test_benchmarks.py runs with ``--engine hf``).  ONE engine start
for the module (``vllm_default``, ~2 min on CPU); the command line's model load is pointed at it.
Marked ``vllm``: ``make test-vllm`` runs these in .venv-vllm.
"""

from __future__ import annotations

import json
import math

import pytest
from gsm8k_fixture import check_table, evaluate_argv, write_gsm8k

pytestmark = pytest.mark.vllm


@pytest.fixture(scope="module")
def vllm_default():
    pytest.importorskip("vllm", reason="vLLM is not installed here: `make test-vllm` runs these tests in .venv-vllm")
    import llm

    engine = llm.VLLMModel()
    yield engine
    engine.close()


@pytest.fixture
def command_line(vllm_default, monkeypatch):
    """``llm.__main__.main``, its model load answered by the module's engine (and recorded)."""
    from llm.__main__ import main
    from llm.experiments import cli

    loads = []
    monkeypatch.setattr(cli, "_load_engine", lambda model, engine, args: loads.append((model, engine, dict(args))) or vllm_default)
    return main, loads


def test_the_default_model_runs_in_float32_like_the_hf_backend(vllm_default):
    """vLLM's dtype "auto" would run the float32 checkpoint in bfloat16 (log π off by ~0.05 from llm.HFModel())."""
    assert vllm_default.engine_args["dtype"] == "float32"
    assert str(vllm_default.engine.llm_engine.model_config.dtype) == "torch.float32"


def test_sample_power_mh_from_the_readme(command_line, capsys):
    """The README's command: a chat-wrapped prompt (the model has a chat template), an answer, finite log π."""
    main, loads = command_line
    assert main(["sample", "--engine", "vllm", "--method", "power-mh", "--alpha", "4", "--prompt", "What is 2+3?"]) == 0
    assert loads == [(None, "vllm", {})]
    captured = capsys.readouterr()
    assert "forward passes to make" in captured.err  # the cost is announced before the first completion
    record = json.loads(captured.out.strip().splitlines()[-1])
    assert record["method"] == "power-mh" and record["n_tokens"] >= 2 and record["completion"].strip()
    assert math.isfinite(record["self_reward"]) and record["self_reward"] < 0


def test_evaluate_gsm8k_prints_pass_at_k_and_a_paired_test(command_line, tmp_path, capsys):
    main, loads = command_line
    assert main(evaluate_argv(write_gsm8k(tmp_path), "vllm")) == 0
    assert loads == [(None, "vllm", {})]
    check_table(capsys.readouterr().out)


def test_bench_llm_engine_vllm_prints_both_engines_side_by_side(vllm_default, monkeypatch, capsys):
    """``python -m bench llm --engine vllm --quick``: the same samplers on vLLM, then on transformers, one table."""
    from bench.llm import main
    from llm.experiments import cli

    load = cli._load_engine
    monkeypatch.setattr(cli, "_load_engine", lambda model, engine, args: vllm_default if engine == "vllm" else load(model, engine, args))
    monkeypatch.setattr(vllm_default, "close", lambda: None)  # the module's engine outlives the bench
    assert main(["--engine", "vllm", "--quick"]) == 0
    out = capsys.readouterr().out
    assert "| sampler | vLLM s | vLLM tok/s | vLLM x plain | HF s | HF tok/s | HF x plain | HF s / vLLM s |" in out
    rows = [line for line in out.splitlines() if line.startswith(("| plain", "| power-mh", "| power-smc"))]
    assert len(rows) == 3 and rows[0].split("|")[4].strip() == "1.00" and rows[0].split("|")[7].strip() == "1.00"
    engines = [json.loads(line)["engine"] for line in out.splitlines() if line.startswith("{")]
    assert engines == ["VLLMModel"] * 3 + ["HFModel"] * 3
