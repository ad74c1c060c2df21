"""True rewards ``r*(x, y)`` for the experiments (paper Section 6, Appendix B.1).

A *task* is a prompt source ``μ`` plus a true reward with one small interface:

* ``task.problems(n, seed) -> list[Problem]`` -- ``n`` prompts (text, with a stable ``id``);
* ``task.reward(prompt, completion) -> float`` -- ``r*`` of a completion *text* given its
  prompt *text*; nothing else is needed, so any Python callable with that signature
  plugs in (a task is anything with these two methods and a ``name``).

Built-ins:

* :class:`ArithmeticTask` -- "What is 37 + 58?" with an exact checker (the last
  integer of the completion must equal the sum); the difficulty knob is the
  number of ``digits`` per operand and of ``terms``.  The default model
  (SmolLM2-135M-Instruct) gets 1-digit sums right only sometimes (about 12% of
  standard samples, higher with sharper sampling) and 2-digit sums rarely
  (about 4%), so its accuracy is neither 0 nor 1 at the default ``digits=1``.
* :class:`ToyTask` -- for a :class:`llm.ToyModel`: prompts are empty, completions
  are space-separated token ids, ``r*`` = fraction of tokens equal to ``target``.
* :func:`hash_fraction`, :func:`synthetic_rewards` -- the synthetic rewards
  ``r_λ`` of Appendix B.1 (Figure 3).
* HumanEval lives in :mod:`llm.experiments.humaneval` (it executes code, in a subprocess);
  the benchmarks MATH500, GSM8K, MBPP and GPQA-Diamond in :mod:`llm.experiments.benchmarks`
  (loaded from the hub or a local ``data_file``).
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from typing import Callable, NamedTuple, Protocol, Sequence, runtime_checkable

import numpy as np

__all__ = [
    "ArithmeticTask",
    "Problem",
    "RewardFunction",
    "TASK_NAMES",
    "Task",
    "ToyTask",
    "get_task",
    "hash_fraction",
    "hash_noise",
    "synthetic_rewards",
    "zscore",
]

#: ``r*(prompt_text, completion_text) -> float``: the pluggable true-reward signature.
RewardFunction = Callable[[str, str], float]


class Problem(NamedTuple):
    """One prompt ``x``: a stable ``id`` (teacher records are keyed by it), the ``prompt`` text, its reference ``answer``."""

    id: str
    prompt: str
    answer: str


@runtime_checkable
class Task(Protocol):
    """A prompt source and a true reward (see the module docstring)."""

    name: str

    def problems(self, n: int, seed: int = 0) -> list[Problem]: ...

    def reward(self, prompt: str, completion: str) -> float: ...


_QUESTION = re.compile(r"What is ((?:-?\d+)(?:\s*\+\s*-?\d+)+)\?")
_INTEGER = re.compile(r"-?\d+")


@dataclass(frozen=True)
class ArithmeticTask:
    """Sums of ``terms`` positive integers with exactly ``digits`` digits each (the difficulty knob).

    Prompt: ``"What is a + b? Answer with just the number."``.  ``reward`` parses the
    operands back from the prompt (so it needs nothing but the two texts) and returns
    1.0 iff the *last* integer in the completion (thousands separators removed) equals
    the exact sum, else 0.0 -- a completion that restates the question and then gives
    the answer is right, a truncated one that stops inside the restatement is wrong.
    """

    digits: int = 1  # measured: SmolLM2-135M-Instruct, standard sampling, 48 draws: 1 digit 12% right, 2 digits 4%
    terms: int = 2
    name: str = "arithmetic"

    def __post_init__(self):
        if self.digits < 1 or self.terms < 2:
            raise ValueError(f"need digits >= 1 and terms >= 2, got digits={self.digits}, terms={self.terms}")

    def problems(self, n: int, seed: int = 0) -> list[Problem]:
        """``n`` problems drawn with ``random.Random(seed)``; ``id = "arithmetic-d{digits}-{seed}-{i}"``."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        rng = random.Random(f"arithmetic-{self.digits}-{self.terms}-{seed}")
        low = 1 if self.digits == 1 else 10 ** (self.digits - 1)  # no 0 operand: "0 + 4" would make the restated question look right
        out = []
        for i in range(n):
            operands = [rng.randrange(low, 10**self.digits) for _ in range(self.terms)]
            question = " + ".join(str(v) for v in operands)
            out.append(
                Problem(
                    f"arithmetic-d{self.digits}t{self.terms}-{seed}-{i}",
                    f"What is {question}? Answer with just the number.",
                    str(sum(operands)),
                )
            )
        return out

    def reward(self, prompt: str, completion: str) -> float:
        """1.0 iff the last integer of ``completion`` equals the sum asked in ``prompt``."""
        match = _QUESTION.search(prompt)
        if match is None:
            raise ValueError(f"not an arithmetic prompt: {prompt!r}")
        answer = sum(int(v) for v in _INTEGER.findall(match.group(1)))
        numbers = _INTEGER.findall(re.sub(r"(?<=\d),(?=\d{3}\b)", "", completion))
        return float(bool(numbers) and int(numbers[-1]) == answer)


@dataclass(frozen=True)
class ToyTask:
    """For :class:`llm.ToyModel` runs: empty prompts, completions as space-separated ids, ``r*`` = share of ``target``."""

    target: int = 0
    name: str = "toy"

    def problems(self, n: int, seed: int = 0) -> list[Problem]:
        return [Problem(f"toy-{seed}-{i}", "", "") for i in range(n)]

    def reward(self, prompt: str, completion: str) -> float:
        tokens = completion.split()
        return sum(int(t) == self.target for t in tokens) / len(tokens) if tokens else 0.0


#: Names :func:`get_task` knows (the ``--task`` choices).
TASK_NAMES = ("arithmetic", "toy", "humaneval", "math500", "gsm8k", "mbpp", "gpqa")


def get_task(name: str, **options) -> Task:
    """A built-in task by name: ``arithmetic`` (options ``digits``, ``terms``), ``toy``, ``humaneval``,
    and the benchmarks ``math500``, ``gsm8k``, ``mbpp``, ``gpqa`` (options ``data_file``, ``shots``,
    ``split``; see :mod:`llm.experiments.benchmarks`)."""
    if "data_file" in options and name not in TASK_NAMES[3:]:
        raise ValueError(f"a data file applies to the benchmarks {', '.join(TASK_NAMES[3:])}, not to task {name!r}")
    if name in TASK_NAMES[3:]:
        from .benchmarks import BENCHMARKS

        return BENCHMARKS[name](**options)
    if name == "arithmetic":
        return ArithmeticTask(**options)
    if name == "toy":
        return ToyTask(**options)
    if name == "humaneval":
        from .humaneval import HumanEvalTask

        return HumanEvalTask(**options)
    raise ValueError(f"unknown task {name!r}; built-ins: {', '.join(TASK_NAMES)}")


# --------------------------------------------------------------------------- synthetic rewards (App. B.1)


def hash_fraction(completion: str) -> float:
    """SHA-256 of the UTF-8 completion, leading 64 bits read as an unsigned fraction in ``[0, 1)`` (App. B.1)."""
    digest = hashlib.sha256(completion.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def hash_noise(completion: str, seed: int, sigma: float = 0.5) -> float:
    """``ε(y) ~ N(0, σ²)``, i.i.d. across distinct completions, a fixed function of ``(seed, y)``.

    Seeding a generator with SHA-256 of ``(seed, y)`` makes ``r_λ`` a genuine function of
    the completion: the same text always gets the same noise, whichever sampler drew it.
    """
    key = hashlib.sha256(f"{int(seed)}\x00{completion}".encode("utf-8")).digest()
    return float(sigma * np.random.default_rng(int.from_bytes(key[:8], "big")).standard_normal())


def zscore(values: Sequence[float]) -> np.ndarray:
    """``(v - mean) / sd`` with the pooled sample mean and sample standard deviation (ddof = 1)."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or len(v) < 2 or not np.all(np.isfinite(v)):
        raise ValueError("zscore needs at least two finite values in a 1-d array")
    sd = v.std(ddof=1)
    if sd == 0:
        raise ValueError("zscore of constant values is undefined (sample sd = 0)")
    return (v - v.mean()) / sd


def synthetic_rewards(
    completions: Sequence[str],
    self_rewards: Sequence[float],
    lambdas: Sequence[float],
    seed: int = 0,
    sigma: float = 0.5,
) -> np.ndarray:
    """``r_λ(y) = λ z_self(y) + sqrt(1 - λ²) (z_r(y) + ε(y))`` for every ``λ``: shape ``(len(lambdas), n)``.

    Appendix B.1: ``z_self`` and ``z_r`` are z-scores (pooled sample mean and sd over
    all ``n`` completions given) of the self-reward and of :func:`hash_fraction`;
    ``ε(y) ~ N(0, σ²)`` with ``σ = 0.5`` (:func:`hash_noise`, seeded).  Pool the
    completions of every sampler you compare in one call so they share the z-scores.
    """
    lam = np.asarray(lambdas, dtype=np.float64)
    if np.any(np.abs(lam) > 1) or lam.ndim != 1:
        raise ValueError("lambdas must be a 1-d sequence in [-1, 1]")
    if len(completions) != len(self_rewards):
        raise ValueError(f"{len(completions)} completions but {len(self_rewards)} self-rewards")
    z_self = zscore(self_rewards)
    z_hash = zscore([hash_fraction(c) for c in completions])
    noise = np.array([hash_noise(c, seed, sigma) for c in completions])
    return lam[:, None] * z_self[None] + np.sqrt(1 - lam**2)[:, None] * (z_hash + noise)[None]
