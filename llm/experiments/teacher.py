"""Teacher data for power self-distillation (Algorithm 1, lines 3-8): ``D = {(x_i, y_i)}``, ``y_i ~ TeacherSample(x_i; π, α)``.

:func:`generate_teacher` draws ``n`` prompts from a task (``x_i ~ μ``), samples one
completion per prompt with any method of :data:`llm.methods.METHODS` (by default
block-wise MH power sampling, Algorithm 2) and appends one JSON record per prompt to a JSONL file.

Loss-free and resumable.  Each record is written with one ``write`` of the full
line, then ``flush`` and ``os.fsync``, so after a kill (SIGKILL included) the
file holds complete records plus at most one truncated last line.  On restart
with the same arguments the truncated tail is cut off, completed ``id``\\ s are
skipped and generation continues; every record draws from its own generator
seeded by ``(seed, id)``, so a resumed file is identical (timings aside) to an
uninterrupted one: nothing lost, duplicated or truncated.  A file written with
different settings (method, α, model, ...) is refused rather than mixed, and so
is one with a repeated ``id`` or an ``id`` that is not among this run's prompts
(the error names file and line).  One writer at a time: while a run holds
``out`` (:func:`exact._atomic_output.exclusive_lock`), a second one fails at once.

Record fields: ``id``, ``prompt`` (text), ``prompt_tokens``, ``completion``
(text), ``tokens`` (completion ids, EOS included), ``method``, ``alpha``,
``seed``, ``model``, ``self_reward`` (length-normalised ``(1/|y|) log π(y|x)``
under the teacher's base model, prompt masked), ``log_likelihood``,
``true_reward`` (the task's ``r*``), ``n_tokens``, ``settings`` and ``seconds``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import NamedTuple, Sequence

import torch

from exact._atomic_output import exclusive_lock

from ..methods import SamplerConfig, draw
from .benchmarks.records import JSON_ERRORS
from .shards import estimate_line
from .tasks import Problem, Task

__all__ = [
    "TeacherSummary",
    "decode_completion",
    "encode_prompt",
    "generate_teacher",
    "numbered_records",
    "read_records",
    "record_generator",
]

def encode_prompt(lm, text: str, chat: bool = True) -> list[int]:
    """Prompt token ids: ``lm.encode`` (chat template if ``chat``); a toy model reads space-separated ids."""
    if hasattr(lm, "encode"):
        return lm.encode(text, chat=chat)
    return [int(t) for t in text.split()]


def decode_completion(lm, tokens: Sequence[int]) -> str:
    """Completion text: ``lm.decode`` (special tokens dropped); a toy model gives space-separated ids."""
    if hasattr(lm, "decode"):
        return lm.decode(tokens)
    return " ".join(str(int(t)) for t in tokens)


def record_generator(seed: int, record_id: str) -> torch.Generator:
    """The generator of one record: seeded by SHA-256 of ``(seed, id)``, so records do not depend on each other."""
    digest = hashlib.sha256(f"{int(seed)}\x00{record_id}".encode("utf-8")).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "big") & (2**63 - 1))


def read_records(path: str | Path, repair: bool = False) -> list[dict]:
    """Complete records of a teacher JSONL file; a truncated last line (a kill mid-write) is ignored.

    With ``repair=True`` that truncated tail is also cut from the file (so appends start on a
    fresh line).  A malformed line that is *not* the last one means corruption: ``ValueError``.
    """
    return [record for _, record in numbered_records(path, repair)]


def numbered_records(path: str | Path, repair: bool = False) -> list[tuple[int, dict]]:
    """``(line number, record)`` of every complete record (see :func:`read_records`); errors name file and line."""
    path = Path(path)
    if not path.exists():
        return []
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1  # everything after the last newline is an unfinished write
    records = []
    for number, line in enumerate(data[:end].split(b"\n")[:-1], start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except JSON_ERRORS as error:
            raise ValueError(f"{path}:{number}: corrupt record (not a truncated tail): {error}") from error
        if not isinstance(record, dict):
            raise ValueError(f"{path}:{number}: a record must be a JSON object with a string field 'id', got {type(record).__name__}")
        if not isinstance(record.get("id"), str):
            raise ValueError(f"{path}:{number}: field 'id' must be a string, got {str(record.get('id', '(missing)'))[:40]}")
        records.append((number, record))
    tail, tail_line = data[end:].strip(), data.count(b"\n", 0, end) + 1
    if tail and not tail.startswith(b"{"):  # a cut record starts like every record; this is some other file
        raise ValueError(f"{path}:{tail_line}: not a teacher record (is this a teacher JSONL file?)")
    if repair and end < len(data):  # only once every complete line parsed: a wrong file given as --out is left as it was
        with open(path, "r+b") as stream:
            stream.truncate(end)
            stream.flush()
            os.fsync(stream.fileno())
    return records


_TEACHER_HINT = "resume with the same --n, --seed and --task, or use a new --out file"


def _check_ids(path: Path, numbered: Sequence[tuple[int, dict]], expected: set[str], hint: str = _TEACHER_HINT) -> None:
    """``ValueError`` naming file and line for a repeated ``id`` or one that is not among ``expected`` (then ``hint``)."""
    first_line: dict[str, int] = {}
    for number, record in numbered:
        record_id = record["id"]
        if record_id in first_line:
            raise ValueError(
                f"{path}:{number}: duplicate id {record_id!r} (first at line {first_line[record_id]}); "
                "was the file written by two runs at once? Remove the duplicate lines or use a new --out file"
            )
        if record_id not in expected:
            raise ValueError(
                f"{path}:{number}: id {record_id!r} is not one of this run's {len(expected)} records; {hint}"
            )
        first_line[record_id] = number


class TeacherSummary(NamedTuple):
    """``written`` new records, ``skipped`` ones already in the file, ``path``."""

    written: int
    skipped: int
    path: Path


_IDENTITY = ("method", "alpha", "seed", "model", "settings")


def generate_teacher(
    lm,
    task: Task,
    out: str | Path,
    n: int,
    config: SamplerConfig,
    seed: int = 0,
    model_name: str | None = None,
    chat: bool = True,
    problems: Sequence[Problem] | None = None,
    progress: bool = False,
    announce: bool = False,
) -> TeacherSummary:
    """Algorithm 1, lines 3-8: one teacher completion per prompt, appended durably to ``out`` (resumable).

    ``problems`` overrides ``task.problems(n, seed)`` (e.g. one shard of it,
    :class:`llm.experiments.shards.Shard`).  ``announce``: after the first remaining prompt's
    draw (the calibration) and before any progress line, print on stderr the number of sampler
    calls and the estimated time (:func:`llm.experiments.shards.estimate_line`).  See the module
    docstring for the record fields and the resumability guarantee.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    problems = list(task.problems(n, seed) if problems is None else problems)
    model_name = model_name or getattr(lm, "name", repr(lm))
    settings = {**config.settings(), "task": repr(task), "chat": chat}
    identity = {"method": config.method, "alpha": config.alpha, "seed": seed, "model": model_name, "settings": settings}
    with exclusive_lock(out), open(out, "ab") as stream:  # a second writer of `out` fails here, at once
        numbered = numbered_records(out, repair=True)
        for number, record in numbered:
            clash = {k: (record.get(k), identity[k]) for k in _IDENTITY if record.get(k) != identity[k]}
            if clash:
                raise ValueError(f"{out}:{number}: a record made with other settings {clash}; use a new --out file")
        _check_ids(out, numbered, {p.id for p in problems})
        done = {record["id"] for _, record in numbered}
        todo = [p for p in problems if p.id not in done]
        if announce and not todo:
            print(estimate_line("teacher", 0, None, f"all {len(problems)} already on file"), file=sys.stderr, flush=True)
        written = 0
        for index, problem in enumerate(todo):
            prompt_tokens = encode_prompt(lm, problem.prompt, chat)
            result = draw(lm, prompt_tokens, 1, config, record_generator(seed, problem.id))
            tokens, logprobs = result.tokens[0], result.logprobs[0]
            completion = decode_completion(lm, tokens)
            record = {
                "id": problem.id,
                "prompt": problem.prompt,
                "prompt_tokens": prompt_tokens,
                "completion": completion,
                "tokens": [int(t) for t in tokens],
                **identity,
                "self_reward": float(logprobs.mean()) if len(logprobs) else None,
                "log_likelihood": float(logprobs.sum()),
                "true_reward": float(task.reward(problem.prompt, completion)),
                "n_tokens": len(tokens),
                "seconds": round(result.seconds, 4),
            }
            stream.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))  # one write per record
            stream.flush()
            os.fsync(stream.fileno())
            written += 1
            if announce and index == 0:
                print(estimate_line("teacher", len(todo), result.seconds * len(todo),
                                    f"one per prompt; {len(done)} of {len(problems)} already on file"),
                      file=sys.stderr, flush=True)
            if progress:
                print(f"teacher {len(done) + index + 1}/{len(problems)} {problem.id} r*={record['true_reward']:.0f} "
                      f"r_self={record['self_reward']:.3f} ({result.seconds:.1f} s)", flush=True)
    return TeacherSummary(written, len(problems) - len(todo), out)
