"""Power joint, prefix totals, power/temperature conditionals vs brute force (Eqs. 4-6, 8, 10).

Tolerance tier: float64 closed forms, 1e-10 relative (absolute 1e-12 on
probabilities, where "relative" is meaningless for values near 0).  Log-domain
quantities are compared with an absolute tolerance of 1e-10 times their magnitude
(``α log π`` reaches ~1e4 for peaked models at α = 50).
"""

import itertools
import math
import warnings

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import bruteforce as bf
import exact
from exact import chi_square_pvalue
from exact.testing import strategies as sx


RTOL, ATOL = 1e-10, 1e-12
#: The largest, most peaked model the strategies allow (5^5 leaves, Dirichlet 0.05, zeros).
BIG = exact.TabularAR.random(5, 5, seed=7, concentration=0.05, zero_fraction=0.3)


def assert_log_close(actual, expected, rtol=RTOL):
    """Log values: ``-inf`` must match exactly; finite ones within ``rtol·max(1, |expected|)``."""
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    assert actual.shape == expected.shape
    assert np.array_equal(np.isneginf(actual), np.isneginf(expected)), (actual, expected)
    finite = np.isfinite(expected)
    assert np.all(np.isfinite(actual[finite]))
    np.testing.assert_allclose(actual[finite], expected[finite], rtol=0, atol=rtol * max(1.0, np.abs(expected[finite]).max(initial=0)))


def _table(sizes, entries: dict, length: int, fill=-np.inf):
    out = np.full(sizes[:length], fill, dtype=float)
    for prefix in itertools.product(*[range(v) for v in sizes[:length]]):
        out[prefix] = entries.get(prefix, fill)
    return out


@given(sx.tabular_models(), sx.alphas())
@example(exact.pivotal_example(), 2.0)
@example(BIG, 50.0)
@example(BIG, 1e4)
def test_power_joint_and_prefix_totals_match_brute_force(model, alpha):
    logp = bf.log_joint_from_array(model.log_joint())
    totals = bf.prefix_totals(logp, alpha)
    log_Z = totals[()]
    assert_log_close(exact.log_partition(model, alpha), log_Z)
    for t in range(model.horizon + 1):
        assert_log_close(exact.log_prefix_totals(model, alpha, t), _table(model.vocab_sizes, totals, t))
    expected_joint = np.exp(_table(model.vocab_sizes, totals, model.horizon) - log_Z)
    power = exact.power_joint(model, alpha)
    np.testing.assert_allclose(power, expected_joint, rtol=RTOL, atol=ATOL)
    assert math.isclose(power.sum(), 1.0, rel_tol=1e-12)


@given(sx.models_with_prefix(), sx.alphas())
@example((exact.pivotal_example(), ()), 2.0)
def test_single_prefix_conditionals_match_brute_force(model_prefix, alpha):
    model, prefix = model_prefix
    logp = bf.log_joint_from_array(model.log_joint())
    vocab = model.vocab_sizes[len(prefix)]
    expected_pow = bf.power_conditional(bf.prefix_totals(logp, alpha), prefix, vocab)
    expected_temp = bf.temp_conditional(bf.prefix_marginals(logp), prefix, vocab, alpha)
    np.testing.assert_allclose(exact.power_conditional(model, prefix, alpha), expected_pow, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(exact.temp_conditional(model, prefix, alpha), expected_temp, rtol=RTOL, atol=ATOL)
    with np.errstate(divide="ignore"):
        assert_log_close(exact.log_power_conditional(model, prefix, alpha), np.log(expected_pow))
        assert_log_close(exact.log_temp_conditional(model, prefix, alpha), np.log(expected_temp))


@given(sx.tabular_models(), sx.alphas())
@example(BIG, 50.0)
@example(BIG, 1e-3)
def test_batched_conditionals_agree_with_single_prefix(model, alpha):
    all_tables = exact.all_power_conditionals(model, alpha)
    assert len(all_tables) == model.horizon
    for length in range(model.horizon):
        power = exact.power_conditionals(model, alpha, length)
        temp = exact.temp_conditionals(model, alpha, length)
        assert power.shape == temp.shape == model.vocab_sizes[: length + 1]
        np.testing.assert_allclose(all_tables[length], power, rtol=RTOL, atol=ATOL)
        marginals = model.log_prefix_marginals(length)
        for prefix in itertools.product(*[range(v) for v in model.vocab_sizes[:length]]):
            if np.isfinite(marginals[prefix]):
                np.testing.assert_allclose(power[prefix], exact.power_conditional(model, prefix, alpha), rtol=RTOL, atol=ATOL)
                np.testing.assert_allclose(temp[prefix], exact.temp_conditional(model, prefix, alpha), rtol=RTOL, atol=ATOL)
                assert math.isclose(power[prefix].sum(), 1.0, rel_tol=1e-12)
            else:  # an impossible prefix has no conditional: its row is zeros
                assert not power[prefix].any() and not temp[prefix].any()


#: A prefix 1e-3 as likely as its sibling: at α = 100 its row of π(y)^α sits e^-600 below the global
#: maximum (entries e^-600 and e^-820: the second underflows unless the row is rescaled by its own max).
UNDERFLOW_ROW = exact.TabularAR.from_joint(np.array([[0.5, 0.5 - 1.38e-3], [1.38e-3 * 0.9, 1.38e-3 * 0.1]]))


@pytest.mark.parametrize("model, alpha", [(UNDERFLOW_ROW, 100.0), (UNDERFLOW_ROW, 300.0), (BIG, 1e3)])
def test_batched_conditionals_keep_relative_precision_in_rows_far_below_the_maximum(model, alpha):
    """Every entry of the batched tables that is a normal float (conditional > e^-700) within 1e-9
    relative (log space) of the single-prefix route, which normalises each row on its own in log space
    (the batched route shifts by one global maximum first)."""
    tables = exact.all_power_conditionals(model, alpha)  # the one-sweep engine (exact.power._normalize_rows)
    for length, power in enumerate(tables):
        marginals = model.log_prefix_marginals(length)
        for prefix in itertools.product(*[range(v) for v in model.vocab_sizes[:length]]):
            if np.isfinite(marginals[prefix]):
                expected = exact.log_power_conditional(model, prefix, alpha)
                normal = expected > -700.0
                with np.errstate(divide="ignore"):
                    assert_log_close(np.log(power[prefix][normal]), expected[normal], rtol=1e-9)


@given(sx.tabular_models(), sx.alphas())
@example(exact.pivotal_example(), 2.0)
@example(BIG, 50.0)
@example(BIG, 1e4)
def test_power_conditionals_chain_back_to_power_joint(model, alpha):
    """``Π_t π_pow,α(y_t | y_<t) = π_α(y)`` for every sequence (Eq. 10 chained), zeros included."""
    logp = bf.log_joint_from_array(model.log_joint())
    totals = bf.prefix_totals(logp, alpha)
    tables = exact.all_power_conditionals(model, alpha)
    for y in bf.sequences(model.vocab_sizes):
        product = math.prod(float(tables[t][y[: t + 1]]) for t in range(model.horizon))
        expected = math.exp(totals[y] - totals[()])
        assert math.isclose(product, expected, rel_tol=1e-9, abs_tol=ATOL)


def test_pivotal_example_alpha_2_preferences():
    """Seed 004, Example 1 (normalised): power prefers ``a`` (0.16 > 0.125), temperature prefers ``b``."""
    model = exact.pivotal_example()
    power = exact.power_conditional(model, [], 2.0)
    temp = exact.temp_conditional(model, [], 2.0)
    np.testing.assert_allclose(power, [0.16 / 0.285, 0.125 / 0.285], rtol=1e-13)
    np.testing.assert_allclose(temp, [16 / 41, 25 / 41], rtol=1e-13)
    assert power[0] > power[1] and temp[0] < temp[1]
    np.testing.assert_allclose(model.joint(), np.array([[0, 0.4], [0.25, 0.25]]) / 0.9, rtol=1e-15)


@pytest.mark.parametrize("alpha", [1e3, 1e4])
def test_huge_alpha_and_tiny_probabilities_stay_finite(alpha):
    """Probabilities 1e-300 and α up to 1e4: finite logs, one-hot limits, exact brute-force agreement."""
    joint = np.array([[1e-300, 0.4 - 1e-300], [0.35, 0.25]])
    model = exact.TabularAR.from_joint(joint)
    logp = bf.log_joint_from_array(model.log_joint())
    totals = bf.prefix_totals(logp, alpha)
    assert np.isfinite(exact.log_partition(model, alpha))
    assert_log_close(exact.log_partition(model, alpha), totals[()])
    for t in range(3):
        table = exact.log_prefix_totals(model, alpha, t)
        assert np.all(np.isfinite(table))
        assert_log_close(table, _table(model.vocab_sizes, totals, t))
    for prefix in ([], [0], [1]):  # near one-hot; the minority entries (1e-58 ... 0) still to 1e-10 relative
        expected = bf.power_conditional(totals, prefix, 2)
        np.testing.assert_allclose(exact.power_conditional(model, prefix, alpha), expected, rtol=RTOL, atol=0)
    assert exact.power_conditional(model, [0], alpha)[0] < 1e-300
    log_pow = exact.log_power_conditional(model, [0], alpha)
    assert_log_close(log_pow, [totals[(0, 0)] - totals[(0,)], totals[(0, 1)] - totals[(0,)]])
    assert np.isfinite(log_pow).all()  # α log 1e-300 ≈ -6.9e6 at α = 1e4: tiny, not zero, in log space


@given(sx.explicit_joints(tiny=True), sx.alphas_regression())
def test_explicit_joints_with_zeros_and_tiny_entries(joint, alpha):
    model = exact.TabularAR.from_joint(joint)
    with np.errstate(divide="ignore"):
        logp = {y: math.log(joint[y]) if joint[y] > 0 else bf.NEG_INF for y in bf.sequences(joint.shape)}
    totals = bf.prefix_totals(logp, alpha)
    for t in range(model.horizon + 1):
        assert_log_close(exact.log_prefix_totals(model, alpha, t), _table(model.vocab_sizes, totals, t))
    assert np.isfinite(exact.log_partition(model, alpha))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("alpha", [0.5, 3.0])
def test_sample_power_matches_exact_law(seed, alpha):
    """N = 20 000 draws at fixed seeds; χ² goodness of fit at level 1e-4 (a fixed-seed, deterministic check)."""
    model = exact.TabularAR.random((3, 4, 2), seed=seed, concentration=0.7, zero_fraction=0.3)
    draws = exact.sample_power(model, alpha, 20_000, np.random.default_rng(seed))
    assert draws.shape == (20_000, 3) and draws.dtype.kind == "i"
    logp = bf.log_joint_from_array(model.log_joint())
    totals = bf.prefix_totals(logp, alpha)
    probs = np.exp(_table(model.vocab_sizes, totals, 3) - totals[()])
    assert chi_square_pvalue(draws, probs) > 1e-4


class _ProtocolOnly:
    """A model with the protocol's tables but no dense ``log_joint`` (a user's own model, say)."""

    def __init__(self, model):
        self._model = model
        self.vocab_sizes, self.horizon = model.vocab_sizes, model.horizon

    def __getattr__(self, name):
        if name == "log_joint":
            raise AttributeError(name)
        return getattr(self._model, name)


def test_all_power_conditionals_without_a_dense_joint():
    """Without ``log_joint`` the tables come prefix length by prefix length; both routes agree with the brute force."""
    model = exact.TabularAR.random((2, 3, 2), seed=5, zero_fraction=0.3)
    logp = bf.log_joint_from_array(model.log_joint())
    totals = bf.prefix_totals(logp, 3.0)
    for tables in (exact.all_power_conditionals(_ProtocolOnly(model), 3.0), exact.all_power_conditionals(model, 3.0)):
        assert [t.shape for t in tables] == [(2,), (2, 3), (2, 3, 2)]
        for length, table in enumerate(tables):
            for prefix in itertools.product(*(range(v) for v in model.vocab_sizes[:length])):
                expected = bf.power_conditional(totals, prefix, model.vocab_sizes[length]) if length == 0 or math.fsum(
                    math.exp(v) for y, v in logp.items() if y[:length] == prefix
                ) > 0 else [0.0] * model.vocab_sizes[length]
                np.testing.assert_allclose(table[prefix], expected, rtol=RTOL, atol=ATOL)


def test_zero_mass_rows_are_computed_without_numpy_warnings():
    """Zero-probability prefixes are legal ``-inf`` (zero rows): no divide-by-zero warning escapes."""
    model = exact.TabularAR.from_joint(np.array([[0.5, 0.5], [0.0, 0.0]]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tables = exact.all_power_conditionals(model, 2.0)
    np.testing.assert_array_equal(tables[1], [[0.5, 0.5], [0.0, 0.0]])


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m: exact.all_power_conditionals(m, 2.0), r"^the table of power conditionals at the leaves needs 60 entries"),
        (lambda m: exact.temp_conditionals(m, 2.0, 1), r"^the table of temperature conditionals needs 12 entries"),
        (lambda m: exact.temp_conditionals(m, 2.0, 0), r"^the table of temperature conditionals needs 3 entries"),
        (lambda m: exact.power_conditionals(m, 2.0, 1), r"^the table of power conditionals needs 12 entries"),
        (lambda m: exact.log_power_joint(m, 2.0), r"^the power joint needs 60 entries"),
    ],
)
def test_allocation_guards_name_the_table_and_its_size(call, message):
    """Each dense table is checked against the memory cap before allocation: the error names it and its size."""
    model = exact.TabularAR.random((3, 4, 5), seed=0)
    with exact.memory_limit(16):  # 2 float64 entries
        with pytest.raises(ValueError, match=message):
            call(model)


def test_prefix_length_and_sample_size_checks():
    """A prefix length must be an integer (1.0 and 1.5 are refused); ``n = 0`` draws nothing; the errors name ``n``."""
    model = exact.TabularAR.random((3, 4, 5), seed=0)
    for length in (1.0, 1.5, True):
        with pytest.raises(ValueError, match=r"^prefix length must be an integer in \[0, 2\], got "):
            exact.power_conditionals(model, 2.0, length)
    markov = exact.MarkovAR.random(4, 3, seed=1)
    assert exact.sample_power(markov, 2.0, 0, np.random.default_rng(0)).shape == (0, 3)
    with pytest.raises(ValueError, match=r"^n must be "):
        exact.sample_power(markov, 2.0, -1, np.random.default_rng(0))
    with exact.memory_limit(16), pytest.raises(ValueError, match=r"^the sampled sequences needs 20 entries"):
        exact.sample_power(markov, 2.0, 5, np.random.default_rng(0))  # n × max(T, V) = 5 × 4
