"""Figure S.7: shown reversals and controls satisfy their definitions, recomputed from p_i and q_i."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

import exact
from figures import s7_preference_reversal as s7

ALPHA = 4.0


@pytest.fixture(scope="module")
def data():
    return s7.compute()


@pytest.fixture(scope="module")
def reference():
    """Temperature and power log odds of i over j from the formulas of Appendix B.2.4, numpy only."""
    setting = exact.zipf_suffix_setting()
    p, q = setting.first_token_probs, setting.suffix_probs
    temp = ALPHA * np.log(p)  # log π_temp,α(i) + const
    power = ALPHA * np.log(p) + np.log(np.sum(q**ALPHA, axis=1))  # log π_pow,α(i) + const
    return temp, power


def _odds(reference, i, j):
    temp, power = reference
    return temp[i] - temp[j], power[i] - power[j]


def test_at_least_one_reversal_each_verified(data, reference):
    assert len(data["reversals"]) >= 1
    for n in data["reversals"]:
        i, j = int(data["i"][n]), int(data["j"][n])
        temperature, power = _odds(reference, i, j)
        assert i < j and temperature > 0 and power < 0
        assert abs(data["temperature"][n] - temperature) < 1e-10 and abs(data["power"][n] - power) < 1e-10


def test_at_least_one_control_each_verified(data, reference):
    assert len(data["controls"]) >= 1
    for n in data["controls"]:
        i, j = int(data["i"][n]), int(data["j"][n])
        temperature, power = _odds(reference, i, j)
        assert i < j and temperature > 0 and power > 0 and power - temperature < 0


def test_reversal_and_control_counts_match_numpy(data, reference):
    i, j = np.triu_indices(64, k=1)
    temperature, power = _odds(reference, i, j)
    assert np.all(temperature > 0)  # Zipf: p_i > p_j for i < j
    assert int(data["is_reversal"].sum()) == int(np.sum(power < 0))
    assert int(data["is_control"].sum()) == int(np.sum((power > 0) & (power < temperature)))


def test_reversals_have_the_sharper_suffix_on_j(data):
    for n in data["reversals"]:
        assert data["renyi"][data["j"][n]] < data["renyi"][data["i"][n]]


def test_plot_has_two_labelled_panels(data):
    figure = s7.plot(data)
    assert len(figure.axes) == 2 and figure.axes[0].get_ylabel()
    matplotlib.pyplot.close(figure)
