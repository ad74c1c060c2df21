"""The README's paper-scale table commands at toy size on vLLM: the same code path as ``--scale paper``.

``python paper_repro.py --table T --scale paper --engine vllm --model M`` differs from what runs here
only in the settings (``--scale tiny``: 2 prompts, 6 tokens, one SFT step) and the data (fixture files
in each benchmark's schema, as ``--data-file``/``--train-data-file``; the paper's come from the hub).
The base is the default model on vLLM's CPU build, started once for the module (an engine start
costs 1.5-3 minutes on CPU) and shared through ``figures._llm``'s cache; the students and RandW are
loaded on it (``load_model(adapter, base=base, engine="vllm")``).  Marked ``vllm``: ``make test-vllm`` runs
Tables 1 and S6 in ``.venv-vllm``, ``make test-vllm-all`` all five; skipped where vLLM is not installed.
"""

import json

import pytest

from tests.figures.test_paper_tables import MATH_TRAIN, MBPP_SANITIZED, write_jsonl
from tests.llm.experiments.test_benchmarks import GPQA, MATH500

pytestmark = pytest.mark.vllm


@pytest.fixture(scope="module")
def vllm_base():
    """The default model on vLLM, in ``figures._llm``'s cache under the key ``--engine vllm`` uses."""
    pytest.importorskip("vllm", reason="vLLM is not installed here: run these tests in .venv-vllm")
    from figures import _llm

    base = _llm.base_model(None, "vllm")
    yield base
    key = next(k for k, v in _llm._CACHE.items() if v is base)
    del _llm._CACHE[key]
    base.close()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("benchmarks")
    return {name: str(write_jsonl(folder / f"{name}.jsonl", records)) for name, records in (
        ("math500", MATH500), ("math_train", MATH_TRAIN), ("diamond", GPQA[:3]), ("gpqa_main", GPQA),
        ("mbpp", MBPP_SANITIZED))}


# the README's commands with --scale tiny and fixture files; the rows each table must show
COMMANDS = {
    "1": ([], ["RandW", "RandW", "Base", "Base", "Base", "Power-distilled", "Power-distilled"]),
    "S3": (["--data-file", "math500", "--train-data-file", "math_train"], ["Base", "Base", "Power-distilled", "Power-distilled"]),
    "S4": (["--train-data-file", "mbpp"], ["Base", "Base", "Power-distilled", "Power-distilled"]),
    "S5": (["--data-file", "diamond", "--train-data-file", "gpqa_main"], ["Base", "Base", "Power-distilled", "Power-distilled"]),
    "S6": (["--data-file", "math500"], ["Base"]),
}


# CI (`make test-vllm`) runs Table 1 (the whole pipeline: teacher, SFT, RandW and the student on vLLM) and S6;
# S3-S5 are the same pipeline on other tasks, ~5-8 min each on 2 CPU cores: `make test-vllm-all`
IN_CI = {"1", "S6"}


@pytest.mark.parametrize("table", [t if t in IN_CI else pytest.param(t, marks=pytest.mark.slow) for t in COMMANDS])
def test_readme_table_command_at_toy_size_on_vllm(cli, vllm_base, data, tmp_path, capsys, table):
    extra, models = COMMANDS[table]
    extra = [data.get(item, item) for item in extra]
    out = tmp_path / "out"
    assert cli.main(["--table", table, "--scale", "tiny", "--engine", "vllm", *extra, "--out", str(out)]) == 0
    figure_id = f"table{table}"
    stem = figure_id.lower()
    summary = json.loads((out / f"{stem}.json").read_text())["summary"]
    assert [row["model"] for row in summary["rows"]] == models
    assert summary["settings"]["engine"] == "vllm"
    for row in summary["rows"]:
        assert 0 <= row["r_star_mean"] <= 1 and row["r_self_mean"] < 0
    assert capsys.readouterr().out.startswith(f"{figure_id} (tiny): ")
