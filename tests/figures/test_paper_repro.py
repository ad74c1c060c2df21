"""The ``paper_repro.py`` CLI and the figure registry: listing, ID matching, outputs, atomic writes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from figures import _registry as registry

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "paper_repro.py"
S_FIGURES = ["S5", "S6", "S7", "S8", "S9", "S10"]


def test_list_as_a_script_prints_every_figure_with_its_caption():
    result = subprocess.run([sys.executable, str(SCRIPT), "--list"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(None, 1) for line in result.stdout.splitlines())
    for figure_id in S_FIGURES:
        assert len(lines[figure_id].strip()) > 20
    listed = list(lines)
    assert listed.index("S5") < listed.index("S6") < listed.index("S10")  # numeric, not lexical, order


def test_every_discovered_module_follows_the_contract():
    entries = registry.discover()
    assert set(S_FIGURES) <= {entry.figure_id for entry in entries}
    for entry in entries:
        module = entry.load()  # raises TypeError naming what is missing
        assert module.FIGURE_ID == entry.figure_id and module.CAPTION == entry.caption
        assert "\n" not in entry.caption


@pytest.mark.parametrize("typed", ["S6", "s6", "S.6", "s.6", "6", " S6 ", "fig S6"])
def test_resolve_accepts_the_documented_spellings(typed):
    assert registry.resolve(typed, registry.discover()).figure_id == "S6"


def test_resolve_rejects_unknown_and_ambiguous_ids():
    entries = [registry.FigureEntry("2", "main", "m2"), registry.FigureEntry("S2", "supp", "ms2")]
    with pytest.raises(registry.UnknownFigure, match="ambiguous"):
        registry.resolve("2", entries)
    assert registry.resolve("S.2", entries).figure_id == "S2"
    with pytest.raises(registry.UnknownFigure, match="valid IDs: 2, S2"):
        registry.resolve("S99", entries)


def test_one_figure_writes_image_csv_and_json(cli, tmp_path, capsys):
    stale = tmp_path / "s6.json"
    stale.write_text("not json")  # an existing file is replaced by the complete new one
    assert cli.main(["--figure", "S.6", "--out", str(tmp_path), "--format", "png,pdf"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].startswith("S6: max |Rényi prediction - direct log odds correction| = ")
    names = {path.name for path in tmp_path.iterdir()}
    assert {"s6.png", "s6.pdf", "s6_pairs.csv", "s6_renyi.csv", "s6.json"} <= names
    assert not [name for name in names if name.startswith(".") or name.endswith(".tmp")]
    assert (tmp_path / "s6.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "s6.png").stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600
    assert (tmp_path / "s6.pdf").read_bytes()[:5] == b"%PDF-"
    summary = json.loads(stale.read_text())
    assert summary["figure"] == "S6" and summary["summary"]["max_abs_difference"] <= 1e-10
    header, *rows = (tmp_path / "s6_pairs.csv").read_text().splitlines()
    assert header.startswith("alpha,i,j,") and len(rows) == 6 * 2016


def test_unknown_id_exits_with_status_2_listing_valid_ids(cli, tmp_path, capsys):
    assert cli.main(["--figure", "S99", "--out", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert "S99" in error and all(figure_id in error for figure_id in S_FIGURES)
    assert not any(tmp_path.iterdir())


def test_bad_format_is_a_usage_error(cli, tmp_path):
    with pytest.raises(SystemExit) as stop:
        cli.main(["--figure", "S6", "--format", "gif", "--out", str(tmp_path)])
    assert stop.value.code == 2


def test_failed_write_keeps_the_old_file_and_leaves_no_temp_file(tmp_path, monkeypatch):
    target = tmp_path / "s6.json"
    target.write_bytes(b"old")

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        registry.write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert [path.name for path in tmp_path.iterdir()] == ["s6.json"]


def test_json_summary_never_holds_nan_or_inf():
    assert registry.jsonable({"a": float("nan"), "b": [float("inf"), -float("inf")]}) == {"a": None, "b": ["inf", "-inf"]}


def test_options_reach_only_the_figures_that_declare_them():
    def declared(seed=0, n_replicates=200):
        return None

    def catch_all(seed=0, **options):
        return None

    options = {"n_replicates": 5, "scale": "small"}
    assert registry.compute_options(declared, options) == {"n_replicates": 5}
    assert registry.compute_options(catch_all, options) == options


def test_table_only_artefact_writes_csv_and_json_but_no_image():
    import types

    module = types.ModuleType("figures.fake_table")
    module.FIGURE_ID, module.CAPTION = "table9", "a table-only artefact"
    module.compute = lambda seed=0, **options: {"rows": [{"name": "x", "value": 1.5}]}
    module.plot = lambda data: None
    module.tables = lambda data: {"main": data["rows"]}
    module.summary = lambda data: {"value": 1.5}
    module.headline = lambda data: "table9: 1.5"
    files, headline, summary = registry.render(module, seed=0, formats=["png"], options={})
    assert set(files) == {"table9_main.csv", "table9.json"} and headline == "table9: 1.5"
    assert files["table9_main.csv"].decode() == "name,value\nx,1.5\n"


def test_option_reaches_compute_and_is_recorded(cli, tmp_path, capsys):
    assert cli.main(["--figure", "10", "--out", str(tmp_path), "--option", "n_replicates=3", "--seed", "7"]) == 0
    assert capsys.readouterr().out.startswith("S10: alpha=4, N=10000, R=3:")
    summary = json.loads((tmp_path / "s10.json").read_text())
    assert summary["options"] == {"n_replicates": 3} and summary["seed"] == 7


def test_a_failing_figure_is_reported_and_the_rest_still_run(cli, tmp_path, capsys, monkeypatch):
    from figures import s5_synthetic_setting

    def broken(seed=0, **options):
        raise RuntimeError("boom")

    monkeypatch.setattr(s5_synthetic_setting, "compute", broken)
    assert cli.main(["--figure", "S5", "--figure", "S9", "--out", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith("S9:") and "boom" in captured.err
    assert not list(tmp_path.glob("s5*")) and (tmp_path / "s9.json").exists()


def tiny_figure_module():
    import types

    import matplotlib.pyplot as plt

    def plot(data):
        figure, axes = plt.subplots()
        axes.plot(data["x"], data["x"], label="identity")
        axes.legend()
        return figure

    module = types.ModuleType("figures.fake_line")
    module.FIGURE_ID, module.CAPTION = "fake1", "a line"
    module.compute = lambda seed=0, **options: {"x": [0.0, 1.0, float(seed)]}
    module.plot = plot
    module.tables = lambda data: {"points": [{"x": x} for x in data["x"]]}
    module.summary = lambda data: {"n": len(data["x"])}
    module.headline = lambda data: "fake1"
    return module


def test_svg_and_pdf_are_byte_reproducible():
    first, _, _ = registry.render(tiny_figure_module(), seed=3, formats=["svg", "pdf"], options={})
    second, _, _ = registry.render(tiny_figure_module(), seed=3, formats=["svg", "pdf"], options={})
    assert first["fake1.svg"] == second["fake1.svg"] and first["fake1.pdf"] == second["fake1.pdf"]
    assert b"<dc:date>" not in first["fake1.svg"]


def test_a_second_writer_of_the_same_figure_is_refused(tmp_path):
    from exact._atomic_output import OutputLocked, exclusive_lock

    files, _, _ = registry.render(tiny_figure_module(), seed=1, formats=["png"], options={})
    with exclusive_lock(tmp_path / "fake1"):  # what a running paper_repro.py holds while it publishes fake1
        with pytest.raises(OutputLocked, match="another process"):
            registry.write_outputs(tmp_path, files, "fake1")
    assert registry.write_outputs(tmp_path, files, "fake1") == [tmp_path / name for name in files]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(files)
