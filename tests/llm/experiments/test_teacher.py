"""Teacher data (Algorithm 1, lines 3-8): records are complete, and a SIGKILLed run resumes losing nothing.

All runs use a ``ToyModel`` (``toy:3,6,0`` = ``exact.TabularAR.random(3, 6, 0)``), so
the subprocess is fast; the records are compared with an uninterrupted reference
run of the same arguments.
"""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import exact
import llm
from llm.experiments.tasks import ToyTask
from llm.experiments.teacher import generate_teacher, read_records
from llm.methods import SamplerConfig

ROOT = Path(__file__).resolve().parents[3]
SPEC = "toy:3,6,0"
N = 400
ARGS = ["teacher", "--model", SPEC, "--task", "toy", "--n", str(N), "--alpha", "4", "--quiet"]
VOLATILE = ("seconds",)


def _toy():
    return llm.ToyModel(exact.TabularAR.random(3, 6, 0))


def _stable(records):
    return [{k: v for k, v in r.items() if k not in VOLATILE} for r in records]


def _reference(path):
    generate_teacher(_toy(), ToyTask(), path, N, SamplerConfig("power-mh", 4.0), seed=0, model_name=SPEC)
    return _stable(read_records(path))


def test_records_carry_every_field_and_true_rewards_are_the_task_s(tmp_path):
    out = tmp_path / "t.jsonl"
    model = exact.TabularAR.random(3, 6, 0)
    summary = generate_teacher(llm.ToyModel(model), ToyTask(), out, 5, SamplerConfig("standard"), seed=3, model_name=SPEC)
    assert summary.written == 5 and summary.skipped == 0
    records = read_records(out)
    for record in records:
        for field in ("id", "prompt", "completion", "method", "alpha", "seed", "model", "self_reward", "true_reward"):
            assert field in record
        tokens = record["tokens"]
        assert record["completion"] == " ".join(map(str, tokens))
        assert record["true_reward"] == pytest.approx(tokens.count(0) / len(tokens), abs=1e-15)
        # self-reward = (1/T) log π(y) from the exact joint (independent route)
        assert record["self_reward"] == pytest.approx(float(np.log(model.joint()[tuple(tokens)])) / 6, abs=1e-10)
    again = generate_teacher(llm.ToyModel(model), ToyTask(), out, 5, SamplerConfig("standard"), seed=3, model_name=SPEC)
    assert again.written == 0 and again.skipped == 5 and len(read_records(out)) == 5


def test_sigkill_mid_run_then_restart_loses_and_duplicates_nothing(tmp_path):
    out = tmp_path / "killed.jsonl"
    command = [sys.executable, "-m", "llm", *ARGS, "--out", str(out)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if out.exists() and out.read_bytes().count(b"\n") >= 40:
            break
        time.sleep(0.01)
    assert process.poll() is None, f"the run ended before it could be killed: {process.stderr.read()[-500:]}"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    partial = read_records(out)
    assert 40 <= len(partial) < N  # killed mid-way
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["skipped"] == len(partial)
    resumed = _stable(read_records(out))
    ids = [r["id"] for r in resumed]
    assert len(ids) == len(set(ids)) == N  # nothing lost or duplicated
    assert out.read_bytes().endswith(b"\n") and out.read_bytes().count(b"\n") == N  # nothing truncated
    assert resumed == _reference(tmp_path / "reference.jsonl")  # identical to an uninterrupted run


def test_truncated_last_line_is_cut_and_regenerated(tmp_path):
    out = tmp_path / "t.jsonl"
    config = SamplerConfig("power-mh", 4.0)
    generate_teacher(_toy(), ToyTask(), out, 6, config, model_name=SPEC)
    full = out.read_bytes()
    lines = full.splitlines(keepends=True)
    out.write_bytes(b"".join(lines[:4]) + lines[4][: len(lines[4]) // 2])  # a kill in the middle of write 5
    assert len(read_records(out)) == 4
    summary = generate_teacher(_toy(), ToyTask(), out, 6, config, model_name=SPEC)
    assert summary == (2, 4, out)
    assert _stable(read_records(out)) == _stable([json.loads(line) for line in lines])


def test_corrupt_middle_line_and_other_settings_are_refused(tmp_path):
    out = tmp_path / "t.jsonl"
    generate_teacher(_toy(), ToyTask(), out, 3, SamplerConfig("standard"), model_name=SPEC)
    with pytest.raises(ValueError, match="other settings"):
        generate_teacher(_toy(), ToyTask(), out, 3, SamplerConfig("power-mh", 2.0), model_name=SPEC)
    lines = out.read_bytes().splitlines(keepends=True)
    out.write_bytes(lines[0] + b"{broken\n" + lines[2])
    with pytest.raises(ValueError, match="corrupt record"):
        read_records(out)


def test_two_writers_on_one_file_the_second_is_refused_at_once(tmp_path):
    out = tmp_path / "t.jsonl"
    # the first writer has far more work than the test lasts (it is killed below), so it still holds
    # the lock when the second one starts, however fast the toy teacher runs
    long_run = [*ARGS[: ARGS.index("--n") + 1], "1000000", *ARGS[ARGS.index("--n") + 2 :]]
    first = subprocess.Popen([sys.executable, "-m", "llm", *long_run, "--out", str(out)], cwd=ROOT)
    try:
        while not (out.exists() and out.read_bytes().count(b"\n") >= 1):  # the first run is writing
            assert first.poll() is None, "the first writer ended before the test could race it"
            time.sleep(0.05)
        start = time.monotonic()
        second = subprocess.run([sys.executable, "-m", "llm", *ARGS, "--out", str(out)], cwd=ROOT,
                                capture_output=True, text=True)
        assert second.returncode != 0 and "being written by another process" in second.stderr
        assert time.monotonic() - start < 30  # at once: the interpreter start, not a run of n = 400
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    ids = [record["id"] for record in read_records(out)]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("damage, message", [("duplicate", r"t\.jsonl:4: duplicate id .* \(first at line 2\)"),
                                             ("foreign", r"t\.jsonl:2: id 'elsewhere-7' is not one of this run's 3")])
def test_resume_reports_duplicate_and_foreign_ids_with_file_and_line(tmp_path, damage, message):
    out = tmp_path / "t.jsonl"
    config = SamplerConfig("standard")
    generate_teacher(_toy(), ToyTask(), out, 3, config, model_name=SPEC)
    lines = out.read_bytes().splitlines(keepends=True)
    if damage == "duplicate":
        out.write_bytes(lines[0] + lines[1] + lines[2] + lines[1])
    else:
        out.write_bytes(lines[0] + json.dumps({**json.loads(lines[1]), "id": "elsewhere-7"}).encode() + b"\n")
    with pytest.raises(ValueError, match=message):
        generate_teacher(_toy(), ToyTask(), out, 3, config, model_name=SPEC)


def test_evaluate_cli_on_a_toy_reports_per_seed_means_and_best_of_n(tmp_path):
    from llm.experiments.evaluate import evaluate
    from llm.__main__ import main

    out = tmp_path / "rows.csv"
    assert main(["evaluate", "--model", SPEC, "--task", "toy", "--methods", "standard,power-mh", "--n", "3", "--seeds", "3",
                 "--out", str(out)]) == 0
    assert out.read_text().splitlines()[0].startswith("model,sampling,r_star_mean,r_star_sd,r_self_mean")
    model = exact.TabularAR.random(3, 6, 0)
    task = ToyTask()
    row = evaluate(llm.ToyModel(model), task, task.problems(4, 1), SamplerConfig("power-mh", 4.0), [0, 1, 2])
    r_self, r_star, texts = row.samples["r_self"], row.samples["r_star"], row.samples["completions"]
    for i, prompt_texts in enumerate(texts):  # r_self = (1/T) log π(y) from the exact joint; r* from the text
        for s, text in enumerate(prompt_texts):
            tokens = tuple(int(t) for t in text.split())
            assert r_self[i, s] == pytest.approx(np.log(model.joint()[tokens]) / 6, abs=1e-10)
            assert r_star[i, s] == task.reward("", text)
    assert row.r_star_mean == pytest.approx(r_star.mean(), abs=1e-12)
    assert row.r_self_sd == pytest.approx(np.std(r_self.mean(axis=0), ddof=1), abs=1e-12)
    assert row.bon_r_self == pytest.approx(r_self.max(axis=1).mean(), abs=1e-12)
    assert row.bon_r_star == pytest.approx(r_star[np.arange(4), r_self.argmax(axis=1)].mean(), abs=1e-12)


def test_evaluate_cli_refuses_an_output_file_another_run_is_writing(tmp_path):
    from exact._atomic_output import OutputLocked, exclusive_lock
    from llm.__main__ import main

    out = tmp_path / "rows.csv"
    with exclusive_lock(out):
        with pytest.raises(OutputLocked, match="another process"):
            main(["evaluate", "--model", SPEC, "--task", "toy", "--methods", "standard", "--n", "1", "--seeds", "1",
                  "--out", str(out)])
    assert not out.exists()


SMALL_SAMPLERS = ["--particles", "3", "--top-k", "2", "--rollouts", "2", "--alpha", "2"]


@pytest.mark.parametrize("method, settings", [("power-smc", {"particles": 3}),
                                              ("power-scalable", {"top_k": 2, "rollouts": 2, "jackknife": True})])
def test_teacher_cli_runs_power_smc_and_the_scalable_sampler_and_resumes(tmp_path, method, settings):
    from llm.__main__ import main

    out = tmp_path / "t.jsonl"
    argv = ["teacher", "--method", method, "--model", "toy:3,4,0", "--task", "toy", "--n", "3", *SMALL_SAMPLERS,
            "--quiet", "--out", str(out)]
    assert main(argv) == 0
    records = read_records(out)
    model = exact.TabularAR.random(3, 4, 0)
    assert len(records) == 3
    for record in records:
        assert record["method"] == method and record["alpha"] == 2.0
        assert settings.items() <= record["settings"].items()
        assert record["self_reward"] == pytest.approx(float(np.log(model.joint()[tuple(record["tokens"])])) / 4, abs=1e-10)
    assert main(argv) == 0 and read_records(out) == records  # resumed: all three skipped, nothing rewritten


def test_python_m_llm_teacher_power_smc(tmp_path):
    out = tmp_path / "smc.jsonl"
    command = [sys.executable, "-m", "llm", "teacher", "--method", "power-smc", "--model", "toy:3,4,0", "--task", "toy",
               "--n", "2", *SMALL_SAMPLERS, "--quiet", "--out", str(out)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["written"] == 2 and [r["method"] for r in read_records(out)] == ["power-smc"] * 2


def test_evaluate_cli_rows_for_every_method_including_power_smc_and_scalable(tmp_path):
    from llm.__main__ import main
    from llm.methods import METHODS

    out = tmp_path / "rows.csv"
    assert main(["evaluate", "--model", "toy:3,4,0", "--task", "toy", "--methods", ",".join(METHODS), "--n", "2",
                 "--seeds", "2", "--block-size", "2", "--n-mcmc", "1", "--candidates", "2", *SMALL_SAMPLERS,
                 "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert [row["sampling"] for row in rows] == [m.label for m in METHODS.values()]
    assert [row["sampling"] for row in rows[-3:-1]] == ["Power (scalable)", "Power-SMC"]
    for row in rows:  # r_self: mean log-prob of completions of a toy whose smallest conditional is > 1e-3
        assert row["model"] == "toy:3,4,0" and np.log(1e-3) < float(row["r_self_mean"]) < 0
