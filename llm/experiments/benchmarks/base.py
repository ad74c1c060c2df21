"""The shared benchmark task: records → entries → problems, few-shot prompts, prompt → entry lookup.

A benchmark module subclasses :class:`BenchmarkTask` and supplies its ``name``, its
:class:`~.records.HubSource`, :meth:`~BenchmarkTask.parse` (one record → an :class:`Entry`,
validating the fields), :meth:`~BenchmarkTask.question` (the entry as shown to the model,
with the benchmark's instruction) and :meth:`~BenchmarkTask.grade` (``r*`` of a completion).

Prompt with ``shots = k``::

    question(e_1) + "\\n" + e_1.solution + "\\n\\n" + ... + question(e_k) + "\\n" + e_k.solution + "\\n\\n" + question(x)

where ``e_1..e_k`` are the first ``k`` records of the data (file order), which are then
excluded from the problems.  ``problems(n, seed)`` is the first ``n`` remaining records in
file order (``seed`` unused: a benchmark is a fixed list; split train/eval by file or
``split``); more than there are is a ``ValueError``.  ``reward(prompt, completion)`` finds
the entry by its exact prompt text (two records with the same prompt and different gold
answers make the reward ill-defined: ``ValueError`` at load).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

from ..tasks import Problem
from .records import HubSource, Record, load_records

__all__ = ["BenchmarkTask", "Entry"]


class Entry(NamedTuple):
    """One parsed record: stable ``id``, question ``text``, gold ``answer`` (text), worked ``solution`` (for shots), grader ``data``."""

    id: str
    text: str
    answer: str
    solution: str
    data: Any


@dataclass(frozen=True)
class BenchmarkTask:
    """Base of the benchmark tasks (see the module docstring); ``split`` overrides the hub split."""

    data_file: str | Path | None = None
    shots: int = 0
    split: str | None = None

    name: ClassVar[str] = "benchmark"
    hub: ClassVar[HubSource]

    def __post_init__(self):
        if not isinstance(self.shots, int) or isinstance(self.shots, bool) or self.shots < 0:
            raise ValueError(f"shots must be an integer >= 0, got {self.shots!r}")

    # ------------------------------------------------------------------ supplied by each benchmark

    def parse(self, record: Record, index: int) -> Entry:  # pragma: no cover - abstract
        """The :class:`Entry` of one record (``index``: 0-based position); ``ValueError`` naming a bad field."""
        raise NotImplementedError

    def question(self, entry: Entry) -> str:  # pragma: no cover - abstract
        """The entry as the model sees it, with the benchmark's instruction."""
        raise NotImplementedError

    def grade(self, entry: Entry, completion: str) -> float:  # pragma: no cover - abstract
        """``r*`` of ``completion`` for ``entry``."""
        raise NotImplementedError

    # ------------------------------------------------------------------ the task interface

    @cached_property
    def entries(self) -> list[Entry]:
        """Every record parsed, in file order (loaded once per task object)."""
        hub = self.hub if self.split is None else self.hub._replace(split=self.split)
        records = load_records(self.name, hub, self.data_file)
        entries, seen = [], {}
        for index, record in enumerate(records):
            entry = self.parse(record, index)
            if entry.id in seen:
                raise ValueError(f"{record.where}: duplicate id {entry.id!r} (first at {seen[entry.id]})")
            seen[entry.id] = record.where
            entries.append(entry)
        if len(entries) <= self.shots:
            raise ValueError(f"{self.name}: {len(entries)} records, but {self.shots} shots leave no problems")
        return entries

    @cached_property
    def _prefix(self) -> str:
        return "".join(f"{self.question(e)}\n{e.solution}\n\n" for e in self.entries[: self.shots])

    def prompt(self, entry: Entry) -> str:
        """The full prompt text of ``entry`` (few-shot prefix + question)."""
        return self._prefix + self.question(entry)

    @cached_property
    def _by_prompt(self) -> dict[str, Entry]:
        table: dict[str, Entry] = {}
        for entry in self.entries[self.shots :]:
            text = self.prompt(entry)
            other = table.setdefault(text, entry)
            if other.answer != entry.answer:
                raise ValueError(
                    f"{self.name}: records {other.id!r} and {entry.id!r} have the same prompt but different "
                    f"answers ({other.answer!r} vs {entry.answer!r}); the reward would be ambiguous"
                )
        return table

    def problems(self, n: int, seed: int = 0) -> list[Problem]:
        """The first ``n`` problems in file order (after the shots); ``seed`` is unused."""
        pool = self.entries[self.shots :]
        if not 0 <= n <= len(pool):
            raise ValueError(f"{self.name}: asked for {n} problems, the data has {len(pool)} (after {self.shots} shots)")
        self._by_prompt  # noqa: B018 - refuse ambiguous prompts before anything is generated
        return [Problem(e.id, self.prompt(e), e.answer) for e in pool[:n]]

    def reward(self, prompt: str, completion: str) -> float:
        """``r*``: :meth:`grade` of ``completion`` for the entry whose prompt is ``prompt``."""
        entry = self._by_prompt.get(prompt)
        if entry is None:
            raise ValueError(f"not a {self.name} prompt of this data: {prompt[:80]!r}")
        return float(self.grade(entry, completion))
