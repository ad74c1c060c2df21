"""The library (``llm``) never imports the experiment pipeline (``llm.experiments``); the pipeline imports the library.

Two routes: ``import llm`` in a fresh interpreter leaves no ``llm.experiments`` module in
``sys.modules``, and every import statement of every library module (parsed with ``ast``,
relative imports resolved) names no module inside ``llm.experiments``.  Only
``llm/__main__.py`` (the command line, which hooks in ``teacher``/``distill``/``evaluate``)
may.
"""

import ast
import subprocess
import sys
from pathlib import Path

import llm

LLM = Path(llm.__file__).resolve().parent
PIPELINE = "llm.experiments"
ALLOWED = {LLM / "__main__.py"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(LLM.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Absolute names of every module (and ``from``-imported name) ``path`` imports, relative imports resolved."""
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def _in_pipeline(name: str) -> bool:
    return name == PIPELINE or name.startswith(PIPELINE + ".")


def test_import_llm_loads_no_pipeline_module():
    code = "import sys, llm; print(sorted(m for m in sys.modules if m == 'llm.experiments' or m.startswith('llm.experiments.')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=LLM.parent)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


def test_no_library_module_imports_the_pipeline():
    library = [p for p in LLM.rglob("*.py") if (LLM / "experiments") not in p.parents and p not in ALLOWED]
    assert len(library) > 10  # the scan really sees the library
    offenders = {str(p.relative_to(LLM.parent)): sorted(filter(_in_pipeline, imported_modules(p))) for p in library}
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_scan_resolves_relative_and_absolute_imports(tmp_path, monkeypatch):
    """The checker itself: each way of writing an import of the pipeline is caught."""
    fake = tmp_path / "llm"
    (fake / "samplers").mkdir(parents=True)
    monkeypatch.setattr(sys.modules[__name__], "LLM", fake)
    cases = {
        fake / "a.py": "from .experiments.teacher import draw\n",
        fake / "b.py": "from . import experiments\n",
        fake / "samplers" / "c.py": "def f():\n    from ..experiments import cli\n",
        fake / "d.py": "import llm.experiments.tasks as t\n",
        fake / "e.py": "from llm import experiments\n",
    }
    for path, text in cases.items():
        path.write_text(text)
        assert any(_in_pipeline(name) for name in imported_modules(path)), path.name
    (fake / "f.py").write_text("from .samplers import Completions\nimport llm.model\n")
    assert not any(_in_pipeline(name) for name in imported_modules(fake / "f.py"))
