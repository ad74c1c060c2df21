"""Runs at scale: ``--shard i/k`` partitions the problems, ``evaluate --records`` resumes after a kill, ``merge``.

The reference for every merged table is the table of one uninterrupted, unsharded
``evaluate`` run of the same arguments (an independent route: no records read back).
Models are ``toy:V,T,SEED`` (``exact.TabularAR.random`` behind :class:`llm.ToyModel`).
"""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import exact
import llm
from llm.experiments import evaluate as evaluate_module
from llm.experiments.evaluate import evaluate_models, markdown_table
from llm.experiments.shards import Shard, merge_record_files, parse_shard
from llm.experiments.tasks import ToyTask
from llm.experiments.teacher import read_records
from llm.methods import SamplerConfig

ROOT = Path(__file__).resolve().parents[3]
TOY = ["--model", "toy:3,4,0", "--model", "toy:3,4,1", "--task", "toy", "--methods", "standard,power-mh",
       "--block-size", "2", "--n-mcmc", "1", "--seeds", "3"]


def _main(argv, capsys):
    from llm.__main__ import main

    assert main(argv) == 0
    return capsys.readouterr()


def test_the_k_shards_partition_the_problems_and_differ_in_size_by_at_most_one():
    for n in range(12):
        items = [f"p{j}" for j in range(n)]
        for k in range(1, 6):
            parts = [Shard(i, k).select(items) for i in range(k)]
            together = sorted(pair for part in parts for pair in part)
            assert together == list(enumerate(items))  # each problem in exactly one shard
            sizes = [len(part) for part in parts]
            assert max(sizes) - min(sizes) <= 1 and sum(sizes) == n
    assert [j for j, _ in Shard(1, 3).select(range(8))] == [1, 4, 7]  # j mod k == i


@pytest.mark.parametrize("command", ["teacher", "evaluate"])
@pytest.mark.parametrize("bad", ["3/3", "-1/2", "1/0", "1", "a/b", "0/2/3"])
def test_a_bad_shard_is_a_one_line_usage_error(command, bad, capsys):
    from llm.__main__ import main

    argv = [command, "--model", "toy:3,4,0", "--task", "toy", "--n", "3", f"--shard={bad}"]
    with pytest.raises(SystemExit) as exit_info:
        main(argv + (["--out", "never.jsonl"] if command == "teacher" else []))
    assert exit_info.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 1 and "argument --shard: shard must be i/k" in errors[0]
    with pytest.raises(ValueError, match="0 <= i < k"):
        parse_shard(bad)


def test_merged_table_of_k_shards_is_the_unsharded_table_with_pass_at_k_and_paired_tests(tmp_path, monkeypatch, capsys):
    digits = [{"question": f"Which digit is number {i}?", "answer": f"It is {i % 3}.\n#### {i % 3}"} for i in range(7)]
    data = tmp_path / "digits.jsonl"
    data.write_text("".join(json.dumps(d) + "\n" for d in digits))
    # the toy reads any prompt as empty and writes its token ids as digits, so GSM8K grades it (0/1 rewards)
    monkeypatch.setattr(llm.ToyModel, "encode", lambda self, text, chat=True: [], raising=False)
    monkeypatch.setattr(llm.ToyModel, "decode", lambda self, tokens: " ".join(map(str, tokens)), raising=False)
    args = ["evaluate", *TOY, "--task", "gsm8k", "--data-file", str(data), "--n", "7", "--quiet"]
    whole = _main(args, capsys).out  # no records at all: the independent route
    assert "| pass@3 |" in whole and "McNemar exact p = " in whole and "–" not in whole.split("\n\n")[0]
    assert _main([*args, "--records", str(tmp_path / "all.jsonl")], capsys).out == whole
    for k in (1, 3):
        shards = [tmp_path / f"k{k}-{i}.jsonl" for i in range(k)]
        for i, path in enumerate(shards):
            _main([*args, "--shard", f"{i}/{k}", "--records", str(path)], capsys)
        merged = _main(["merge", "--out", str(tmp_path / "table.md"), *map(str, shards[::-1])], capsys).out
        assert merged == whole and (tmp_path / "table.md").read_text() == whole
        # 4 rows (2 models x 2 methods) x 7 problems x 3 seeds, each record once over the shards
        assert sorted(len(read_records(p)) for p in shards) == sorted(4 * 3 * len(range(i, 7, k)) for i in range(k))
    assert _main(["merge", str(tmp_path / "all.jsonl")], capsys).out == whole


def test_merge_refuses_a_missing_shard_and_a_shard_given_twice(tmp_path, capsys):
    args = ["evaluate", *TOY, "--n", "5", "--quiet"]
    shards = [tmp_path / f"s{i}.jsonl" for i in range(2)]
    for i, path in enumerate(shards):
        _main([*args, "--shard", f"{i}/2", "--records", str(path)], capsys)
    with pytest.raises(ValueError, match=r"records missing.*shard missing or unfinished"):
        merge_record_files(shards[:1])
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(shards[1].read_bytes())
    with pytest.raises(ValueError, match=r"copy\.jsonl:1: duplicate record .* \(first at .*s1\.jsonl:1\)"):
        merge_record_files([*shards, copy])


def _toy_rows(records, problems=6, shard=None):
    models = {"toy:3,4,0": llm.ToyModel(exact.TabularAR.random(3, 4, 0))}
    configs = [SamplerConfig("standard"), SamplerConfig("power-mh", 4.0, block_size=2, n_mcmc=1)]
    return evaluate_models(models, ToyTask(), ToyTask().problems(problems), configs, [0, 1, 2], records=records,
                          shard=shard)


def test_resume_redoes_a_truncated_tail_and_only_the_missing_records(tmp_path, monkeypatch):
    records = tmp_path / "r.jsonl"
    reference = markdown_table(_toy_rows(None))
    assert markdown_table(_toy_rows(records)) == reference
    full = records.read_bytes()
    lines = full.splitlines(keepends=True)
    assert len(lines) == 2 * 6 * 3
    draws = []
    monkeypatch.setattr(evaluate_module, "draw", lambda *a, **k: draws.append(1) or llm.methods.draw(*a, **k))
    assert markdown_table(_toy_rows(records)) == reference and draws == []  # all done: nothing redrawn
    assert records.read_bytes() == full
    # a kill after 20 complete records and 25 bytes of the 21st: row 1's first problem has 2 of its 3 seeds
    records.write_bytes(b"".join(lines[:20]) + lines[20][:25])
    assert markdown_table(_toy_rows(records)) == reference
    assert len(draws) == 6  # that problem (its missing seed written) and row 1's 5 others, nothing done redrawn
    assert records.read_bytes().endswith(b"\n") and _stable(read_records(records)) == _stable(map(json.loads, lines))


def _stable(records):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


def test_duplicate_foreign_and_other_settings_records_are_reported(tmp_path):
    records = tmp_path / "r.jsonl"
    _toy_rows(records, problems=3)
    lines = records.read_bytes().splitlines(keepends=True)
    records.write_bytes(b"".join(lines) + lines[1])
    with pytest.raises(ValueError, match=r"r\.jsonl:19: duplicate id .* \(first at line 2\)"):
        _toy_rows(records, problems=3)
    records.write_bytes(b"".join(lines))
    with pytest.raises(ValueError, match=r"r\.jsonl:1: id .* is not one of this run's 6 records; .*--shard"):
        _toy_rows(records, problems=3, shard=Shard(1, 2))  # problem 0's records are foreign to shard 1/2
    models = {"toy:3,4,0": llm.ToyModel(exact.TabularAR.random(3, 4, 0))}
    with pytest.raises(ValueError, match=r"r\.jsonl:1: a record made with other settings"):
        evaluate_models(models, ToyTask(), ToyTask().problems(3), [SamplerConfig("standard", 2.0)], [0, 1, 2],
                        records=records)


def test_the_calibration_lines_come_first_on_stderr(tmp_path, capsys):
    err = _main(["evaluate", *TOY, "--n", "4", "--records", str(tmp_path / "r.jsonl")], capsys).err.splitlines()
    assert err[0] == "evaluate: timing one problem per model × method row (4 rows) for the cost estimate ..."
    assert err[1].startswith("evaluate: 16 sampler calls to make (4 model × method rows × 4 problems")
    assert "estimated time ≈ " in err[1] and "an estimate" in err[1]
    assert len(err) == 6 and all(line.startswith("evaluate toy:3,4,") for line in err[2:])  # then the progress
    err = _main(["evaluate", *TOY, "--n", "4", "--records", str(tmp_path / "r.jsonl")], capsys).err.splitlines()
    assert err[0].startswith("evaluate: 0 sampler calls to make") and "16 already on file" in err[0]
    teacher = ["teacher", "--model", "toy:3,4,0", "--task", "toy", "--n", "5", "--shard", "1/2", "--out",
               str(tmp_path / "t.jsonl")]
    captured = _main(teacher, capsys)
    assert captured.err.splitlines()[0].startswith("teacher: 2 sampler calls to make (one per prompt")
    assert "estimated time ≈ " in captured.err and captured.out.splitlines()[0].startswith("teacher 1/2 toy-0-1 ")
    assert [r["id"] for r in read_records(tmp_path / "t.jsonl")] == ["toy-0-1", "toy-0-3"]


def test_a_sharded_run_killed_at_a_random_moment_then_resumed_merges_to_the_unsharded_table(tmp_path, capsys):
    args = ["evaluate", "--model", "toy:3,6,0", "--task", "toy", "--methods", "standard,power-mh", "--n", "30",
            "--seeds", "3", "--block-size", "2", "--n-mcmc", "2", "--quiet"]
    shards = [tmp_path / "s0.jsonl", tmp_path / "s1.jsonl"]
    command = [sys.executable, "-m", "llm", *args, "--shard", "0/2", "--records", str(shards[0])]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    target = random.randrange(3, 45)  # a random moment: once this many of the shard's 90 records are written
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if shards[0].exists() and shards[0].read_bytes().count(b"\n") >= target:
            break
        time.sleep(0.002)
    assert process.poll() is None, f"the run ended before it could be killed: {process.stderr.read()[-500:]}"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    partial = len(read_records(shards[0]))
    assert target <= partial < 2 * 15 * 3  # killed mid-way
    _main([*args, "--shard", "0/2", "--records", str(shards[0])], capsys)  # resumed
    _main([*args, "--shard", "1/2", "--records", str(shards[1])], capsys)
    merged = _main(["merge", *map(str, shards)], capsys).out
    assert merged == _main(args, capsys).out  # the uninterrupted, unsharded run's table
    assert len(read_records(shards[0])) == 2 * 15 * 3 and shards[0].read_bytes().endswith(b"\n")
