"""Figure S.6: Prop. 1 holds to 1e-10 for every unordered pair and every α of the figure."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

import exact
from figures import s6_renyi_correction as s6


@pytest.fixture(scope="module")
def data():
    return s6.compute()


def test_covers_every_unordered_pair_and_every_alpha(data):
    assert list(data["alphas"]) == [1.1, 1.5, 2.0, 3.0, 4.0, 8.0]
    pairs = set(zip(data["i"].tolist(), data["j"].tolist()))
    assert len(pairs) == data["i"].size == 64 * 63 // 2 and all(i < j for i, j in pairs)


def test_renyi_prediction_agrees_with_direct_correction_to_1e_10(data):
    assert np.max(np.abs(data["predicted"] - data["direct"])) <= 1e-10
    assert s6.summary(data)["max_abs_difference"] <= 1e-10


def test_direct_correction_matches_numpy_suffix_power_masses(data):
    # independent route: log[(π_pow(i)/π_pow(j)) / (π_temp(i)/π_temp(j))] = log Σ q_i^α - log Σ q_j^α
    q = exact.zipf_suffix_setting().suffix_probs
    for k, alpha in enumerate(data["alphas"]):
        log_mass = np.log(np.sum(q**alpha, axis=1))
        np.testing.assert_allclose(data["direct"][k], log_mass[data["i"]] - log_mass[data["j"]], rtol=0, atol=1e-10)


def test_corrections_are_not_trivially_zero(data):
    # the agreement is informative: corrections span many nats and both signs at α = 4
    at_4 = data["direct"][list(data["alphas"]).index(4.0)]
    assert at_4.min() < -5 and at_4.max() > 5


def test_plot_has_two_labelled_panels(data):
    figure = s6.plot(data)
    assert len(figure.axes) == 2 and all(ax.get_xlabel() and ax.get_ylabel() for ax in figure.axes)
    matplotlib.pyplot.close(figure)
