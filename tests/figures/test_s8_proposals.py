"""Figure S.8: only the oracle proposal has a constant log incremental weight (Prop. 2)."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

import exact
from figures import s8_proposals as s8

ALPHA = 4.0


@pytest.fixture(scope="module")
def data():
    return s8.compute()


def test_target_is_the_closed_form_power_conditional(data):
    setting = exact.zipf_suffix_setting()
    p, q = setting.first_token_probs, setting.suffix_probs
    target = p**ALPHA * np.sum(q**ALPHA, axis=1)
    np.testing.assert_allclose(data["log_target"], np.log(target / target.sum()), rtol=0, atol=1e-12)


def test_proposals_match_their_definitions(data):
    p = exact.zipf_suffix_setting().first_token_probs
    np.testing.assert_allclose(data["log_q"]["base"], np.log(p), atol=1e-12, rtol=0)
    np.testing.assert_allclose(data["log_q"]["temperature"], np.log(p**ALPHA / np.sum(p**ALPHA)), atol=1e-12, rtol=0)
    np.testing.assert_allclose(data["log_q"]["uniform"], np.full(64, -np.log(64)), atol=1e-12, rtol=0)


def test_oracle_log_weight_is_constant_and_others_are_not(data):
    oracle = data["log_weight"]["optimal"]
    assert oracle.max() - oracle.min() <= 1e-12
    for name in ("temperature", "base", "uniform"):
        assert np.ptp(data["log_weight"][name]) > 1.0, name


def test_plot_has_two_labelled_panels(data):
    figure = s8.plot(data)
    axes = [ax for ax in figure.axes if ax.get_xlabel()]
    assert len(axes) == 2 and all(ax.get_ylabel() for ax in axes)
    matplotlib.pyplot.close(figure)
