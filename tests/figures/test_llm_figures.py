"""The language-model artefacts at ``--scale tiny`` (Table 1, Figures 2-3) through ``paper_repro.py``.

They run on the session's ``real_model`` (tests/conftest.py), shared through
``figures._llm``'s cache, so each test process loads the model once.
"""

import json

import pytest
import torch


@pytest.fixture(scope="module")
def shared_model(real_model):
    """The session's real model, placed in ``figures._llm``'s cache so the figures reuse it."""
    from figures import _llm

    _llm._CACHE.setdefault("default", real_model)
    return real_model


def test_table1_tiny_fills_every_row(cli, shared_model, tmp_path, capsys):
    before = shared_model.score([[1, 2, 3]], [[4, 5]])[0]
    assert cli.main(["--table", "1", "--scale", "tiny", "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith("table1 (tiny): Base/Standard r*=")
    assert not (tmp_path / "table1.png").exists()  # table-only artefact
    summary = json.loads((tmp_path / "table1.json").read_text())
    assert summary["options"] == {"scale": "tiny"}
    rows = summary["summary"]["rows"]
    pairs = [(r["model"], r["sampling"]) for r in rows]
    assert pairs == [("RandW", "Standard"), ("RandW", "Power"), ("Base", "Standard"), ("Base", "Temperature"),
                     ("Base", "Power"), ("Power-distilled", "Standard"), ("Power-distilled", "Temperature")]
    for row in rows:
        for key in ("r_star_mean", "r_star_sd", "r_self_mean", "r_self_sd", "bon_r_star", "bon_r_self"):
            assert row[key] is not None  # every column filled (NaN would be None in the JSON)
        assert 0 <= row["r_star_mean"] <= 1 and row["r_self_mean"] < 0
        assert row["bon_r_self"] >= row["r_self_mean"] - 1e-12  # BoN picks the best r_self per prompt
    by = dict(zip(pairs, rows))
    assert by[("RandW", "Standard")]["r_self_mean"] < by[("Base", "Standard")]["r_self_mean"]  # random weights: ~log(1/V)
    assert "| RandW | Standard |" in summary["summary"]["markdown"]
    header = (tmp_path / "table1_rows.csv").read_text().splitlines()[0]
    assert header.startswith("model,sampling,r_star_mean,r_star_sd,r_self_mean,r_self_sd,bon_r_star,bon_r_self")
    torch.testing.assert_close(shared_model.score([[1, 2, 3]], [[4, 5]])[0], before)  # the shared model is untouched


@pytest.mark.parametrize("figure, table", [("2", "sweep"), ("3", "gain")])
def test_figures_2_and_3_tiny(cli, shared_model, tmp_path, capsys, figure, table):
    assert cli.main(["--figure", figure, "--scale", "tiny", "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith(f"{figure} (tiny):")
    assert (tmp_path / f"{figure}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = (tmp_path / f"{figure}_{table}.csv").read_text().splitlines()
    assert len(rows) == 1 + (2 if figure == "2" else 3)
    summary = json.loads((tmp_path / f"{figure}.json").read_text())["summary"]
    if figure == "3":
        lam = {r["lambda"]: r for r in summary["rows"]}
        assert lam[1.0]["cov_r_lambda_r_self"] > 0 > lam[-1.0]["cov_r_lambda_r_self"]  # λ sweeps the covariance's sign
