"""Benchmark tasks on fixture files in each real schema: loaders, malformed records, graders, the evaluate CLI.

No network: the hub path is exercised with a stand-in ``datasets`` module.  MBPP (which runs
code in the sandbox) is in test_mbpp.py.
"""

import json
import sys
import threading
import types

import numpy as np
import pytest

import llm
from llm.experiments.benchmarks import BENCHMARKS, GPQATask, GSM8KTask, MATH500Task
from llm.experiments.benchmarks.gpqa import choice_order, extract_letter
from llm.experiments.benchmarks.gsm8k import last_number, parse_number
from llm.experiments.benchmarks.math500 import last_boxed, math_equal
from llm.experiments.tasks import TASK_NAMES, get_task

MATH500 = [
    {"problem": "Convert the point $(0,3)$ in rectangular coordinates to polar coordinates.",
     "solution": "We have $r = 3$ and $\\theta = \\frac{\\pi}{2}$, so the answer is $\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}.$",
     "answer": "\\left( 3, \\frac{\\pi}{2} \\right)", "subject": "Precalculus", "level": 2,
     "unique_id": "test/precalculus/807.json"},
    {"problem": "What is $\\frac{1}{2} + \\frac{1}{4}$?", "solution": "It is $\\boxed{\\frac{3}{4}}$.",
     "answer": "\\frac{3}{4}", "subject": "Prealgebra", "level": 1, "unique_id": "test/prealgebra/1.json"},
    {"problem": "Compute $7 \\cdot 6$.", "solution": "$7 \\cdot 6 = \\boxed{42}$.", "answer": "42",
     "subject": "Prealgebra", "level": 1, "unique_id": "test/prealgebra/2.json"},
]

GSM8K = [
    {"question": "Janet's ducks lay 16 eggs per day. She eats three and bakes with four. She sells the rest at $2 "
                 "per egg. How much does she make every day?",
     "answer": "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\nShe makes 9 * 2 = $<<9*2=18>>18 every day.\n#### 18"},
    {"question": "A farm has 1,200 cows and buys 400 more. How many cows does it have?",
     "answer": "1,200 + 400 = <<1200+400=1600>>1,600\n#### 1,600"},
    {"question": "The temperature was 2 degrees and fell by 5. What is it now?", "answer": "2 - 5 = -3\n#### -3"},
    {"question": "Half of 5 apples?", "answer": "5 / 2 = 2.5\n#### 2.5"},
]

GPQA = [
    {"Question": f"Which particle is number {i}?", "Correct Answer": f" right {i}\n", "Incorrect Answer 1": f"wrong {i}a",
     "Incorrect Answer 2": f"wrong {i}b", "Incorrect Answer 3": f"wrong {i}c", "Record ID": f"rec{i:04d}",
     "Explanation": "Because.", "High-level domain": "Physics"}
    for i in range(6)
]


def write(path, records, kind=None):
    """``records`` as a ``.jsonl`` (one per line), ``.json`` (an array) or ``.parquet`` file."""
    kind = kind or path.suffix
    if kind == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
    elif kind == ".json":
        path.write_text(json.dumps(records))
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(records), path)
    return path


def assert_rewards(task, completions_by_problem, expected):
    for problem, completions in completions_by_problem.items():
        for completion in completions:
            assert task.reward(problem.prompt, completion) == expected, (problem.id, completion)


# ------------------------------------------------------------------ registry and loading


def test_every_benchmark_is_a_named_task_of_the_cli(tmp_path):
    assert set(BENCHMARKS) == {"math500", "gsm8k", "mbpp", "gpqa"} <= set(TASK_NAMES)
    task = get_task("gsm8k", data_file=write(tmp_path / "g.jsonl", GSM8K))
    assert isinstance(task, GSM8KTask) and task.name == "gsm8k"
    with pytest.raises(ValueError, match="not to task 'arithmetic'"):
        get_task("arithmetic", data_file="x.jsonl")
    with pytest.raises(ValueError, match="unknown task 'aime'.*gsm8k"):
        get_task("aime")


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_a_local_file_gives_problems_in_file_order_and_their_rewards(tmp_path, suffix):
    task = MATH500Task(data_file=write(tmp_path / f"math{suffix}", MATH500))
    problems = task.problems(3)
    assert [p.id for p in problems] == [r["unique_id"] for r in MATH500]
    assert [p.answer for p in problems] == [r["answer"] for r in MATH500]
    assert problems[1].prompt == (
        "What is $\\frac{1}{2} + \\frac{1}{4}$?\nPlease reason step by step, and put your final answer within \\boxed{}."
    )
    assert [task.reward(p.prompt, r["solution"]) for p, r in zip(problems, MATH500)] == [1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="asked for 4 problems, the data has 3"):
        task.problems(4)
    with pytest.raises(ValueError, match="not a math500 prompt"):
        task.reward("What is 1 + 1?", "\\boxed{2}")


def test_parquet_files_load_and_a_missing_pyarrow_is_a_clear_error(tmp_path, monkeypatch):
    json_task = GSM8KTask(data_file=write(tmp_path / "g.jsonl", GSM8K))
    try:
        path = write(tmp_path / "g.parquet", GSM8K)
    except ImportError:
        path = tmp_path / "g.parquet"
        path.write_bytes(b"PAR1")
    else:
        assert GSM8KTask(data_file=path).problems(4) == json_task.problems(4)
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(ValueError, match="Parquet needs pyarrow"):
        GSM8KTask(data_file=path).problems(1)


def fake_datasets(load):
    module = types.ModuleType("datasets")
    module.load_dataset = load
    return module


def test_the_hub_is_asked_by_the_usual_name_through_datasets(monkeypatch):
    calls = []

    def load(path, config, split):
        calls.append((path, config, split))
        return GSM8K

    monkeypatch.setitem(sys.modules, "datasets", fake_datasets(load))
    assert len(GSM8KTask().problems(4)) == 4
    assert len(GSM8KTask(split="train").problems(1)) == 1
    assert calls == [("openai/gsm8k", "main", "test"), ("openai/gsm8k", "main", "train")]
    assert {name: task.hub.path for name, task in BENCHMARKS.items()} == {
        "math500": "HuggingFaceH4/MATH-500", "gsm8k": "openai/gsm8k",
        "mbpp": "google-research-datasets/mbpp", "gpqa": "Idavidrein/gpqa",
    }


@pytest.mark.parametrize("name", ["math500", "gsm8k", "mbpp", "gpqa"])
def test_offline_without_a_file_the_error_names_the_dataset_and_data_file(monkeypatch, name):
    def offline(path, config, split):
        raise ConnectionError("no network")

    monkeypatch.setitem(sys.modules, "datasets", fake_datasets(offline))
    with pytest.raises(ValueError, match=f"{name}: could not load {BENCHMARKS[name].hub.path}.*--data-file"):
        get_task(name).problems(1)
    monkeypatch.setitem(sys.modules, "datasets", None)  # not installed
    with pytest.raises(ValueError, match=f"{name}: .*needs the `datasets` package.*--data-file"):
        get_task(name).problems(1)


def test_malformed_files_and_records_name_the_file_the_record_and_the_field(tmp_path):
    bad_line = tmp_path / "bad.jsonl"
    bad_line.write_text(json.dumps(GSM8K[0]) + "\n\n" + '{"question": "x", "answer": \n')
    with pytest.raises(ValueError, match=r"bad.jsonl:3: not a JSON object"):
        GSM8KTask(data_file=bad_line).problems(1)
    deep = "[" * 100_000 + "]" * 100_000  # deeper than the recursion limit: json raises RecursionError
    for suffix, text, message in [(".jsonl", json.dumps(GSM8K[0]) + "\n" + deep + "\n", r"deep.jsonl:2: not a JSON object"),
                                  (".json", deep, r"deep.json: not valid JSON")]:
        (tmp_path / f"deep{suffix}").write_text(text)
        with pytest.raises(ValueError, match=message):
            GSM8KTask(data_file=tmp_path / f"deep{suffix}").problems(1)
    cases = [
        (GSM8KTask, [GSM8K[0], {"answer": "#### 3"}], r"g.jsonl:2: missing field 'question'"),
        (GSM8KTask, [GSM8K[0], {"question": "q", "answer": 3}], r"g.jsonl:2: field 'answer' must be str, got int"),
        (GSM8KTask, [{"question": "q", "answer": "no final answer"}], r"g.jsonl:1: field 'answer' has no '####"),
        (GSM8KTask, [{"question": "q", "answer": "#### twelve"}], r"g.jsonl:1: field 'answer': 'twelve'.* not a number"),
        (GSM8KTask, [GSM8K[0], [1, 2]], r"g.jsonl:2: a record must be a JSON object, got list"),
        (MATH500Task, [{"problem": "p", "solution": "no box"}], r"g.jsonl:1: missing field 'answer'"),
        (GPQATask, [{k: v for k, v in GPQA[0].items() if k != "Incorrect Answer 2"}],
         r"g.jsonl:1: missing field 'Incorrect Answer 2'"),
        (GPQATask, [GPQA[0], GPQA[0]], r"g.jsonl:2: duplicate id 'gpqa-rec0000' \(first at .*g.jsonl:1\)"),
    ]
    for task, records, message in cases:
        with pytest.raises(ValueError, match=message):
            task(data_file=write(tmp_path / "g.jsonl", records)).problems(1)
    as_json = write(tmp_path / "g.json", [GSM8K[0], {"question": "q"}])
    with pytest.raises(ValueError, match=r"g.json: record 2: missing field 'answer'"):
        GSM8KTask(data_file=as_json).problems(1)
    (tmp_path / "o.json").write_text('{"question": "q"}')
    with pytest.raises(ValueError, match="must hold a JSON array"):
        GSM8KTask(data_file=tmp_path / "o.json").problems(1)
    with pytest.raises(ValueError, match="unknown data file type '.csv'"):
        GSM8KTask(data_file=write(tmp_path / "g.csv", GSM8K, ".jsonl")).problems(1)
    with pytest.raises(ValueError, match="does not exist"):
        GSM8KTask(data_file=tmp_path / "missing.jsonl").problems(1)
    clash = [GSM8K[0], {**GSM8K[0], "answer": "#### 19"}]
    with pytest.raises(ValueError, match="same prompt but different answers"):
        GSM8KTask(data_file=write(tmp_path / "g.jsonl", clash)).problems(1)
    with pytest.raises(ValueError, match="shots must be"):
        GSM8KTask(shots=-1)


def test_few_shot_prompts_use_the_first_records_as_worked_examples(tmp_path):
    task = GSM8KTask(data_file=write(tmp_path / "g.jsonl", GSM8K), shots=1)
    problems = task.problems(3)
    assert [p.id for p in problems] == ["gsm8k-1", "gsm8k-2", "gsm8k-3"]
    assert problems[0].prompt.startswith(GSM8K[0]["question"] + "\nPlease reason step by step")
    assert "She makes 9 * 2 = $<<9*2=18>>18 every day.\nThe answer is 18.\n\n" in problems[0].prompt
    assert problems[0].prompt.endswith(GSM8K[1]["question"] + "\nPlease reason step by step, and give the final "
                                       "answer as a number on the last line.")
    assert task.reward(problems[0].prompt, "so 1600") == 1.0
    with pytest.raises(ValueError, match="4 records, but 4 shots"):
        GSM8KTask(data_file=task.data_file, shots=4).problems(0)


# ------------------------------------------------------------------ MATH500 grading


def test_last_boxed_takes_the_last_box_with_nested_and_escaped_braces():
    assert last_boxed("first \\boxed{1} then \\boxed{\\frac{3}{4}}.") == "\\frac{3}{4}"
    assert last_boxed("$\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}$") == "\\left( 3, \\frac{\\pi}{2} \\right)"
    assert last_boxed("\\boxed{\\{1, 2\\}}") == "\\{1, 2\\}"  # escaped braces neither open nor close
    assert last_boxed("\\fbox{7}") == "7" and last_boxed("so $\\boxed 5$.") == "5"
    assert last_boxed("\\boxed{1} and then \\boxed{\\frac{3}{") is None  # the last box is cut off: no answer
    assert last_boxed("no box at all") is None and last_boxed("\\boxed") is None


def test_math500_grades_equivalent_answers_with_math_verify_gold_first(tmp_path, monkeypatch):
    task = MATH500Task(data_file=write(tmp_path / "m.jsonl", MATH500))
    polar, half, product = task.problems(3)
    right = {
        polar: ["\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}", "\\boxed{(3, \\pi/2)}"],
        half: ["\\boxed{\\frac{3}{4}}", "\\boxed{0.75}", "\\boxed{\\dfrac{3}{4}}", "\\boxed{\\frac34}",
               "a wrong \\boxed{1} first, then \\boxed{3/4}"],
        product: ["\\boxed{42}", "\\boxed{42.0}", "\\fbox{42}", "$\\boxed 42$"],
    }
    wrong = {
        polar: ["\\boxed{(3, \\pi)}", "(3, \\pi/2) without a box"],
        half: ["\\boxed{3/4} was wrong, it is \\boxed{1}", "\\boxed{\\frac{3}{"],
        product: ["\\boxed{41}", "42", ""],
    }
    assert_rewards(task, right, 1.0)
    assert_rewards(task, wrong, 0.0)
    import math_verify

    calls = []
    real = math_verify.verify
    monkeypatch.setattr(math_verify, "verify", lambda gold, pred, **kw: calls.append((gold, pred)) or real(gold, pred))
    assert math_equal("\\frac{3}{4}", "0.75")
    assert calls == [(math_verify.parse("$\\frac{3}{4}$"), math_verify.parse("$0.75$"))]


def test_math500_grading_refuses_to_run_off_the_main_thread(tmp_path):
    task = MATH500Task(data_file=write(tmp_path / "m.jsonl", MATH500))
    problem = task.problems(1)[0]
    errors = []
    worker = threading.Thread(target=lambda: errors.append(_raises(task.reward, problem.prompt, "\\boxed{3}")))
    worker.start()
    worker.join()
    assert isinstance(errors[0], RuntimeError) and "signal.alarm" in str(errors[0])


def _raises(function, *args):
    try:
        function(*args)
    except Exception as error:  # noqa: BLE001 - the test inspects it
        return error
    return None


# ------------------------------------------------------------------ GSM8K grading


def test_gsm8k_gold_is_the_number_after_the_hashes_with_commas_signs_and_decimals(tmp_path):
    task = GSM8KTask(data_file=write(tmp_path / "g.jsonl", GSM8K))
    assert [p.answer for p in task.problems(4)] == ["18", "1,600", "-3", "2.5"]
    assert [e.data for e in task.entries] == [18, 1600, -3, 2.5]
    assert parse_number(" $1,234.50. ") == 1234.5 and parse_number("12 apples") is None


def test_gsm8k_takes_the_last_number_of_the_completion_in_every_format(tmp_path):
    task = GSM8KTask(data_file=write(tmp_path / "g.jsonl", GSM8K))
    eggs, cows, temperature, apples = task.problems(4)
    right = {
        eggs: ["The answer is 18.", "$18", "She makes $18.00 a day.", "18.0", "9 * 2 = <<9*2=18>>18",
               "Not 17 but 18", "18 dollars"],
        cows: ["1,600", "1600 cows.", "There are 1,600.", "$1,600.00", "1,200 + 400 = 1,600"],
        temperature: ["-3", "It is now -3 degrees.", "−3", "2 - 5 = -3."],
        apples: ["2.5", "2.50 apples", "The answer is 2.5."],
    }
    wrong = {
        eggs: ["18 or 19", "no idea", "", "18th is not 1"],
        cows: ["1,200", "1, 600", "16,00"],
        temperature: ["3", "It fell 5 degrees to 3 below zero, so 3"],
        apples: ["2", "25", "2.5 or 3"],
    }
    assert_rewards(task, right, 1.0)
    assert_rewards(task, wrong, 0.0)
    assert last_number("1, 2, 3.") == 3 and last_number("x2") is None and last_number("3.0") == 3


# ------------------------------------------------------------------ GPQA


def test_gpqa_choices_are_a_seeded_permutation_with_the_correct_answer_uniform_over_letters(tmp_path):
    task = GPQATask(data_file=write(tmp_path / "q.jsonl", GPQA))
    for problem, record in zip(task.problems(6), GPQA):
        order = choice_order(record["Record ID"], 0)
        assert sorted(order) == [0, 1, 2, 3]
        shown = [record["Correct Answer"].strip()] + [record[f"Incorrect Answer {i}"] for i in (1, 2, 3)]
        options = "".join(f"({letter}) {shown[k]}\n" for letter, k in zip("ABCD", order))
        assert options in problem.prompt and problem.prompt.startswith(record["Question"] + "\n\n(A) ")
        assert problem.answer == "ABCD"[order.index(0)]
        assert task.reward(problem.prompt, f"The answer is ({problem.answer})") == 1.0
        other = "ABCD"[(order.index(0) + 1) % 4]
        assert task.reward(problem.prompt, f"The answer is ({other})") == 0.0
    assert GPQATask(data_file=task.data_file).problems(6) == task.problems(6)  # fixed per record and seed
    reshuffled = GPQATask(data_file=task.data_file, shuffle_seed=1).problems(6)
    assert [p.prompt for p in reshuffled] != [p.prompt for p in task.problems(6)]
    positions = np.bincount([choice_order(f"rec{i}", 0).index(0) for i in range(4000)], minlength=4)
    assert np.all(np.abs(positions - 1000) < 4 * np.sqrt(4000 * 0.25 * 0.75))  # uniform within 4 binomial sd


def test_gpqa_letter_extraction_rule():
    cases = {
        "The answer is (B)": "B", "Answer: C": "C", "the answer is D.": "D", "ANSWER: (A)": "A",
        "Maybe (A), but the answer is (C).": "C", "Answer: B. Wait, the answer is (D)": "D",
        "The answer is (B). (A) was tempting.": "B",  # an explicit statement beats a later bare letter
        "Between (A) and (C) I pick C": "C", "so it must be B": "B",
        "A quick check gives nothing": "A",  # the documented ambiguity of the bare-letter fallback
        "ABCD BAD": None, "the answer is e": None, "": None, "answer is b": None,
    }
    for completion, letter in cases.items():
        assert extract_letter(completion) == letter, completion


# ------------------------------------------------------------------ evaluate end to end (a toy that writes digits)


class DigitToy(llm.ToyModel):
    """A :class:`llm.ToyModel` that reads any prompt as empty and writes its token ids as digits."""

    def encode(self, text, chat=True):
        return []

    def decode(self, tokens):
        return " ".join(str(int(t)) for t in tokens)


def test_evaluate_cli_on_gsm8k_prints_pass_at_k_and_a_paired_test(tmp_path, monkeypatch, capsys):
    from llm.__main__ import main

    digits = [{"question": f"Which digit is number {i}?", "answer": f"It is {i % 3}.\n#### {i % 3}"} for i in range(6)]
    data = write(tmp_path / "digits.jsonl", digits)
    monkeypatch.setattr(llm, "ToyModel", DigitToy)
    assert main(["evaluate", "--model", "toy:3,4,0", "--task", "gsm8k", "--data-file", str(data), "--n", "6",
                 "--seeds", "4", "--methods", "standard,power-mh", "--block-size", "2", "--n-mcmc", "1"]) == 0
    out = capsys.readouterr().out
    assert "| BoN r_self | pass@4 |" in out
    rows = [line for line in out.splitlines() if line.startswith("| toy") or line.startswith("|  |")]
    assert len(rows) == 2 and all(float(row.split("|")[-2]) >= 0 for row in rows)
    assert "paired: toy:3,4,0 / " in out and "95% bootstrap CI" in out and "McNemar exact p = " in out


def test_python_m_llm_evaluate_gsm8k_on_the_default_model(tmp_path, real_model, monkeypatch, capsys):
    """The documented laptop run at CI size: ``python -m llm evaluate --task gsm8k --data-file F --n 8 --engine hf``
    on the default model (SmolLM2-135M-Instruct; the session's copy stands in for the load), printing pass@k and a
    paired test.  tests/llm/test_vllm_default_model.py runs the same command with ``--engine vllm``."""
    from gsm8k_fixture import check_table, evaluate_argv, write_gsm8k

    from llm.__main__ import main
    from llm.experiments import cli

    loads = []
    monkeypatch.setattr(cli, "_load_engine", lambda model, engine, args: loads.append((model, engine)) or real_model)
    assert main(evaluate_argv(write_gsm8k(tmp_path), "hf")) == 0
    assert loads == [(None, "hf")]
    check_table(capsys.readouterr().out)
