"""Bad input raises ``ValueError`` naming the problem: never a silent NaN, never an out-of-memory kill."""

import math

import numpy as np
import pytest

import exact

MODEL = exact.TabularAR.random(3, 3, seed=0)
MARKOV = exact.MarkovAR.random(3, 4, seed=0)
POWER_CALLS = {
    "log_partition": lambda m, a: exact.log_partition(m, a),
    "power_joint": lambda m, a: exact.power_joint(m, a),
    "log_prefix_totals": lambda m, a: exact.log_prefix_totals(m, a, 1),
    "power_conditional": lambda m, a: exact.power_conditional(m, [0], a),
    "temp_conditional": lambda m, a: exact.temp_conditional(m, [0], a),
    "power_conditionals": lambda m, a: exact.power_conditionals(m, a, 1),
    "temp_conditionals": lambda m, a: exact.temp_conditionals(m, a, 1),
    "all_power_conditionals": lambda m, a: exact.all_power_conditionals(m, a),
    "sample_power": lambda m, a: exact.sample_power(m, a, 3, np.random.default_rng(0)),
    "odds_correction": lambda m, a: exact.odds_correction(m, [], 0, 1, a),
    "incremental_weight_stats": lambda m, a: exact.incremental_weight_stats(m, [], a, "base"),
    "renyi_entropy": lambda m, a: exact.renyi_entropy([0.5, 0.5], a),
}


@pytest.mark.parametrize("model", [MODEL, MARKOV], ids=["tabular", "markov"])
@pytest.mark.parametrize("name", sorted(POWER_CALLS))
@pytest.mark.parametrize(
    "alpha, message",
    [(0.0, "> 0"), (-1.0, "> 0"), (math.nan, "NaN"), (math.inf, "finite"), (-math.inf, "finite"), ("2", "real number"), (True, "real number")],
)
def test_bad_alpha(model, name, alpha, message):
    if name == "renyi_entropy" and alpha == math.inf:
        assert exact.renyi_entropy([0.5, 0.5], alpha) == pytest.approx(math.log(2))  # min-entropy is legal there
        return
    with pytest.raises(ValueError, match=message):
        POWER_CALLS[name](model, alpha)


@pytest.mark.parametrize(
    "joint, message",
    [
        (np.array([[0.5, 0.6], [-0.1, 0.0]]), "negative"),
        (np.array([0.5, 0.4]), r"sum to 1 within 1e-09"),
        (np.array([0.5, 0.5 + 2e-9]), r"sum to 1 within 1e-09"),
        (np.array([0.5, np.nan]), "NaN"),
        (np.array([0.5, np.inf]), "infinite"),
        (np.array(1.0), "scalar"),
        (np.zeros((2, 0)), "empty axis"),
        (np.zeros((2, 2)), "sum to 1"),
    ],
)
def test_bad_joint(joint, message):
    with pytest.raises(ValueError, match=message):
        exact.TabularAR.from_joint(joint)


def test_bad_log_joint():
    with pytest.raises(ValueError, match=r"NaN or \+inf"):
        exact.TabularAR.from_log_joint(np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match="sum to 1"):
        exact.TabularAR.from_log_joint(np.log([0.5, 0.6]))
    exact.TabularAR.from_joint(np.array([0.5, 0.5 + 5e-10]))  # inside the stated tolerance: accepted


@pytest.mark.parametrize("model", [MODEL, MARKOV], ids=["tabular", "markov"])
@pytest.mark.parametrize(
    "prefix, message",
    [
        ([0, 1, 2], "too long"),
        ([0, 1, 2, 0, 1], "too long"),
        ([3], "out of range"),
        ([-1], "out of range"),
        ([0.5], "integers"),
        ([[0, 1]], "1-D"),
    ],
)
def test_bad_prefix(model, prefix, message):
    if model is MARKOV and prefix == [0, 1, 2]:
        prefix = [0, 1, 2, 0]  # the chain has T = 4
    for call in (
        lambda: model.conditional(prefix),
        lambda: exact.power_conditional(model, prefix, 2.0),
        lambda: exact.temp_conditional(model, prefix, 2.0),
        lambda: exact.incremental_weight_stats(model, prefix, 2.0, "uniform"),
        lambda: exact.log_proposal(model, prefix, 2.0, "uniform"),
        lambda: exact.suffix_distribution(model, prefix, 0),
    ):
        with pytest.raises(ValueError, match=message):
            call()


def test_zero_probability_prefix_and_token():
    model = exact.pivotal_example()  # p(aa) = 0
    with pytest.raises(ValueError, match="probability zero"):
        exact.suffix_distribution(model, [0], 0)
    with pytest.raises(ValueError, match="probability zero"):
        exact.odds_correction(model, [0], 0, 1, 2.0)
    zero_prefix = exact.TabularAR.from_joint(np.array([[0.0, 0.0], [0.5, 0.5]]))
    with pytest.raises(ValueError, match="probability zero"):
        exact.power_conditional(zero_prefix, [0], 2.0)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: MODEL.log_prob(np.array([[0, 1]])), r"shape \(n, 3\)"),
        (lambda: MODEL.log_prob(np.array([[0, 1, 3]])), "out of range"),
        (lambda: MODEL.log_prob(np.array([[0.0, 1.0, 2.0]])), "integers"),
        (lambda: MODEL.log_prefix_marginals(4), r"integer in \[0, 3\]"),
        (lambda: MODEL.log_prefix_totals(2.0, -1), r"integer in \[0, 3\]"),
        (lambda: exact.power_conditionals(MODEL, 2.0, 3), r"integer in \[0, 2\]"),
        (lambda: MODEL.sample(-1, np.random.default_rng(0)), "non-negative integer"),
        (lambda: MODEL.sample(3, 0), "numpy.random.Generator"),
        (lambda: exact.odds_correction(MODEL, [], 0, 3, 2.0), "out of range"),
        (lambda: exact.incremental_weight_stats(MODEL, [], 2.0, "greedy"), "unknown proposal"),
        (lambda: exact.incremental_weight_stats(MODEL, [], 2.0, np.array([0.5, 0.5])), r"shape \(3,\)"),
        (lambda: exact.incremental_weight_stats(MODEL, [], 2.0, np.array([0.5, 0.6, -0.1])), "non-negative"),
        (lambda: exact.sampled_ess_fraction(MODEL, [], 2.0, "base", 0, np.random.default_rng(0)), "n_particles"),
        (lambda: exact.renyi_entropy([0.5, 0.6], 2.0), "sum to 1"),
        (lambda: exact.renyi_entropy([0.5, -0.5, 1.0], 2.0), "non-negative"),
        (lambda: exact.TabularAR.random(3, 0), "horizon"),
        (lambda: exact.TabularAR.random(3, 2, zero_fraction=1.0), "zero_fraction"),
        (lambda: exact.TabularAR.random((3, 0)), "vocabulary sizes"),
        (lambda: exact.MarkovAR(np.array([0.5, 0.5]), np.eye(3), 3), r"shape \(2, 2\)"),
        (lambda: exact.MarkovAR(np.array([0.5, 0.5]), np.array([[0.5, 0.5], [0.7, 0.7]]), 3), "transition row 1"),
        (lambda: exact.MarkovAR(np.array([0.5, 0.5]), np.eye(2), 0), "horizon"),
        (lambda: exact.MarkovAR.random(0, 3), "vocab_size"),
        (lambda: exact.ess_fraction_from_log_weights(np.array([0.0, np.nan])), "NaN"),
    ],
)
def test_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_memory_cap_names_the_bytes():
    """V**T over the cap: ValueError stating the byte count (10**12 float64 = 8,000,000,000,000 bytes)."""
    with pytest.raises(ValueError, match=r"8,000,000,000,000 bytes"):
        exact.TabularAR.random(10, 12, seed=0)
    markov = exact.MarkovAR.random(50, 10_000, seed=0)
    with pytest.raises(ValueError, match=r"bytes.*over the memory cap"):
        markov.log_joint()
    with pytest.raises(ValueError, match="bytes"):
        exact.power_joint(markov, 2.0)
    with exact.memory_limit(1_000):  # a configurable cap: 5**5 * 8 = 25,000 bytes is now too much
        with pytest.raises(ValueError, match=r"25,000 bytes.*cap of 1,000 bytes"):
            exact.TabularAR.random(5, 5, seed=0)
    exact.TabularAR.random(5, 5, seed=0)  # restored afterwards
    with pytest.raises(ValueError, match="positive integer"):
        exact.set_max_bytes(0)


def test_huge_alpha_never_nan():
    joint = np.array([[1e-300, 1e-200], [0.5, 0.5 - 1e-200 - 1e-300]])
    model = exact.TabularAR.from_joint(joint)
    for alpha in (1e-3, 0.5, 50.0, 1e3, 1e4):
        for table in exact.all_power_conditionals(model, alpha):
            assert not np.isnan(table).any()
        stats = exact.incremental_weight_stats(model, [0], alpha, "base")
        assert all(np.isfinite(v) for v in stats)
