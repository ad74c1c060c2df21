"""Find figure modules, match user-typed IDs, and publish a figure's outputs as one set.

See the package docstring (:mod:`figures`) for the module contract.
"""

from __future__ import annotations

import ast
import csv
import importlib
import inspect
import io
import json
import math
import os
import pkgutil
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Iterable, Mapping

import numpy as np

from exact._atomic_output import exclusive_lock, publish_together, write_atomic  # noqa: F401  (write_atomic: re-exported)

PACKAGE = "figures"
REQUIRED = ("FIGURE_ID", "CAPTION", "compute", "plot", "tables", "summary", "headline")


@dataclass(frozen=True)
class FigureEntry:
    """One discovered figure module: its ID, caption and module name (not yet imported)."""

    figure_id: str
    caption: str
    module_name: str
    in_all: bool = True

    def load(self) -> ModuleType:
        module = importlib.import_module(self.module_name)
        missing = [name for name in REQUIRED if not hasattr(module, name)]
        if missing:
            raise TypeError(f"{self.module_name} breaks the figure contract: missing {', '.join(missing)}")
        return module


_REQUIRED = object()


def _literal(tree: ast.Module, name: str, default: Any = _REQUIRED) -> Any:
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == name for t in targets) and node.value is not None:
            return ast.literal_eval(node.value)
    if default is _REQUIRED:
        raise KeyError(name)
    return default


def discover() -> list[FigureEntry]:
    """Every module of ``figures/`` that defines ``FIGURE_ID`` (read from the source, no import).

    A module whose ``FIGURE_ID``/``CAPTION`` are not string literals is imported to read them.
    Sorted: main-text figures and tables first, then ``S1, S2, ...`` numerically, then the supplement's
    tables ``tableS3, ...``, then the rest.
    """
    package = importlib.import_module(PACKAGE)
    entries = []
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("_") or info.ispkg:
            continue
        module_name = f"{PACKAGE}.{info.name}"
        path = Path(package.__path__[0]) / f"{info.name}.py"
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
            figure_id, caption = _literal(tree, "FIGURE_ID"), _literal(tree, "CAPTION")
            in_all = _literal(tree, "IN_ALL", default=True)
        except KeyError:
            continue  # not a figure module (a helper)
        except (OSError, SyntaxError, ValueError):
            module = importlib.import_module(module_name)
            if not hasattr(module, "FIGURE_ID"):
                continue
            figure_id, caption = module.FIGURE_ID, getattr(module, "CAPTION", "")
            in_all = getattr(module, "IN_ALL", True)
        entries.append(FigureEntry(str(figure_id), str(caption), module_name, bool(in_all)))
    ids = [normalize(entry.figure_id) for entry in entries]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise RuntimeError(f"two figure modules share an ID: {duplicates}")
    return sorted(entries, key=lambda entry: _order(entry.figure_id))


def _order(figure_id: str) -> tuple:
    key = normalize(figure_id)
    for rank, pattern in enumerate((r"(\d+)", r"table(\d+)", r"s(\d+)", r"tables(\d+)")):
        match = re.fullmatch(pattern, key)
        if match:
            return (rank, int(match.group(1)), key)
    return (4, 0, key)


def normalize(figure_id: str) -> str:
    """Lower case, without dots, spaces, dashes, underscores or a ``fig``/``figure`` prefix: ``"S.6"`` -> ``"s6"``."""
    key = re.sub(r"[.\s_\-]", "", figure_id.lower())
    return re.sub(r"^fig(ure)?(?=s?\d)", "", key)


class UnknownFigure(LookupError):
    """The typed ID matches no figure (or more than one)."""


def resolve(typed: str, entries: Iterable[FigureEntry]) -> FigureEntry:
    """The entry whose ID matches ``typed``: exact after :func:`normalize`; a bare ``6`` also matches ``S6``.

    Raises :class:`UnknownFigure` when nothing matches or a bare number matches two IDs (``2`` and ``S2``).
    """
    entries = list(entries)
    key = normalize(typed)
    matches = [e for e in entries if normalize(e.figure_id) == key]
    if key.isdigit():
        matches += [e for e in entries if normalize(e.figure_id) == f"s{key}"]
    if len(matches) == 1:
        return matches[0]
    valid = ", ".join(e.figure_id for e in entries)
    if matches:
        raise UnknownFigure(f"figure ID {typed!r} is ambiguous: {' or '.join(e.figure_id for e in matches)}")
    raise UnknownFigure(f"unknown figure ID {typed!r}; valid IDs: {valid}")


# --------------------------------------------------------------------------- running


def compute_options(compute, options: Mapping[str, Any]) -> dict:
    """The subset of ``options`` that ``compute`` declares (all of them if it takes ``**options``)."""
    parameters = inspect.signature(compute).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return dict(options)
    return {key: value for key, value in options.items() if key in parameters}


def jsonable(value: Any) -> Any:
    """Plain JSON data: numpy scalars/arrays to Python; NaN -> None, ±inf -> ``"inf"``/``"-inf"``."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        value = float(value)
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return value
    return value


def csv_text(rows: list[dict]) -> str:
    """Rows (dicts) as CSV text; columns in first-seen order, floats at full precision."""
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _cell(value) for key, value in row.items()})
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    value = jsonable(value)
    return repr(value) if isinstance(value, float) else value


def render(module: ModuleType, seed: int, formats: Iterable[str], options: Mapping[str, Any]) -> tuple[dict[str, bytes], str, dict]:
    """Compute and draw one figure in memory: ``({file name: bytes}, headline, summary)``.

    Nothing touches the disk here, so a failure part-way leaves no partial outputs.
    """
    import matplotlib.pyplot as plt

    stem = normalize(module.FIGURE_ID)
    data = module.compute(seed=seed, **compute_options(module.compute, options))
    files: dict[str, bytes] = {}
    figure = module.plot(data)
    if figure is not None:
        try:
            for fmt in formats:
                buffer = io.BytesIO()
                with plt.rc_context({"svg.hashsalt": f"paper_repro-{stem}"}):  # SVG ids from a fixed salt, not random
                    figure.savefig(buffer, format=fmt, metadata=_metadata(fmt))
                files[f"{stem}.{fmt}"] = buffer.getvalue()
        finally:
            plt.close(figure)
    for name, rows in module.tables(data).items():
        files[f"{stem}_{name}.csv"] = csv_text(rows).encode("utf-8")
    summary = {
        "figure": module.FIGURE_ID,
        "caption": module.CAPTION,
        "seed": seed,
        "options": jsonable(dict(options)),
        "summary": jsonable(module.summary(data)),
    }
    files[f"{stem}.json"] = (json.dumps(summary, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")
    return files, module.headline(data), summary


def _metadata(fmt: str) -> dict:
    # fixed metadata so re-running with the same seed gives byte-identical PDFs and SVGs (no embedded date)
    if fmt == "pdf":
        return {"CreationDate": None, "Creator": "paper_repro.py"}
    if fmt == "png":
        return {"Software": "paper_repro.py"}
    if fmt == "svg":
        return {"Date": None, "Creator": "paper_repro.py"}
    return {}


def write_outputs(out_dir: Path, files: Mapping[str, bytes], stem: str) -> list[Path]:
    """Publish figure ``stem``'s files into ``out_dir`` as one set (:func:`exact._atomic_output.publish_together`).

    A second process writing the same figure into the same folder meanwhile
    fails at once (``exact._atomic_output.OutputLocked``); a kill leaves the whole old
    or (after the next start) the whole new set, never a mix.
    """
    out_dir = Path(out_dir)
    with exclusive_lock(out_dir / stem):
        for pattern in (f".{stem}.*.tmp", f".{stem}_*.tmp"):  # per-file temporaries of older versions
            for leftover in out_dir.glob(pattern):
                leftover.unlink()
        with publish_together(out_dir, stem) as staging:
            for name, payload in files.items():
                (staging / name).write_bytes(payload)
    return [out_dir / name for name in files]


def progress(message: str) -> None:
    """Progress goes to stderr, so stdout carries only the headline lines."""
    print(message, file=sys.stderr, flush=True)
