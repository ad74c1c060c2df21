"""A benchmark's records: from the Hugging Face hub (``datasets``, imported lazily) or a local file.

A *record* is one JSON object (a row) with the benchmark's own fields, plus ``where``: a
location for error messages (``"file.jsonl:7"`` = line 7; ``"file.json: record 3"``;
``"file.parquet: row 3"``; ``"hub:openai/gsm8k[test] row 3"``; all 1-based).  Local files:

* ``.jsonl`` -- one JSON object per line (blank lines skipped);
* ``.json`` -- a JSON array of objects;
* ``.parquet`` -- needs ``pyarrow`` (read with ``pyarrow.parquet.read_table``).

Without a local file the hub is tried; the ``datasets`` package is an optional dependency
(the ``experiments`` extra), never imported unless a hub load is asked for.  Offline or without
``datasets`` the error names the dataset and the ``--data-file`` option.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

__all__ = ["JSON_ERRORS", "HubSource", "Record", "field", "load_records"]

#: What ``json.loads`` raises on a corrupt line: bad syntax, bad UTF-8, or nesting deeper than the
#: interpreter's recursion limit (``[[[[...`` a hostile or garbled file can hold).
JSON_ERRORS = (json.JSONDecodeError, UnicodeDecodeError, RecursionError)


class HubSource(NamedTuple):
    """Where a benchmark lives on the Hugging Face hub: ``load_dataset(path, config, split=split)``."""

    path: str
    config: str | None
    split: str


class Record(NamedTuple):
    """One row of a benchmark: ``where`` it came from (for messages) and its ``fields``."""

    where: str
    fields: dict


def load_records(name: str, hub: HubSource, data_file: str | Path | None = None) -> list[Record]:
    """The records of benchmark ``name``: from ``data_file`` if given, else from ``hub``.

    Raises ``ValueError`` for a missing or unreadable file, a record that is not a JSON object
    (naming the file and line/record), and for a hub load that fails (naming the dataset and
    ``--data-file``).
    """
    if data_file is not None:
        return _read_file(Path(data_file))
    return _read_hub(name, hub)


def _read_file(path: Path) -> list[Record]:
    if not path.is_file():
        raise ValueError(f"data file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return _read_jsonl(path)
    if suffix == ".json":
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))
        except JSON_ERRORS as error:
            raise ValueError(f"{path}: not valid JSON: {error}") from error
        if not isinstance(rows, list):
            raise ValueError(f"{path}: a .json data file must hold a JSON array of records, got {type(rows).__name__}")
        return [_record(f"{path}: record {i}", row) for i, row in enumerate(rows, start=1)]
    if suffix == ".parquet":
        try:
            import pyarrow.parquet as parquet
        except ImportError as error:
            raise ValueError(f"{path}: reading Parquet needs pyarrow (pip install pyarrow), or convert it to JSONL") from error
        rows = parquet.read_table(path).to_pylist()
        return [_record(f"{path}: row {i}", row) for i, row in enumerate(rows, start=1)]
    raise ValueError(f"{path}: unknown data file type {suffix!r}; use .jsonl, .json or .parquet")


def _read_jsonl(path: Path) -> list[Record]:
    records = []
    with open(path, "rb") as stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except JSON_ERRORS as error:
                raise ValueError(f"{path}:{number}: not a JSON object: {error}") from error
            records.append(_record(f"{path}:{number}", row))
    return records


def _record(where: str, row: Any) -> Record:
    if not isinstance(row, dict):
        raise ValueError(f"{where}: a record must be a JSON object, got {type(row).__name__}")
    return Record(where, row)


def _read_hub(name: str, hub: HubSource) -> list[Record]:
    label = f"{hub.path}" + (f" ({hub.config})" if hub.config else "") + f" split {hub.split!r}"
    advice = "offline, download it once and pass the local JSON/JSONL/Parquet file with --data-file FILE (data_file=...)"
    try:
        import datasets
    except ImportError as error:
        raise ValueError(
            f"{name}: loading {label} from the Hugging Face hub needs the `datasets` package "
            f"(pip install 'power-distribution-toolkit[experiments]'); {advice}"
        ) from error
    try:
        rows = datasets.load_dataset(hub.path, hub.config, split=hub.split)
    except Exception as error:  # network, auth (GPQA is gated), missing split: all reported the same way
        raise ValueError(f"{name}: could not load {label} from the Hugging Face hub ({error}); {advice}") from error
    return [_record(f"hub:{hub.path}[{hub.split}] row {i}", dict(row)) for i, row in enumerate(rows, start=1)]


def field(record: Record, name: str, kind: type | tuple[type, ...] = str, default: Any = ...) -> Any:
    """``record.fields[name]`` checked to be of ``kind``; ``ValueError`` naming the record and the field.

    A missing field returns ``default`` if one is given; ``bool`` never passes for ``int``.
    """
    if name not in record.fields or record.fields[name] is None:
        if default is not ...:
            return default
        raise ValueError(f"{record.where}: missing field {name!r}")
    value = record.fields[name]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        expected = " or ".join(k.__name__ for k in kinds)
        raise ValueError(f"{record.where}: field {name!r} must be {expected}, got {type(value).__name__}")
    return value
