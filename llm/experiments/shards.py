"""Runs at scale: split the problem set into shards (``--shard i/k``), announce the work, merge shard records.

* :class:`Shard` ``i/k`` (``0 <= i < k``) keeps the problems whose position ``j`` in the
  unsharded list has ``j mod k == i``.  Strided rather than contiguous blocks: hub
  benchmarks are often ordered by subject or difficulty (MATH500 by subject and level), so
  every strided shard gets the same mix and about the same wall-clock, and the shard sizes
  differ by at most one.  The ``k`` shards partition the list: together they are exactly
  the unsharded problem set, each problem in one shard.
* :func:`estimate_line`: the one stderr line ``teacher`` and ``evaluate`` print before they
  start: the number of sampler calls (:func:`llm.methods.draw`) still to make and a time
  estimate (calls × seconds of a timed call).
* :func:`merge_record_files`: the Table 1 rows of an ``evaluate`` run rebuilt from the record
  files of its shards (:func:`llm.experiments.evaluate.rows_from_records`), so the merged
  table of ``k`` shards is the table of one unsharded run.  A record found twice (the
  same ``(model, method, seed, problem)`` in two files or lines) is an error naming both
  places, and so is a problem missing from every file (an unfinished or absent shard).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import NamedTuple, Sequence, TypeVar

__all__ = ["Shard", "estimate_line", "merge_record_files", "parse_shard", "shard_argument"]

T = TypeVar("T")


class Shard(NamedTuple):
    """Shard ``index`` of ``count`` (0-based): the problems at positions ``j`` with ``j mod count == index``."""

    index: int
    count: int

    def select(self, items: Sequence[T]) -> list[tuple[int, T]]:
        """``(position in items, item)`` of this shard's items, in order."""
        return [(j, item) for j, item in enumerate(items) if j % self.count == self.index]

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """``"i/k"`` → :class:`Shard` ``(i, k)``; ``ValueError`` unless ``i`` and ``k`` are integers with ``0 <= i < k``."""
    parts = str(text).split("/")
    try:
        index, count = (int(p) for p in parts)
    except ValueError:
        raise ValueError(f"shard must be i/k with integers 0 <= i < k (e.g. 0/4), got {text!r}") from None
    if not 0 <= index < count:
        raise ValueError(f"shard must be i/k with 0 <= i < k (0-based), got {text!r}")
    return Shard(index, count)


def shard_argument(text: str) -> Shard:
    """:func:`parse_shard` as an argparse ``type`` (a bad value is a one-line usage error)."""
    try:
        return parse_shard(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def estimate_line(
    command: str, calls: int | float, estimate_seconds: float | None, detail: str = "",
    units: tuple[str, str] = ("sampler call", "sampler calls"),
    basis: str = "the remaining calls × the measured time of a first call",
) -> str:
    """``"<command>: N sampler calls to make (detail); estimated time ≈ T (an estimate ...)"``, one line.

    ``estimate_seconds`` is the caller's calibration: by default the remaining calls times the measured
    time of a first call (which includes warm-up, so it errs long); ``None`` when there is nothing to do.
    ``units`` (singular, plural) names what is counted (``python -m llm sample``: forward passes;
    ``calls`` may then be an expectation, rounded here) and ``basis`` how the time was calibrated.
    """
    count = round(calls)
    head = f"{command}: {count} {units[count != 1]} to make{f' ({detail})' if detail else ''}"
    if not calls or estimate_seconds is None:
        return head + "; nothing to time"
    return f"{head}; estimated time ≈ {_duration(estimate_seconds)} (an estimate: {basis})"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.3g} s"
    if seconds < 7200:
        return f"{seconds / 60:.3g} min"
    return f"{seconds / 3600:.3g} h"


def merge_record_files(paths: Sequence[str | Path]) -> list:
    """The :class:`llm.experiments.evaluate.EvalRow` list of an ``evaluate`` run from its shards' record files.

    Every file is read as after a kill (complete records; a truncated last line is ignored,
    the file is not modified).  ``ValueError`` naming file and line for a record present twice;
    :func:`llm.experiments.evaluate.rows_from_records` checks that every problem of the run
    is there.
    """
    from .evaluate import rows_from_records
    from .teacher import numbered_records

    if not paths:
        raise ValueError("merge needs at least one record file")
    seen: dict[str, str] = {}
    records = []
    for path in map(Path, paths):
        if not path.exists():
            raise ValueError(f"{path}: no such record file")
        for number, record in numbered_records(path, repair=False):
            where = f"{path}:{number}"
            if record["id"] in seen:
                raise ValueError(f"{where}: duplicate record {record['id']} (first at {seen[record['id']]}); "
                                 "was a shard run twice into two files? Merge each shard once")
            seen[record["id"]] = where
            records.append(record)
    return rows_from_records(records)
