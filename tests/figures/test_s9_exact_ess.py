"""Figure S.9: oracle ESS/N = 1 at every α; the temperature proposal falls behind as α grows."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

import exact
from figures import s9_exact_ess as s9


@pytest.fixture(scope="module")
def data():
    return s9.compute()


def _numpy_ess(alpha, proposal):
    """ESS/N = (Σ f)² / Σ f²/q with f = π_pow,α from the Appendix B.2.5 formula."""
    setting = exact.zipf_suffix_setting()
    p, q = setting.first_token_probs, setting.suffix_probs
    f = p**alpha * np.sum(q**alpha, axis=1)
    f /= f.sum()
    proposal = {"temperature": p**alpha / np.sum(p**alpha), "base": p, "uniform": np.full(64, 1 / 64)}[proposal]
    return f.sum() ** 2 / np.sum(f**2 / proposal)


def test_oracle_ess_is_one_at_every_alpha(data):
    oracle = data["stats"]["optimal"]
    assert np.max(np.abs(oracle["ess_fraction"] - 1.0)) <= 1e-12
    assert np.max(oracle["cv2"]) <= 1e-12


@pytest.mark.parametrize("proposal", ["temperature", "base", "uniform"])
def test_exact_ess_matches_numpy(data, proposal):
    for k in (0, len(data["alphas"]) // 2, len(data["alphas"]) - 1):
        alpha = data["alphas"][k]
        assert abs(data["stats"][proposal]["ess_fraction"][k] - _numpy_ess(alpha, proposal)) < 1e-12


def test_temperature_gap_to_oracle_widens_with_alpha(data):
    # Figure S.9's claim, on the whole grid α ∈ [1.1, 8]: the gap grows at every step.
    gap = data["stats"]["optimal"]["ess_fraction"] - data["stats"]["temperature"]["ess_fraction"]
    assert np.all(np.diff(gap) > 0)
    assert s9.summary(data)["temperature_gap_strictly_widening"]


def test_every_non_oracle_proposal_has_positive_cv2(data):
    for name in ("temperature", "base", "uniform"):
        assert np.all(data["stats"][name]["cv2"] > 0)


def test_plot_has_two_labelled_panels(data):
    figure = s9.plot(data)
    axes = [ax for ax in figure.axes if ax.get_xlabel()]
    assert len(axes) == 2 and axes[1].get_yscale() == "log"
    matplotlib.pyplot.close(figure)
