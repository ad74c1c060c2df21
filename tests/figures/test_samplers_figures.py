"""The ``samplers`` and ``jackknife`` figures: contract, Done-when slopes, and the numbers they rest on."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

import exact
from exact.samplers import distances_to_power, mh_output_distribution
from figures import _registry
from figures import jackknife as jk_fig
from figures import samplers as samplers_fig

CONTRACT = ("FIGURE_ID", "CAPTION", "compute", "plot", "tables", "summary", "headline")


@pytest.fixture(scope="module")
def jk_data():
    return jk_fig.compute()


@pytest.fixture(scope="module")
def samplers_data():
    return samplers_fig.compute()


@pytest.mark.parametrize("module", [jk_fig, samplers_fig])
def test_contract(module):
    assert all(hasattr(module, name) for name in CONTRACT)
    assert "\n" not in module.CAPTION


def test_jackknife_slopes_match_lemmas(jk_data):
    info = jk_fig.summary(jk_data)
    assert abs(info["plain_slope"] + 1) <= 0.3  # Lemma 3.2
    assert abs(info["jackknife_slope"] + 2) <= 0.3  # Lemma 3.3
    assert np.all(jk_data["jackknife"][2:] < jk_data["plain"][2:])
    json.dumps(_registry.jsonable(info), allow_nan=False)
    assert jk_fig.plot(jk_data) is not None and len(jk_fig.tables(jk_data)["bias"]) == len(jk_data["rollouts"])
    assert "jackknife" in jk_fig.headline(jk_data)


def test_samplers_figure_numbers(samplers_data):
    rows = samplers_data["rows"]
    model = exact.TabularAR.random(3, 4, seed=0)
    # one row recomputed independently of the figure code
    mh = next(r for r in rows if r["family"] == "MH B=T" and r["value"] == 8)
    assert mh["tv"] == pytest.approx(distances_to_power(model, 4.0, mh_output_distribution(model, 4.0, 4, 8).probabilities).tv, abs=1e-14)
    for family in ("MH B=T", "MH B=T/2", "SIR", "scalable", "scalable+jackknife"):
        tv = [r["tv"] for r in rows if r["family"] == family]
        assert tv[-1] < tv[0] / 10, family
    assert {r["family"] for r in rows} == set(samplers_fig.FAMILIES)
    info = samplers_fig.summary(samplers_data)
    json.dumps(_registry.jsonable(info), allow_nan=False)
    assert set(info["at_budget"]) == {str(b) for b in samplers_fig.BUDGETS}
    evidence = info["power_smc_log_evidence"]
    # E[Ẑ] = Z_α: relative bias within 5 standard errors for every N
    assert all(abs(e["relative_bias_of_Z_hat"]) < 5 * e["se_of_relative_bias"] for e in evidence)
    assert samplers_fig.plot(samplers_data) is not None
    assert set(samplers_fig.tables(samplers_data)) == {"distances", "power_smc_log_evidence"}
    assert samplers_fig.headline(samplers_data).startswith("samplers:")
