"""Bad input raises ``ValueError`` naming the problem: never a silent NaN, never an out-of-memory kill."""

import itertools
import math
import re
import time

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


# -- the bad inputs of the robustness audit, one test each ------------------------------------------------


def _brute_log_power_joint(model, alpha):
    """``α log π(y) - log Σ_y' π(y')^α`` by itertools over every sequence, with math.fsum (independent route)."""
    seqs = list(itertools.product(*(range(v) for v in model.vocab_sizes)))
    scaled = [alpha * float(model.log_prob(np.array(y))) for y in seqs]
    peak = max(s for s in scaled if s != -math.inf)
    log_z = peak + math.log(math.fsum(math.exp(s - peak) for s in scaled if s != -math.inf))
    return {y: s - log_z for y, s in zip(seqs, scaled)}


@pytest.mark.parametrize("model", [MODEL, MARKOV], ids=["tabular", "markov"])
def test_alpha_at_the_stated_maximum_is_exact(model):
    """α = MAX_ALPHA = 1e4 (README: "α up to 10⁴ ... stay exact"): normalised and equal to brute force."""
    assert exact.MAX_ALPHA == 1e4
    log_joint = exact.log_power_joint(model, exact.MAX_ALPHA)
    assert math.isclose(float(np.exp(log_joint).sum()), 1.0, rel_tol=1e-12)
    for y, value in _brute_log_power_joint(model, exact.MAX_ALPHA).items():
        assert math.isclose(log_joint[y], value, rel_tol=1e-12, abs_tol=1e-9)


@pytest.mark.parametrize("model", [MODEL, MARKOV], ids=["tabular", "markov"])
@pytest.mark.parametrize("alpha", [np.nextafter(1e4, np.inf), 1e5, 1e10, 1e308])
def test_alpha_beyond_the_stated_range_is_refused(model, alpha):
    """Was: ``sample_power(..., 1e308)`` drew the wrong sequence, ``power_joint`` was all NaN, and
    ``MarkovAR.power_joint`` lost normalisation near α = 1e10.  Now a ValueError stating the range."""
    for call in (
        lambda: exact.sample_power(model, alpha, 3, np.random.default_rng(0)),
        lambda: exact.power_joint(model, alpha),
        lambda: exact.power_conditional(model, [0], alpha),
        lambda: exact.renyi_entropy([0.5, 0.5], alpha),
        lambda: exact.logsumexp([0.0, -1.0], scale=alpha),
    ):
        with pytest.raises(ValueError, match=r"must lie in \(0, 10000\]"):
            call()
    if isinstance(model, exact.MarkovAR):
        with pytest.raises(ValueError, match=r"\(0, 10000\]"):
            model.log_suffix_masses(alpha)
    assert exact.renyi_entropy([0.5, 0.5], math.inf) == pytest.approx(math.log(2))  # the documented α → ∞ path


@pytest.mark.parametrize("sizes", [(2.7, 3), (3, 2.0), (True, 3), (np.float64(2), 3), ("ab",), "23", 2.5])
def test_vocabulary_sizes_must_be_integers(sizes):
    """Was: ``TabularAR.random((2.7, 3))`` truncated 2.7 to 2.  Floats and bools are refused, never cast."""
    with pytest.raises(ValueError, match="vocab"):
        exact.TabularAR.random(sizes, None if not isinstance(sizes, float) else 3)


def test_numpy_integer_sizes_are_fine():
    model = exact.TabularAR.random((np.int64(2), np.int32(3)), seed=0)
    assert model.vocab_sizes == (2, 3) and all(type(v) is int for v in model.vocab_sizes)
    assert exact.TabularAR.random(np.int64(2), np.int8(2), seed=0).vocab_sizes == (2, 2)
    assert exact.MarkovAR.random(np.int64(3), np.int64(2)).horizon == 2
    for bad in (True, 2.0):
        with pytest.raises(ValueError, match="horizon"):
            exact.TabularAR.random(2, bad)
        with pytest.raises(ValueError, match="horizon"):
            exact.MarkovAR.random(2, bad)


@pytest.mark.parametrize(
    "call",
    [
        lambda: exact.TabularAR.from_joint(np.array([0.5, 0.5]) + 1j),
        lambda: exact.TabularAR.from_log_joint(np.log([0.5, 0.5]).astype(complex)),
        lambda: exact.TabularAR.from_conditionals([np.log([0.5, 0.5]).astype(complex)]),
        lambda: exact.MarkovAR(np.array([0.5, 0.5], dtype=complex), np.eye(2), 2),
        lambda: exact.MarkovAR(np.array([0.5, 0.5]), np.eye(2) + 0j, 2),
        lambda: exact.log_normalize(np.array([0.0, 1j])),
        lambda: exact.logsumexp(np.array([0.0, 1j])),
        lambda: exact.renyi_entropy(np.array([0.5, 0.5 + 1j]), 2.0),
        lambda: exact.incremental_weight_stats(MODEL, [], 2.0, np.full(3, 1 / 3) + 0j),
        lambda: exact.goodness_of_fit(np.zeros((4, 3), dtype=int), MODEL.joint() + 0j),
        lambda: exact.TabularAR.from_joint(np.array([True, False])),
        lambda: exact.TabularAR.from_joint(np.array(["0.5", "0.5"])),
        lambda: exact.log_normalize(["0", "1"]),
    ],
)
def test_complex_boolean_and_string_arrays_are_refused(call):
    """Was: complex input lost its imaginary part (numpy's cast); strings were parsed.  Real dtypes only."""
    with pytest.raises(ValueError, match="real numbers"):
        call()


def test_conditionals_must_sum_to_one_row_by_row():
    """Was: ``from_conditionals`` accepted rows that do not sum to one (compensating rows gave a normalised joint)."""
    first = np.log([0.5, 0.5])
    second = np.log([[0.75, 0.75], [0.25, 0.25]])  # rows sum to 1.5 and 0.5; the joint still sums to 1
    with pytest.raises(ValueError, match=r"conditional table 1, row \(0,\).* sums to 1\.5"):
        exact.TabularAR.from_conditionals([first, second])
    with pytest.raises(ValueError, match=r"conditional table 0, row \(\).* sums to 0\.8"):
        exact.TabularAR.from_conditionals([np.log([0.5, 0.3])])
    with pytest.raises(ValueError, match=r"NaN or \+inf"):
        exact.TabularAR.from_conditionals([np.array([0.0, np.inf])])
    # a row under a prefix of probability zero is never used: any values are accepted there
    unused = np.array([[0.0, -np.inf], [-5.0, -5.0]])
    model = exact.TabularAR.from_conditionals([np.array([0.0, -np.inf]), unused])
    np.testing.assert_allclose(model.joint(), [[1.0, 0.0], [0.0, 0.0]])
    # within the tolerance: accepted
    exact.TabularAR.from_conditionals([np.log([0.5, 0.5 + 5e-10])])


def test_infinite_and_nan_log_weights_are_refused():
    """Was: ``log_normalize([inf, 0])`` returned ``[inf, 0]``.  +inf and NaN log weights have no normalisation."""
    for bad in ([np.inf, 0.0], [np.nan, 0.0], [[0.0, 0.0], [np.inf, -np.inf]]):
        with pytest.raises(ValueError, match=r"NaN or \+inf"):
            exact.log_normalize(bad)
    with pytest.raises(ValueError, match="NaN"):
        exact.logsumexp([np.nan, 0.0])
    assert exact.logsumexp([np.inf, 0.0]) == np.inf  # log Σ e^x = +inf is the correct answer there
    np.testing.assert_array_equal(exact.log_normalize([-np.inf, -np.inf]), [-np.inf, -np.inf])  # zero mass stays zero
    with pytest.raises(ValueError, match="axis"):
        exact.logsumexp(np.zeros(3), axis=1)
    with pytest.raises(ValueError, match="axis"):
        exact.log_normalize(np.zeros(3), axis=True)


def test_huge_horizon_memory_check_is_linear_time():
    """Was: ``TabularAR.random(10**6, 10**6)`` spent 15+ minutes in the cap check (a product of 10**6 big integers)."""
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"~1e\+6000000 entries.*over the memory cap"):
        exact.TabularAR.random(10**6, 10**6)
    with pytest.raises(ValueError, match="over the memory cap"):
        exact.TabularAR.random(2, 10**12)  # the per-step size tuple alone would not fit
    with pytest.raises(ValueError, match="over the memory cap"):
        exact.MarkovAR(np.array([0.5, 0.5]), np.eye(2), 10**12)
    # a hang guard, not a speed target (bench/ holds those): the quadratic check took 15+ minutes, the
    # linear one ~0.1 s; 60 s leaves room for a loaded CI machine (it took 6.3 s under load 27 here)
    assert time.perf_counter() - start < 60.0


def test_every_markov_allocation_is_checked():
    """Was: ``MarkovAR.log_suffix_masses`` allocated its (T, V) table without the cap."""
    markov = exact.MarkovAR.random(4, 1000, seed=0)
    with exact.memory_limit(4 * 1000 * 8 - 8):  # one entry short of the (T, V) table of β
        with pytest.raises(ValueError, match=r"suffix power masses.*32,000 bytes"):
            markov.log_suffix_masses(2.0)
        with pytest.raises(ValueError, match="over the memory cap"):
            markov.log_prefix_totals(2.0, 3)
        with pytest.raises(ValueError, match="over the memory cap"):
            exact.sample_power(markov, 2.0, 1, np.random.default_rng(0))
    with exact.memory_limit(10**6):
        with pytest.raises(ValueError, match="prefixes"):
            markov.log_prefix_marginals(10)  # _log_prefix_table: 4**10 entries
        with pytest.raises(ValueError, match="sampled sequences"):
            markov.sample(10**4, np.random.default_rng(0))
        with pytest.raises(ValueError, match="transition matrix"):
            exact.MarkovAR.random(10**4, 2)
        with pytest.raises(ValueError, match="sampled sequences"):
            MODEL.sample(10**6, np.random.default_rng(0))
        with pytest.raises(ValueError, match="padded completions"):
            exact.pad_completions([[0]], 10**6, None)
    assert markov.log_suffix_masses(2.0).shape == (1000, 4)  # under the default cap: fine


@pytest.mark.parametrize(
    "completions, horizon, eos, message",
    [
        ([[0, 2.7]], 2, None, "integer token ids"),
        ([[0, "1"]], 2, None, "integer token ids"),
        ([[0, True]], 2, None, "integer token ids"),
        ([[0, -1]], 2, None, "integer token ids"),
        ([[0, 1]], 2.0, None, "horizon"),
        ([[0, 1]], 2, 1.0, "eos_token_id"),
        ([[0, 1]], 2, "1", "eos_token_id"),
    ],
)
def test_pad_completions_refuses_non_integers(completions, horizon, eos, message):
    with pytest.raises(ValueError, match=message):
        exact.pad_completions(completions, horizon, eos)


def test_llm_temper_refuses_infinite_temperature():
    """Was: ``temper(logp, inf)`` returned NaN for the ``-inf`` entries (``-inf / inf``)."""
    torch = pytest.importorskip("torch")
    from llm.model import temper

    logp = torch.log(torch.tensor([0.5, 0.5, 0.0], dtype=torch.float64))
    for bad in (math.inf, math.nan, 0.0, -1.0, "2"):
        with pytest.raises(ValueError, match="temperature"):
            temper(logp, bad)
    assert torch.equal(temper(logp, np.float64(1.0)), logp)


# -- the scalar checks of exact._validate, called directly: each boundary, each message from its start -------


def _refuses(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_scalar_checks_accept_their_boundaries_and_name_the_argument():
    from exact import _validate as v

    assert v.check_real(1, "x") == 1.0 and type(v.check_real(np.int64(2), "x")) is float
    _refuses(lambda: v.check_real("a", "x"), r"^x must be a real number, got 'a'$")
    _refuses(lambda: v.check_real(True, "x"), r"^x must be a real number, got True$")
    _refuses(lambda: v.check_real(float("nan"), "x"), r"^x must be a real number, got NaN$")
    assert v.check_positive(0.5, "x") == 0.5 and v.check_positive(math.inf, "x", allow_inf=True) == math.inf
    _refuses(lambda: v.check_positive(math.inf, "x"), r"^x must be finite and > 0, got inf$")
    _refuses(lambda: v.check_positive(-math.inf, "x", allow_inf=True), r"^x must be finite and > 0, got -inf$")
    _refuses(lambda: v.check_positive(0, "x"), r"^x must be > 0, got 0\.0$")
    _refuses(lambda: v.check_positive("a", "x"), r"^x must be a real number > 0, got 'a'$")
    _refuses(lambda: v.check_positive(float("nan"), "x"), r"^x must be a real number > 0, got NaN$")
    assert v.check_nonnegative(0, "x") == 0.0 and v.check_nonnegative(0.5, "x") == 0.5
    for bad in (-1e-300, math.inf, True, "a", float("nan")):
        _refuses(lambda: v.check_nonnegative(bad, "x"), rf"^x must be a finite number >= 0, got {re.escape(repr(bad))}$")
    assert v.check_unit_interval(1.0, "x") == 1.0 and v.check_unit_interval(0.5, "x") == 0.5
    assert v.check_unit_interval(0, "x", include_zero=True) == 0.0 and v.check_unit_interval(0.5, "x", include_zero=True) == 0.5
    _refuses(lambda: v.check_unit_interval(0, "x"), r"^x must lie in \(0, 1\], got 0$")
    _refuses(lambda: v.check_unit_interval(1.5, "x", include_zero=True), r"^x must lie in \[0, 1\], got 1\.5$")
    _refuses(lambda: v.check_unit_interval(float("nan"), "x"), r"^x must be a real number, got nan$")
    _refuses(lambda: v.check_unit_interval("a", "x"), r"^x must be a real number, got 'a'$")


def test_alpha_count_axis_rng_horizon_and_model_checks():
    from exact import _validate as v

    assert v.check_alpha(1e4) == 1e4 and v.check_alpha(math.inf, allow_inf=True) == math.inf
    _refuses(lambda: v.check_alpha(0), r"^alpha must be > 0, got 0\.0$")
    _refuses(lambda: v.check_alpha(math.inf), r"^alpha must be finite and > 0, got inf$")
    beyond = r"exact is exact only up to α = 10000 \(float64 α·log π loses the answer beyond it\); got 20000\.0$"
    _refuses(lambda: v.check_alpha(2e4), r"^alpha must lie in \(0, 10000\] \(use an α = ∞ / Power\(∞\) routine for the limit\): " + beyond)
    _refuses(lambda: v.check_alpha(2e4, "beta", allow_inf=True), r"^beta must lie in \(0, 10000\] or inf \(the α → ∞ limit\): " + beyond)
    assert v.check_count(1, "n") == 1 and v.check_count(0, "n", minimum=0) == 0 and type(v.check_count(np.int64(3), "n")) is int
    _refuses(lambda: v.check_count(0, "n"), r"^n must be an integer >= 1, got 0$")
    _refuses(lambda: v.check_count(-1, "n", minimum=0), r"^n must be a non-negative integer, got -1$")
    _refuses(lambda: v.check_count(2, "n", minimum=3), r"^n must be an integer >= 3, got 2$")
    for bad in (True, 2.0, "2"):
        _refuses(lambda: v.check_count(bad, "n"), rf"^n must be an integer >= 1, got {re.escape(repr(bad))}$")
    assert v.check_axis(-2, 2) == 0 and v.check_axis(-1, 2) == 1 and v.check_axis(np.int64(1), 2) == 1
    for bad in (2, -3, True, 1.0):
        _refuses(lambda: v.check_axis(bad, 2), rf"^axis must be an integer in \[-2, 2\) for an array with 2 dimensions, got {bad!r}$")
    rng = np.random.default_rng(0)
    assert v.check_rng(rng) is rng
    _refuses(lambda: v.check_rng(0), r"^pass a numpy\.random\.Generator, e\.g\. np\.random\.default_rng\(0\)$")
    assert v.check_horizon(np.int64(3)) == 3
    _refuses(lambda: v.check_horizon(0), r"^horizon must be an integer >= 1, got 0$")
    with exact.memory_limit(16):
        _refuses(lambda: v.check_horizon(3), r"^the per-step vocabulary sizes of horizon 3 needs 3 entries \(24 bytes")
    v.check_model(MODEL)
    _refuses(
        lambda: v.check_model(object()),
        r"^model must be an exact\.AutoregressiveModel \(e\.g\. exact\.TabularAR\); object lacks vocab_sizes, horizon, "
        r"log_conditional, log_prefix_marginals, log_prefix_totals, log_power_suffix_mass$",
    )


def test_array_checks_accept_their_boundaries_and_name_the_argument():
    from exact import _validate as v

    np.testing.assert_array_equal(v.real_array(np.array([1, 2.5], dtype=object), "x"), [1.0, 2.5])
    np.testing.assert_array_equal(v.real_array(np.array([[1, 2.5]], dtype=object), "x"), [[1.0, 2.5]])  # every entry read
    assert v.real_array(np.array([1, 2]), "x").dtype == np.float64
    _refuses(lambda: v.real_array(np.array([1, "a"], dtype=object), "x"), r"^x must be an array of real numbers, got entries of other types$")
    _refuses(lambda: v.real_array([[1.0], [1.0, 2.0]], "x"), r"^x must be an array of real numbers: ")
    _refuses(lambda: v.real_array(np.array([1j]), "x"), r"^x must be an array of real numbers \(integer or float dtype\), got dtype complex128$")
    for good in ([1.0], [0.0, 1.0], [[0.25, 0.25], [0.5, 0.0]]):
        np.testing.assert_array_equal(v.check_probability_array(good), good)
    np.testing.assert_array_equal(v.check_probability_array([0.5, 0.5], tol=0.0), [0.5, 0.5])  # |Σp − 1| = 0 ≤ 0
    for bad, message in [
        (1.0, r"^p must be a non-empty probability array, got shape \(\)$"),
        ([], r"^p must be a non-empty probability array, got shape \(0,\)$"),
        ([np.nan, 1.0], r"^p has NaN or infinite entries$"),
        ([1.5, -0.5], r"^p has negative entries \(min -0\.5\)$"),
        ([0.5, 0.6], r"^p must sum to 1 within 1e-09, sums to 1\.1$"),
        (["a"], r"^p must be an array of real numbers \(integer or float dtype\)"),
    ]:
        _refuses(lambda: v.check_probability_array(bad), message)
        _refuses(lambda: v.check_probability_vector(bad), message.replace("non-empty probability array", "non-empty 1-D probability vector"))
    np.testing.assert_array_equal(v.check_probability_vector([1.0]), [1.0])
    _refuses(lambda: v.check_probability_vector([[0.5, 0.5]]), r"^p must be a non-empty 1-D probability vector, got shape \(1, 2\)$")
    _refuses(lambda: v.check_probability_vector([]), r"^p must be a non-empty 1-D probability vector, got shape \(0,\)$")
    _refuses(lambda: v.check_probability_vector([0.5, 0.6], "q", tol=0.2 - 0.15), r"^q must sum to 1 within 0\.05, sums to 1\.1$")
    np.testing.assert_array_equal(v.check_probability_vector([0.5, 0.6], "q", tol=0.2), [0.5, 0.6])
    np.testing.assert_array_equal(v.check_log_weights([-np.inf, 0.0]), [-np.inf, 0.0])
    _refuses(lambda: v.check_log_weights(["a"], "w"), r"^w must be an array of real numbers \(integer or float dtype\)")
    for bad in ([np.nan], [np.inf, 0.0]):
        _refuses(lambda: v.check_log_weights(bad), r"^log weights must not be NaN or \+inf \(-inf is a zero weight\)$")
    np.testing.assert_array_equal(v.check_log_probability_vector([0.0], "q", tol=0.0), [0.0])
    _refuses(lambda: v.check_log_probability_vector(np.log([0.5, 1.0]), "q"), r"^exp\(q\) must sum to 1 within 1e-09, sums to 1\.5$")
    _refuses(lambda: v.check_log_probability_vector([[0.0]], "q"), r"^q must be a non-empty 1-D array of log-probabilities, got shape \(1, 1\)$")
    _refuses(lambda: v.check_log_probability_vector([np.nan], "q"), r"^q must not be NaN or \+inf")


def test_vocabulary_size_checks():
    from exact._validate import check_vocab_sizes as sizes

    assert sizes(3, 2) == (3, 3) and sizes(np.int64(2), np.int64(1)) == (2,)
    assert sizes((2, 1)) == (2, 1) and sizes((2, 3), 2) == (2, 3)
    got = sizes(np.array([[2, 3]]))
    assert got == (2, 3) and all(type(size) is int for size in got)
    for bad, horizon, message in [
        (3, None, r"^horizon must be an integer >= 1 when vocab_size is one integer, got None$"),
        (0, 2, r"^vocab_size must be an integer >= 1, got 0$"),
        (True, 2, r"^vocab_size must be an integer >= 1 or a sequence of them, got True$"),
        ("23", None, r"^vocab_size must be an integer >= 1 or a sequence of them, got '23'$"),
        ([], None, r"^vocabulary sizes must be integers >= 1, got an empty sequence$"),
        ((2, 0), None, r"^vocabulary sizes must be integers >= 1, got 0 at step 2$"),
        ((2, True), None, r"^vocabulary sizes must be integers >= 1, got True at step 2$"),
        ((2, 2.0), None, r"^vocabulary sizes must be integers >= 1, got 2\.0 at step 2$"),
        ((2, 3), 3, r"^horizon 3 disagrees with 2 per-step vocabulary sizes$"),
        ((2, 3), 2.0, r"^horizon 2\.0 disagrees with 2 per-step vocabulary sizes$"),
        ((5,), True, r"^horizon True disagrees with 1 per-step vocabulary sizes$"),
    ]:
        _refuses(lambda: sizes(bad, horizon), message)


def test_conditional_tables_check_directly():
    """``check_log_conditionals``: the tables come back unchanged (EOS rows made absorbing); each refusal in full."""
    from exact._validate import check_log_conditionals as check

    three = [np.log([0.5, 0.5]), np.log(np.full((2, 3), 1 / 3)), np.log(np.full((2, 3, 2), 0.5))]
    out = check(three, 1e-9)
    assert len(out) == 3 and all(np.array_equal(a, b) for a, b in zip(out, three))
    np.testing.assert_array_equal(check([np.array([0.0])], 0.0)[0], [0.0])  # one token; |Σ − 1| = 0 ≤ tol = 0
    garbage_after_eos = [np.log([0.5, 0.5]), np.log([[1.0, 1.0], [0.25, 0.75]])]  # row y_1 = 0 sums to 2
    first, second = check(garbage_after_eos, 1e-9, eos_token_id=0)
    np.testing.assert_array_equal(second, [[0.0, -np.inf], [np.log(0.25), np.log(0.75)]])
    for tables, message in [
        (np.zeros((1, 2)), r"^log_conditionals must be a list of per-step tables log π\(y_t \| y_<t\)$"),
        (5, r"^log_conditionals must be a list of per-step tables log π\(y_t \| y_<t\)$"),
        ([], r"^from_conditionals needs at least one conditional table$"),
        (["a"], r"^conditional table 0 must be an array of real numbers"),
        ([np.zeros((2, 2))], r"^the last conditional table must have one axis per step \(1\) and no empty axis, got shape \(2, 2\)$"),
        ([np.zeros(0)], r"^the last conditional table must have one axis per step \(1\) and no empty axis, got shape \(0,\)$"),
        ([np.zeros(3), np.zeros((2, 3)), np.zeros((2, 3, 2))], r"^conditional table 0 has shape \(3,\), expected \(2,\)$"),
        ([np.array([0.0, np.nan])], r"^conditional table 0 has NaN or \+inf entries \(log-probabilities: use -inf for zero\)$"),
        ([np.array([0.0, np.inf])], r"^conditional table 0 has NaN or \+inf entries \(log-probabilities: use -inf for zero\)$"),
        (garbage_after_eos, r"^conditional table 1, row \(0,\): π\(· \| y_<2 = \(0,\)\) sums to 2, not 1 within 1e-09$"),
    ]:
        _refuses(lambda: check(tables, 1e-9), message)
    with exact.memory_limit(16):
        _refuses(lambda: check(three, 1e-9), r"^the joint of this model needs 12 entries \(96 bytes")
