"""Table 1 and Tables S.3-S.6 through ``paper_repro.py``: registration, rows, option plumbing, data, learning rates.

Cheap by design (the default suite's budget): no model is loaded except in the one end-to-end
run (Table S.6 at toy size on the session's ``real_model``); the plumbing tests replace the base
model and the pipeline's run by stand-ins and check what reaches them.  Data files are fixtures
in each benchmark's real schema; the hub is a stand-in ``datasets`` module (never the network).
"""

import dataclasses
import json
import sys
import types
from pathlib import Path

import pytest

from figures import _llm, _pipeline
from figures import _registry as registry
from tests.llm.experiments.test_benchmarks import GPQA, MATH500

#: MATH training records in the schema of MATH's train split / math_full_minus_math500.json: no `answer`,
#: the gold is the last \boxed{} of `solution`; the last one repeats a MATH500 fixture problem (held out).
MATH_TRAIN = [
    {"problem": f"What is ${k} + {k}$?", "level": "Level 1", "type": "Prealgebra",
     "solution": f"${k} + {k} = \\boxed{{{2 * k}}}$."}
    for k in range(1, 6)
] + [{"problem": MATH500[2]["problem"], "level": "Level 1", "type": "Prealgebra", "solution": MATH500[2]["solution"]}]

MBPP_SANITIZED = [
    {"source_file": "x.ipynb", "task_id": 600 + k, "prompt": f"Write a function that adds {k} to a number.",
     "code": f"def add_{k}(x):\n    return x + {k}", "test_imports": [], "test_list": [f"assert add_{k}(1) == {1 + k}"]}
    for k in range(4)
]


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


@pytest.fixture
def data(tmp_path):
    return types.SimpleNamespace(
        math500=write_jsonl(tmp_path / "math500.jsonl", MATH500),
        math_train=write_jsonl(tmp_path / "math_train.jsonl", MATH_TRAIN),
        diamond=write_jsonl(tmp_path / "gpqa_diamond.jsonl", GPQA[:3]),
        gpqa_main=write_jsonl(tmp_path / "gpqa_main.jsonl", GPQA),
        mbpp=write_jsonl(tmp_path / "mbpp_sanitized.jsonl", MBPP_SANITIZED),
    )


def fake_datasets(monkeypatch, load):
    module = types.ModuleType("datasets")
    module.load_dataset = load
    monkeypatch.setitem(sys.modules, "datasets", module)


# --------------------------------------------------------------------------- registration and rows


@pytest.mark.parametrize("typed, figure_id", [("1", "table1"), ("S3", "tableS3"), ("s.4", "tableS4"), ("S5", "tableS5"),
                                              ("S6", "tableS6"), ("table1", "table1"), ("tableS6", "tableS6")])
def test_table_ids_resolve_and_figures_s5_s6_stay_figures(cli, typed, figure_id):
    entries = registry.discover()
    assert registry.resolve(cli._table_id(typed), entries).figure_id == figure_id
    assert registry.resolve("S6", entries).module_name == "figures.s6_renyi_correction"  # --figure S6 is Figure S.6


def test_supplement_tables_are_listed_in_order_and_left_out_of_all():
    entries = registry.discover()
    ids = [e.figure_id for e in entries]
    assert ids.index("S10") < ids.index("tableS3") < ids.index("tableS4") < ids.index("tableS5") < ids.index("tableS6")
    assert {e.figure_id for e in entries if not e.in_all} == {"tableS3", "tableS4", "tableS5", "tableS6"}


def test_each_table_evaluates_the_rows_the_paper_shows():
    expected = {
        "table1": [("RandW", "standard"), ("RandW", "power-mh"), ("Base", "standard"), ("Base", "temperature"),
                   ("Base", "power-mh"), ("Power-distilled", "standard"), ("Power-distilled", "temperature")],
        "tableS3": [("Base", "standard"), ("Base", "power-mh"), ("Power-distilled", "standard"),
                    ("Power-distilled", "temperature")],
        "tableS6": [("Base", "power-inf")],
    }
    expected["tableS4"] = expected["tableS5"] = expected["tableS3"]
    benchmarks = {"table1": "math500", "tableS3": "math500", "tableS4": "humaneval", "tableS5": "gpqa", "tableS6": "math500"}
    for entry in registry.discover():
        if entry.figure_id in expected:
            spec = entry.load().SPEC
            assert [(label, m) for label, methods in spec.rows for m in methods] == expected[entry.figure_id]
            assert spec.benchmark == benchmarks[entry.figure_id] and spec.distills == (entry.figure_id != "tableS6")
            assert spec.task_name("tiny", None) == ("arithmetic" if entry.figure_id == "table1" else spec.benchmark)


# --------------------------------------------------------------------------- learning rates (Table S.2)


@pytest.mark.parametrize("row, model, rate", [
    ("MATH", "Qwen/Qwen2.5-Math-7B", 1e-5), ("MATH", "/models/Phi-3.5-mini-instruct", 1e-3),
    ("HumanEval/MBPP", "microsoft/Phi-3.5-mini-instruct", 5e-4), ("GPQA", "Qwen/Qwen2.5-Math-7B", 1e-4),
    ("GPQA", "Qwen/Qwen2.5-7B-Instruct", 1e-5), ("GPQA", "microsoft/Phi-3.5-mini-instruct", 2e-4),
])
def test_paper_scale_learning_rate_is_table_s2s_cell(row, model, rate):
    assert _pipeline.choose_learning_rate(row, model, "paper")[0] == rate


def test_learning_rate_off_table_s2_the_scale_and_the_override():
    assert _pipeline.choose_learning_rate("GPQA", "my-org/my-model", "paper") == (1e-5, "not in Table S.2: 1e-05 (Qwen2.5-7B's rate)")
    assert _pipeline.choose_learning_rate("GPQA", "Qwen/Qwen2.5-Math-7B", "tiny")[0] == _llm.SCALES["tiny"]["learning_rate"]
    assert _pipeline.choose_learning_rate("GPQA", "Qwen/Qwen2.5-Math-7B", "paper", 3e-4)[0] == 3e-4
    with pytest.raises(ValueError, match="learning_rate must be > 0"):
        _pipeline.learning_rate_override("-1")


# --------------------------------------------------------------------------- data: files, hub names, held-out sets


def test_training_sets_exclude_the_evaluation_benchmark(data):
    sets = _pipeline.load_tasks("gpqa", 2, 500, 0, data.diamond, data.gpqa_main)
    assert [p.id for p in sets.eval_problems] == ["gpqa-rec0000", "gpqa-rec0001"]
    assert sorted(p.id for p in sets.train_problems) == ["gpqa-rec0003", "gpqa-rec0004", "gpqa-rec0005"]  # Diamond removed
    sets = _pipeline.load_tasks("math500", 500, 3, 0, data.math500, data.math_train)
    assert len(sets.eval_problems) == 3 and len(sets.train_problems) == 3  # n capped at the data: all of MATH500 here
    assert MATH500[2]["problem"] not in "".join(p.prompt for p in sets.train_problems)  # a MATH500 problem never trains
    again = _pipeline.load_tasks("math500", 500, 3, 0, data.math500, data.math_train)
    assert again.train_problems == sets.train_problems  # a seeded draw of n_train problems
    assert {p.answer for p in sets.train_problems} <= {"2", "4", "6", "8", "10"}  # gold from the solution's \boxed{}
    sets = _pipeline.load_tasks("humaneval", 2, 10, 0, None, data.mbpp)
    assert [p.id for p in sets.eval_problems] == ["HumanEval/0", "HumanEval/1"] and len(sets.train_problems) == 4


def test_the_hub_is_asked_for_each_training_set_by_its_usual_name(monkeypatch, data):
    asked = []

    def load(path, config, split):
        asked.append((path, config, split))
        return {"Idavidrein/gpqa": GPQA, "DigitalLearningGmbH/MATH-lighteval": MATH_TRAIN,
                "google-research-datasets/mbpp": MBPP_SANITIZED, "HuggingFaceH4/MATH-500": MATH500}[path]

    fake_datasets(monkeypatch, load)
    _pipeline.load_tasks("math500", 2, 2, 0)
    _pipeline.load_tasks("humaneval", 1, 2, 0)
    _pipeline.load_tasks("gpqa", 2, 2, 0, data.diamond)
    assert asked == [("HuggingFaceH4/MATH-500", None, "test"), ("DigitalLearningGmbH/MATH-lighteval", "default", "train"),
                     ("google-research-datasets/mbpp", "sanitized", "train+validation+test"),
                     ("Idavidrein/gpqa", "gpqa_main", "train")]


def test_offline_without_files_the_error_names_the_dataset_and_the_option(cli, monkeypatch, data, tmp_path, capsys):
    def offline(path, config, split):
        raise ConnectionError("no network")

    fake_datasets(monkeypatch, offline)
    out = ["--out", str(tmp_path / "out")]
    assert cli.main(["--table", "S3", "--scale", "paper", *out]) == 2
    error = capsys.readouterr().err
    assert "[tableS3] math500: could not load HuggingFaceH4/MATH-500" in error and "--data-file FILE" in error
    assert cli.main(["--table", "S5", "--scale", "paper", "--data-file", str(data.diamond), *out]) == 2
    error = capsys.readouterr().err
    assert "training set (GPQA main minus Diamond)" in error and "Idavidrein/gpqa (gpqa_main)" in error
    assert "--train-data-file FILE" in error and "--data-file FILE" not in error


def test_data_options_that_do_not_apply_are_refused():
    with pytest.raises(ValueError, match="not to task 'arithmetic'"):
        _pipeline.load_tasks("arithmetic", 2, 2, 0, data_file="x.jsonl")
    with pytest.raises(ValueError, match="--train-data-file does not apply here .*no distillation"):
        _pipeline.load_tasks("math500", 2, None, 0, train_data_file="x.jsonl")


# --------------------------------------------------------------------------- plumbing: paper_repro → compute → models


@pytest.fixture
def captured(monkeypatch):
    """Stand-ins for the base model and the pipeline's run: record what reaches them."""
    calls = {}

    def base_model(path=None, engine="hf", engine_args=None):
        calls["base"] = (path, engine, engine_args)
        return "BASE"

    def run_pipeline(spec, base, sets, s, seed, workdir, engine="hf", lr=None, chat=True):
        calls["run"] = dict(spec=spec, base=base, sets=sets, s=s, seed=seed, workdir=workdir, engine=engine, lr=lr)
        row = dict(model="Base", sampling="Standard", r_star_mean=0.5, r_self_mean=-0.25)
        return _pipeline.PipelineResult(spec.figure_id, "", [row], "| md |", [], None, {"total": 1.0}, {}, {})

    monkeypatch.setattr(_llm, "base_model", base_model)
    monkeypatch.setattr(_pipeline, "run_pipeline", run_pipeline)
    return calls


def test_engine_model_data_files_and_parallel_sizes_reach_the_table(cli, captured, data, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    model = tmp_path / "Phi-3.5-mini-instruct"
    model.mkdir()
    (model / "config.json").write_text("{}")
    argv = ["--table", "S3", "--scale", "paper", "--engine", "vllm", "--model", str(model), "--data-file", str(data.math500),
            "--train-data-file", str(data.math_train), "--tensor-parallel-size", "2", "--data-parallel-size", "4",
            "--engine-arg", "max_model_len=4096", "--out", "out"]
    assert cli.main(argv) == 0
    assert capsys.readouterr().out == "tableS3 (paper): Base/Standard r*=0.500 r_self=-0.250; 1 s\n"
    assert captured["base"] == (str(model), "vllm", {"max_model_len": 4096, "tensor_parallel_size": 2, "data_parallel_size": 4})
    run = captured["run"]
    assert run["engine"] == "vllm" and run["lr"] == (1e-3, "Table S.2 (MATH, phi-3.5-mini-instruct)")
    assert run["workdir"] == Path("paper_runs/tables3-Phi-3.5-mini-instruct-seed0")  # resumable by default at paper scale
    assert len(run["sets"].eval_problems) == 3 and len(run["sets"].train_problems) == 5
    options = json.loads((tmp_path / "out" / "tables3.json").read_text())["options"]
    assert options["engine"] == "vllm" and options["data_file"] == str(data.math500)


def test_table1_keeps_arithmetic_below_paper_scale_and_options_are_only_passed_when_given(cli, captured, tmp_path):
    assert cli.main(["--table", "1", "--scale", "tiny", "--out", str(tmp_path)]) == 0
    assert captured["base"] == (None, "hf", None) and captured["run"]["sets"].eval_task.name == "arithmetic"
    assert json.loads((tmp_path / "table1.json").read_text())["options"] == {"scale": "tiny"}


def exit_status(cli, argv):
    try:
        return cli.main(argv)
    except SystemExit as stop:  # a parsing error
        return stop.code


@pytest.mark.parametrize("argv, message", [
    (["--engine", "tpu"], "argument --engine: invalid choice"),
    (["--data-parallel-size", "2"], "--data-parallel-size needs --engine vllm"),
    (["--engine-arg", "max_model_len=9", "--engine", "hf"], "--engine hf takes --engine-arg device and dtype only"),
    (["--model", "toy:3,2,0"], "[tableS6] --model toy:3,2,0: a table needs a base model"),
    (["--data-file", "missing.jsonl"], "file missing.jsonl does not exist"),
])
def test_bad_language_model_options_are_one_line_errors(cli, captured, tmp_path, capsys, argv, message):
    assert exit_status(cli, ["--table", "S6", "--scale", "tiny", "--out", str(tmp_path), *argv]) == 2
    error = capsys.readouterr().err
    assert message in error and len(error.strip().splitlines()) == 1 and "base" not in captured


def test_a_figure_without_an_option_says_it_ignores_it(cli, tmp_path, monkeypatch, capsys):
    from figures import fig2_temperature_sweep

    def compute(seed=0, scale="tiny", model=None):
        raise ValueError("stop here")

    monkeypatch.setattr(fig2_temperature_sweep, "compute", compute)
    assert cli.main(["--figure", "2", "--engine", "vllm", "--out", str(tmp_path)]) == 2
    assert "[2] takes no engine: ignored" in capsys.readouterr().err


# --------------------------------------------------------------------------- end to end, once, at toy size


def test_table_s6_end_to_end_on_math500_fixtures(cli, real_model, data, tmp_path, capsys):
    """Benchmark loading, Power(∞) on the real model, math-verify grading, the table's files."""
    _llm._CACHE.setdefault("default", real_model)
    out = tmp_path / "out"
    assert cli.main(["--table", "S6", "--scale", "tiny", "--data-file", str(data.math500), "--out", str(out)]) == 0
    assert capsys.readouterr().out.startswith("tableS6 (tiny): Base/Power(∞) r*=")
    summary = json.loads((out / "tables6.json").read_text())["summary"]
    [row] = summary["rows"]
    assert (row["model"], row["sampling"], row["n_prompts"], row["n_seeds"]) == ("Base", "Power(∞)", 2, 2)
    assert 0 <= row["r_star_mean"] <= 1 and row["r_self_mean"] < 0 and row["bon_r_self"] >= row["r_self_mean"] - 1e-12
    assert summary["data"] == {"task": "math500", "n_eval": 2, "training_set": None, "n_train": 0}
    assert sorted(p.name for p in out.iterdir()) == ["tables6.json", "tables6_rows.csv"]


def test_a_finished_student_with_the_same_settings_is_reused_after_a_kill(tmp_path, monkeypatch):
    from llm.experiments import cli as experiments_cli
    from llm.experiments import distill as distill_module
    from llm.experiments.distill import DistillConfig

    trained = []

    def distill(data, out, base, config):
        trained.append(config)
        out.mkdir(parents=True, exist_ok=True)
        (out / "distill_config.json").write_text(json.dumps({**dataclasses.asdict(config), "base": base.name, "examples": 2}))
        (out / "training_curve.json").write_text(json.dumps([{"step": 1, "loss": 0.5}]))
        return types.SimpleNamespace(curve=[{"step": 1, "loss": 0.5}])

    monkeypatch.setattr(distill_module, "distill", distill)
    monkeypatch.setattr(experiments_cli, "load_model", lambda spec, base=None, engine="hf": ("student", spec, engine))
    base, out = types.SimpleNamespace(name="base-model"), tmp_path / "student"
    config = DistillConfig(learning_rate=1e-5, max_steps=1)
    first = _pipeline._student(base, tmp_path / "teacher.jsonl", out, config, "vllm")
    assert first == (("student", str(out), "vllm"), [{"step": 1, "loss": 0.5}]) and len(trained) == 1
    assert _pipeline._student(base, tmp_path / "teacher.jsonl", out, config, "vllm") == first and len(trained) == 1
    _pipeline._student(base, tmp_path / "teacher.jsonl", out, DistillConfig(learning_rate=2e-5, max_steps=1), "vllm")
    assert len(trained) == 2  # other settings: trained again
