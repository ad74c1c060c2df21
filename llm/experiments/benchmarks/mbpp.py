"""MBPP (Austin et al. 2021, arXiv 2108.07732; hub ``google-research-datasets/mbpp``): code run only in the sandbox.

Schema: the ``full`` config's ``task_id``, ``text``, ``code``, ``test_list`` (assert
statements), ``test_setup_code``, ``challenge_test_list`` (not used), or the ``sanitized``
config's ``task_id``, ``prompt`` (instead of ``text``), ``code``, ``test_list``,
``test_imports``.  ``id`` = ``"mbpp-{task_id}"``.

Entry point: the first function called in ``test_list`` that the reference ``code`` defines
at top level (found with :mod:`ast`; none is a malformed record).

Prompt (the format of Austin et al. 2021, zero-shot; the paper's Appendix B.1 names MBPP
without a prompt)::

    You are an expert Python programmer, and here is your task: {text} Your code should pass these tests:

    {test_list, one per line}
    Write the code in a ```python code block.

Grade: the program is the completion's first fenced code block (```` ```python ````,
```` ```py ```` or a bare fence; an unclosed fence takes the rest), or the whole completion
if it has no fence.  It runs only through :func:`llm.experiments.humaneval.check_program`:
the program in one sandbox, the trusted checker (setup code, imports, then ``def
check(candidate)`` asserting every test with the entry point bound to ``candidate``) in
another; ``r* = 1`` iff the checker prints its secret nonce.  Tests that call a second
function of the program fail (only the entry point crosses between the sandboxes).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from ..humaneval import check_program
from .base import BenchmarkTask, Entry
from .records import HubSource, Record, field

__all__ = ["MBPPTask", "extract_code"]

_FENCE = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL | re.IGNORECASE)


def extract_code(completion: str) -> str:
    """The first fenced code block of ``completion`` (an unclosed one runs to the end), else ``completion``."""
    match = _FENCE.search(completion)
    return match.group(1) if match else completion


def _entry_point(record: Record, code: str, tests: list[str]) -> str:
    try:
        defined = {node.name for node in ast.parse(code).body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    except SyntaxError as error:
        raise ValueError(f"{record.where}: field 'code' is not valid Python: {error}") from error
    for test in tests:
        try:
            tree = ast.parse(test)
        except SyntaxError as error:
            raise ValueError(f"{record.where}: field 'test_list': {test!r} is not valid Python: {error}") from error
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in defined:
                return node.func.id
    raise ValueError(f"{record.where}: field 'test_list' calls no function that field 'code' defines")


@dataclass(frozen=True)
class MBPPTask(BenchmarkTask):
    """MBPP with sandboxed execution (see the module docstring); ``timeout`` seconds per completion."""

    timeout: float = 5.0

    name = "mbpp"
    hub = HubSource("google-research-datasets/mbpp", "full", "test")

    def parse(self, record: Record, index: int) -> Entry:
        task_id = field(record, "task_id", (int, str))
        text = field(record, "text", default=None)
        if text is None:
            text = field(record, "prompt", default=None)
            if text is None:
                raise ValueError(f"{record.where}: missing field 'text' (or 'prompt')")
        code = field(record, "code")
        tests = field(record, "test_list", list)
        if not tests or not all(isinstance(t, str) for t in tests):
            raise ValueError(f"{record.where}: field 'test_list' must be a non-empty list of strings")
        setup = field(record, "test_setup_code", default="")
        imports = field(record, "test_imports", list, default=[])
        if not all(isinstance(line, str) for line in imports):
            raise ValueError(f"{record.where}: field 'test_imports' must be a list of strings")
        entry_point = _entry_point(record, code, tests)
        body = "".join(f"    {line}\n" for test in tests for line in test.splitlines())
        checker = "\n".join([*imports, setup, f"def check(candidate):\n    {entry_point} = candidate\n{body}"])
        return Entry(f"{self.name}-{task_id}", text, code, f"```python\n{code}\n```", (tuple(tests), checker, entry_point))

    def question(self, entry: Entry) -> str:
        tests = "\n".join(entry.data[0])
        return (
            f"You are an expert Python programmer, and here is your task: {entry.text} "
            f"Your code should pass these tests:\n\n{tests}\nWrite the code in a ```python code block."
        )

    def grade(self, entry: Entry, completion: str) -> float:
        _, checker, entry_point = entry.data
        return check_program("", extract_code(completion), checker, entry_point, self.timeout)
