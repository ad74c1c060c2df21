"""Figure S.5: the plotted setting is the one Appendix B.2.4 describes (recomputed with numpy)."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from figures import s5_synthetic_setting as s5


@pytest.fixture(scope="module")
def data():
    return s5.compute()


def test_first_token_law_is_zipf_1_05_over_64_tokens(data):
    ranks = np.arange(1, 65, dtype=float)
    expected = ranks**-1.05 / np.sum(ranks**-1.05)
    np.testing.assert_allclose(data["p"], expected, rtol=1e-12, atol=0)


def test_suffixes_are_full_support_power_laws_over_256_symbols(data):
    z = np.arange(1, 257, dtype=float)
    assert data["q"].shape == (64, 256) and np.all(data["q"] > 0)
    expected = z[None, :] ** -data["s"][:, None]
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(data["q"], expected, rtol=1e-12, atol=0)


def test_suffix_exponent_is_non_monotone_within_the_paper_range(data):
    s = data["s"]
    assert 0.45 <= s.min() and s.max() <= 1.65
    assert np.any(np.diff(s) > 0) and np.any(np.diff(s) < 0)
    shown = data["representative"]
    assert s[shown].min() == s.min() and s[shown].max() == s.max() and len(set(shown)) == 4


def test_the_tabular_model_is_the_plotted_setting(data):
    assert data["model_vs_setting_p"] < 1e-14 and data["model_vs_setting_q"] < 1e-14


def test_plot_has_three_labelled_panels(data):
    figure = s5.plot(data)
    assert len(figure.axes) == 3
    assert all(ax.get_xlabel() and ax.get_ylabel() for ax in figure.axes)
    matplotlib.pyplot.close(figure)
