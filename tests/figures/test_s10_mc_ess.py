"""Figure S.10: sampled ESS/N concentrates on the exact value; the proposals' ordering holds at every N.

Fixed seed 0, R = 200 replicates per (proposal, N), N = 10 ... 10 000 (see figures/s10_mc_ess.py).
Tolerances: every replicate mean within k = 3 replicate standard deviations of the exact value
(the figure's error bars; at small N the self-normalised ESS has an O(1/N) bias, e.g. ESS/N >= 1/N);
for N >= 1000, within k = 4 standard errors sd/sqrt(R) of exact + c₁/N, c₁ the delta-method bias.
"""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

import exact
from figures import s10_mc_ess as s10


@pytest.fixture(scope="module")
def data():
    return s10.compute(seed=0)


def test_exact_values_match_numpy(data):
    setting = exact.zipf_suffix_setting()
    p, q = setting.first_token_probs, setting.suffix_probs
    f = p**4 * np.sum(q**4, axis=1)
    f /= f.sum()
    proposals = {"optimal": f, "temperature": p**4 / np.sum(p**4), "base": p, "uniform": np.full(64, 1 / 64)}
    for a, name in enumerate(data["proposals"]):
        assert abs(data["exact"][a] - 1.0 / np.sum(f**2 / proposals[name])) < 1e-12


def test_oracle_samples_have_ess_one(data):
    assert np.max(np.abs(data["sampled"][0] - 1.0)) < 1e-12


def test_sampled_mean_within_three_sd_at_every_budget(data):
    deviation = np.abs(data["mean"] - data["exact"][:, None])[1:]
    assert np.all(deviation <= 3 * data["sd"][1:])


def _first_order_bias(f, q):
    """Delta-method O(1/N) bias of the self-normalised ESS/N = (ΣW)²/(NΣW²), W = f/q, Y ~ q.

    With a = E[W], b = E[W²] and g(a, b) = a²/b:
    E[ĝ] = g + (1/N)[g_aa Var(W)/2 + g_ab Cov(W, W²) + g_bb Var(W²)/2] + O(1/N²),
    g_aa = 2/b, g_ab = -2a/b², g_bb = 2a²/b³.
    """
    w = f / q
    moments = [np.sum(q * w**k) for k in range(5)]
    a, b = moments[1], moments[2]
    var_w, cov, var_w2 = b - a**2, moments[3] - a * b, moments[4] - b**2
    return (1 / b) * var_w - (2 * a / b**2) * cov + (a**2 / b**3) * var_w2


def test_sampled_mean_within_four_standard_errors_for_large_budgets(data):
    # The self-normalised ESS is a ratio estimator with an O(1/N) bias that is large for heavy-tailed
    # weights (temperature, uniform at α = 4): the reference is exact + c₁/N (c₁ from the exact moments
    # of W, delta method), and for N >= 1000 the replicate mean lies within k = 4 standard errors of it.
    setting = exact.zipf_suffix_setting()
    p, q = setting.first_token_probs, setting.suffix_probs
    f = p**4 * np.sum(q**4, axis=1)
    f /= f.sum()
    proposals = {"temperature": p**4 / np.sum(p**4), "base": p, "uniform": np.full(64, 1 / 64)}
    large = data["budgets"] >= 1000
    for a, name in enumerate(data["proposals"]):
        if name == "optimal":
            continue
        reference = data["exact"][a] + _first_order_bias(f, proposals[name]) / data["budgets"][large]
        standard_error = data["sd"][a, large] / np.sqrt(data["n_replicates"])
        assert np.all(np.abs(data["mean"][a, large] - reference) <= 4 * standard_error), name


def test_spread_shrinks_as_budget_grows(data):
    assert np.all(data["sd"][1:, -1] < data["sd"][1:, 0] / 5)


def test_ordering_of_proposals_is_preserved_at_every_budget(data):
    exact_order = np.argsort(-data["exact"])
    assert list(exact_order) == [0, 1, 2, 3]  # oracle > temperature > base > uniform at α = 4
    for b in range(len(data["budgets"])):
        assert list(np.argsort(-data["mean"][:, b])) == list(exact_order)


def test_replicates_option_and_seed_reproducibility():
    first, second = s10.compute(seed=3, n_replicates=5), s10.compute(seed=3, n_replicates=5)
    assert first["sampled"].shape == (4, len(s10.BUDGETS), 5)
    np.testing.assert_array_equal(first["sampled"], second["sampled"])
