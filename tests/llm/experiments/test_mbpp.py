"""MBPP: the reference solutions pass, wrong and hostile code scores 0 and does not escape the sandbox.

Code runs only through the HumanEval sandbox (two bubblewrap sandboxes, the checker's secret
nonce); the fake passes and the host-side checks are test_humaneval.py's, reused.  The attack
completions are *gated* as there: ``add`` is right only if the attack set ``ESCAPED``.
"""

import json
import os
import subprocess
import sys

import pytest

from llm.experiments.benchmarks import MBPPTask
from llm.experiments.benchmarks.mbpp import extract_code
from tests.llm.experiments.test_humaneval import FAKE_PASSES, processes_mentioning

MBPP = [  # the `full` config's schema
    {"task_id": 11, "text": "Write a python function to add two numbers.", "code": "def add(a, b):\r\n    return a + b",
     "test_list": ["assert add(1, 2) == 3", "assert add(-1, 1) == 0", "assert add(2.5, 0.5) == 3.0"],
     "test_setup_code": "", "challenge_test_list": []},
    {"task_id": 12, "text": "Write a function to find the area of a circle.",
     "code": "import math\ndef helper(r):\n    return r * r\ndef circle_area(r):\n    return math.pi * helper(r)",
     "test_list": ["assert math.isclose(circle_area(2), 12.566370614359172)", "assert round(circle_area(1), 4) == 3.1416"],
     "test_setup_code": "import math", "challenge_test_list": []},
]
SANITIZED = {"source_file": "Benchmark Questions Verification V2.ipynb", "task_id": 17,
             "prompt": "Write a function that returns the set of shared elements of two lists.",
             "code": "def similar_elements(a, b):\n    return tuple(set(a) & set(b))",
             "test_imports": [], "test_list": ["assert set(similar_elements((3, 4, 5), (5, 7, 4))) == set((4, 5))"]}


@pytest.fixture
def task(tmp_path):
    path = tmp_path / "mbpp.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in [*MBPP, SANITIZED]))
    return MBPPTask(data_file=path, timeout=3.0)


def fenced(code: str) -> str:
    return f"Here is the function:\n```python\n{code}\n```\nIt adds."


def test_records_of_both_schemas_load_with_their_entry_point_and_prompt(task):
    problems = task.problems(3)
    assert [p.id for p in problems] == ["mbpp-11", "mbpp-12", "mbpp-17"]
    assert [e.data[2] for e in task.entries] == ["add", "circle_area", "similar_elements"]
    assert problems[0].prompt == (
        "You are an expert Python programmer, and here is your task: Write a python function to add two numbers. "
        "Your code should pass these tests:\n\nassert add(1, 2) == 3\nassert add(-1, 1) == 0\n"
        "assert add(2.5, 0.5) == 3.0\nWrite the code in a ```python code block."
    )


def test_malformed_mbpp_records_name_the_record_and_the_field(tmp_path):
    cases = [
        ({**MBPP[0], "test_list": ["assert subtract(1, 2) == -1"]}, "field 'test_list' calls no function"),
        ({**MBPP[0], "test_list": []}, "field 'test_list' must be a non-empty list"),
        ({**MBPP[0], "test_list": "assert add(1, 2) == 3"}, "field 'test_list' must be list, got str"),
        ({**MBPP[0], "code": "def add(a, b) return a"}, "field 'code' is not valid Python"),
        ({k: v for k, v in MBPP[0].items() if k != "text"}, "missing field 'text' \\(or 'prompt'\\)"),
        ({**MBPP[0], "task_id": True}, "field 'task_id' must be int or str, got bool"),
    ]
    for record, message in cases:
        path = tmp_path / "bad.jsonl"
        path.write_text(json.dumps(MBPP[1]) + "\n" + json.dumps(record) + "\n")
        with pytest.raises(ValueError, match=f"bad.jsonl:2: {message}"):
            MBPPTask(data_file=path).problems(1)


def test_code_is_taken_from_the_first_fence_or_the_whole_completion():
    assert extract_code("```python\nx = 1\n```\n```python\nx = 2\n```") == "x = 1\n"
    assert extract_code("text\n```py\nx = 1\n```") == "x = 1\n"
    assert extract_code("```\nx = 1\n```") == "x = 1\n"
    assert extract_code("```python\nx = 1\n") == "x = 1\n"  # cut off before the closing fence
    assert extract_code("def f():\n    return 1\n") == "def f():\n    return 1\n"


def test_reference_solutions_pass_and_wrong_ones_fail(task):
    for problem, record in zip(task.problems(3), [*MBPP, SANITIZED]):
        assert task.reward(problem.prompt, fenced(record["code"])) == 1.0, record["task_id"]
    add = task.problems(1)[0]
    assert task.reward(add.prompt, fenced("def add(a, b):\n    return a - b")) == 0.0
    assert task.reward(add.prompt, "def add(a, b):\n    return a + b\n") == 1.0  # no fence: the whole text
    assert task.reward(add.prompt, fenced("def plus(a, b):\n    return a + b")) == 0.0  # wrong name
    assert task.reward(add.prompt, "I cannot do that.") == 0.0


def gated(attack: str) -> str:
    """A program whose ``add`` is right iff its module-level ``attack`` sets ``ESCAPED = True``."""
    return f"ESCAPED = False\n{attack}\ndef add(a, b):\n    return a + b if ESCAPED else None\n"


@pytest.mark.parametrize("body", FAKE_PASSES.values(), ids=FAKE_PASSES.keys())
def test_a_fake_pass_scores_zero(task, body):
    add = task.problems(1)[0]
    assert task.reward(add.prompt, fenced("def add(a, b):\n" + body)) == 0.0


def test_hostile_code_scores_zero_and_does_not_escape(task, tmp_path):
    add = task.problems(1)[0]
    assert task.reward(add.prompt, gated("ESCAPED = True")) == 1.0  # the gate opens when an attack works
    marker = tmp_path / "escaped"
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        attack = (
            "import os, posix\n"
            f"for pid in (os.getppid(), 1, {victim.pid}, {os.getpid()}):\n"
            "    try:\n"
            "        posix.kill(pid, 9)\n"
            f"        ESCAPED = ESCAPED or pid in ({victim.pid}, {os.getpid()})\n"
            "    except OSError:\n"
            "        pass\n"
            "try:\n"
            f"    open({str(marker)!r}, 'w').write('x')\n"
            "    ESCAPED = True\n"
            "except OSError:\n"
            "    pass\n"
            "try:\n"
            f"    os.posix_spawn('/bin/sh', ['/bin/sh', '-c', 'touch {marker}; sleep 5 # mbpp-escape'], {{}})\n"
            "    ESCAPED = True\n"
            "except OSError:\n"
            "    pass\n"
        )
        assert task.reward(add.prompt, fenced(gated(attack))) == 0.0
        assert victim.poll() is None and not marker.exists() and processes_mentioning("mbpp-escape") == []
    finally:
        victim.kill()
        victim.wait()
    hang = "def add(a, b):\n    while True:\n        pass\n"
    assert task.reward(add.prompt, fenced(hang)) == 0.0  # ends at the timeout
