"""Fuzzing every public entry point of ``exact``: any input gives a correct result or a clear error.

Each argument is drawn either from its valid values or from :data:`JUNK` (wrong types,
shapes, NaN/inf, negative and huge numbers, complex, bools, floats where ints belong,
strings, empty arrays).  The contract checked by :func:`outcome`: the call returns (and
then the result passes the checks written for that function: normalised, no NaN, the
identity it states) or raises ``ValueError``/``TypeError``; any other exception, a NaN or
a call that runs past :data:`HANG_SECONDS` fails the test.  Small ``max_examples`` keep the
whole file under a minute in the default suite.
"""

from __future__ import annotations

import math
import os
import signal
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import exact

#: A single call slower than this counts as a hang.
HANG_SECONDS = 20

#: Examples per test: 25 in the default suite; ``FUZZ_EXAMPLES=500`` (with ``HYPOTHESIS_PROFILE=dev``) to hunt.
FUZZ = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", 25)), deadline=None, suppress_health_check=list(HealthCheck))

MODEL = exact.TabularAR.random((3, 2, 3), seed=1, zero_fraction=0.3)
EOS_MODEL = exact.TabularAR.random((3, 3, 2), seed=2, eos_token_id=1)
MARKOV = exact.MarkovAR.random(3, 3, seed=0)
MODELS = st.sampled_from([MODEL, EOS_MODEL, MARKOV])

JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, -1, 10**6, 10**18, np.int64(-3), np.uint8(200)]),
    st.floats(),
    st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -0.0, 1e308, 5e-324, 2.7, np.float32(1.5)]),
    st.complex_numbers(max_magnitude=10),
    st.text(max_size=3),
    st.lists(st.floats(), max_size=4),
    st.lists(st.integers(-3, 5), max_size=4),
    st.lists(st.lists(st.integers(0, 3), max_size=3), max_size=3),
    hnp.arrays(
        dtype=st.sampled_from([np.float64, np.int64, np.complex128, np.bool_, np.float32, np.uint8]),
        shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
    ),
)


def valid_or_junk(valid: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(valid, valid, JUNK)


ALPHAS = valid_or_junk(st.one_of(st.floats(1e-3, 50.0), st.sampled_from([0.5, 1.0, 2.0, 1e4, np.float64(3.0)])))
INTS = valid_or_junk(st.integers(0, 6))
PREFIXES = valid_or_junk(st.lists(st.integers(0, 2), max_size=2))
PROBABILITY_VECTORS = valid_or_junk(
    st.lists(st.floats(0.01, 1.0), min_size=1, max_size=5).map(lambda v: np.array(v) / np.sum(v))
)
LOG_ARRAYS = valid_or_junk(
    hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), elements=st.floats(-800, 50) | st.just(-math.inf))
)


class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang(f"the call ran longer than {HANG_SECONDS} s")


def outcome(call):
    """``call()``'s result, or ``None`` if it raised ``ValueError``/``TypeError``; anything else fails."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(HANG_SECONDS)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return call()
    except (ValueError, TypeError) as error:
        assert str(error), "an error must say what is wrong"
        return None
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def no_nan(*values):
    for value in values:
        assert not np.isnan(np.asarray(value, dtype=np.float64)).any(), "a silent NaN"


def assert_distribution(p, axis=None):
    p = np.asarray(p, dtype=np.float64)
    no_nan(p)
    assert np.all(p >= 0)
    np.testing.assert_allclose(p.sum(axis=axis), 1.0, rtol=1e-9)


def assert_rows(table):
    """Conditional tables: each row sums to 1, or to 0 under an impossible prefix."""
    sums = np.asarray(table).sum(axis=-1)
    no_nan(table)
    assert np.all((np.abs(sums - 1) < 1e-9) | (sums == 0))


# -- models' constructors ---------------------------------------------------------------------------------


@FUZZ
@given(
    valid_or_junk(st.lists(st.integers(1, 3), min_size=1, max_size=3).map(tuple)),
    st.one_of(st.none(), INTS),
    valid_or_junk(st.sampled_from([0.1, 1.0, 5.0])),
    valid_or_junk(st.sampled_from([0.0, 0.3])),
    st.one_of(st.none(), INTS),
)
def test_fuzz_tabular_random(sizes, horizon, concentration, zero_fraction, eos):
    model = outcome(lambda: exact.TabularAR.random(sizes, horizon, 0, concentration, zero_fraction, eos))
    if model is not None:
        assert_distribution(model.joint())


@FUZZ
@given(valid_or_junk(hnp.arrays(np.float64, hnp.array_shapes(max_dims=3, max_side=3), elements=st.floats(0, 1))), st.one_of(st.none(), INTS))
def test_fuzz_from_joint(joint, eos):
    if isinstance(joint, np.ndarray) and joint.dtype == np.float64 and joint.size and joint.sum() > 0:
        joint = joint / joint.sum()
    model = outcome(lambda: exact.TabularAR.from_joint(joint, eos))
    if model is not None:
        assert_distribution(model.joint())
        np.testing.assert_allclose(model.joint(), joint, atol=1e-12)
    model = outcome(lambda: exact.TabularAR.from_log_joint(joint, eos))
    if model is not None:
        assert_distribution(model.joint())


@FUZZ
@given(st.lists(LOG_ARRAYS, max_size=3), st.one_of(st.none(), INTS))
def test_fuzz_from_conditionals(tables, eos):
    model = outcome(lambda: exact.TabularAR.from_conditionals(tables, eos))
    if model is not None:
        assert_distribution(model.joint())


@FUZZ
@given(PROBABILITY_VECTORS, valid_or_junk(st.integers(1, 4)), st.one_of(st.none(), INTS), st.data())
def test_fuzz_markov(initial, horizon, eos, data):
    size = np.shape(initial)[0] if isinstance(initial, np.ndarray) and initial.ndim == 1 else 2
    transition = data.draw(valid_or_junk(st.just(np.full((size, size), 1.0 / max(size, 1)))))
    for build in (lambda: exact.MarkovAR(initial, transition, horizon, eos), lambda: exact.MarkovAR.random(horizon, horizon, 0, 1.0, eos)):
        model = outcome(build)
        if model is not None:  # Σ_y π(y) = 1 by the backward recursion (no dense table)
            assert math.isclose(model.log_partition(1.0), 0.0, abs_tol=1e-9)


# -- the power distribution, its conditionals, Rényi, importance -------------------------------------------


@FUZZ
@given(valid_or_junk(MODELS), ALPHAS)
def test_fuzz_power_joint(model, alpha):
    joint = outcome(lambda: exact.power_joint(model, alpha))
    if joint is not None:
        assert_distribution(joint)
        no_nan(exact.log_partition(model, alpha))


@FUZZ
@given(valid_or_junk(MODELS), PREFIXES, ALPHAS)
def test_fuzz_power_and_temp_conditional(model, prefix, alpha):
    for function in (exact.power_conditional, exact.temp_conditional):
        result = outcome(lambda: function(model, prefix, alpha))
        if result is not None:
            assert_distribution(result)


@FUZZ
@given(valid_or_junk(MODELS), ALPHAS, INTS)
def test_fuzz_power_conditionals(model, alpha, length):
    for function in (exact.power_conditionals, exact.temp_conditionals):
        result = outcome(lambda: function(model, alpha, length))
        if result is not None:
            assert_rows(result)
    tables = outcome(lambda: exact.all_power_conditionals(model, alpha))
    if tables is not None:
        for table in tables:
            assert_rows(table)


@FUZZ
@given(valid_or_junk(MODELS), ALPHAS, INTS, valid_or_junk(st.just(np.random.default_rng(0))))
def test_fuzz_sample_power(model, alpha, n, rng):
    draws = outcome(lambda: exact.sample_power(model, alpha, n, rng))
    if draws is not None:
        assert draws.shape == (n, model.horizon) and draws.dtype.kind == "i"
        assert np.all(model.log_prob(draws) > -np.inf)


@FUZZ
@given(PROBABILITY_VECTORS, valid_or_junk(st.sampled_from([0.5, 1.0, 2.0, math.inf])))
def test_fuzz_renyi_entropy(p, alpha):
    value = outcome(lambda: exact.renyi_entropy(p, alpha))
    if value is not None:
        no_nan(value)
        support = int(np.count_nonzero(np.asarray(p)))
        assert -1e-9 <= value <= math.log(support) + 1e-9  # 0 ≤ H_α ≤ log |support|


@FUZZ
@given(valid_or_junk(MODELS), PREFIXES, INTS, INTS, ALPHAS)
def test_fuzz_odds_correction(model, prefix, a, b, alpha):
    result = outcome(lambda: exact.odds_correction(model, prefix, a, b, alpha))
    if result is not None:
        no_nan(*result)
        assert math.isclose(result.direct, result.renyi_prediction, rel_tol=1e-6, abs_tol=1e-6)  # Prop. 1


@FUZZ
@given(valid_or_junk(MODELS), PREFIXES, ALPHAS, valid_or_junk(st.sampled_from(["optimal", "base", "temperature", "uniform", "greedy"])))
def test_fuzz_incremental_weight_stats(model, prefix, alpha, proposal):
    stats = outcome(lambda: exact.incremental_weight_stats(model, prefix, alpha, proposal))
    if stats is not None:
        no_nan(*stats)
        assert stats.mean <= 1 + 1e-9 and 0 <= stats.ess_fraction <= 1 and stats.cv2 >= 0


@FUZZ
@given(LOG_ARRAYS, valid_or_junk(st.integers(-2, 1)), valid_or_junk(st.sampled_from([1.0, 0.5, 3.0])))
def test_fuzz_log_normalize_and_logsumexp(x, axis, scale):
    result = outcome(lambda: exact.log_normalize(x, axis))
    if result is not None:
        sums = np.exp(result).sum(axis=axis)
        assert np.all((np.abs(sums - 1) < 1e-9) | (sums == 0))  # all -inf slices stay zero mass
    result = outcome(lambda: exact.logsumexp(x, axis, scale))
    if result is not None:
        no_nan(result)
        arr = np.asarray(x, dtype=np.float64)
        if arr.size:  # log Σ e^{s x} ≥ s max x
            peak = scale * np.max(arr, axis=axis)
            assert np.all(np.asarray(result) >= peak - 1e-12 * (1 + np.abs(np.where(np.isfinite(peak), peak, 0))))


@FUZZ
@given(LOG_ARRAYS, LOG_ARRAYS)
def test_fuzz_weight_stats_and_ess(log_f, log_q):
    stats = outcome(lambda: exact.weight_stats_from_logs(log_f, log_q))
    if stats is not None:
        no_nan(*stats)
    ess = outcome(lambda: exact.ess_fraction_from_log_weights(log_f))
    if ess is not None:
        no_nan(ess)
        assert np.all((ess >= 0) & (ess <= 1 + 1e-12))


# -- the samplers' exact laws -------------------------------------------------------------------------------


@FUZZ
@given(MODELS, ALPHAS, valid_or_junk(st.integers(1, 3)), valid_or_junk(st.integers(0, 3)), st.one_of(st.none(), ALPHAS))
def test_fuzz_mh_output_distribution(model, alpha, block_size, n_mcmc, proposal_alpha):
    law = outcome(lambda: exact.mh_output_distribution(model, alpha, block_size, n_mcmc, proposal_alpha))
    if law is not None:
        assert_distribution(law.probabilities)


@FUZZ
@given(MODELS, ALPHAS, valid_or_junk(st.integers(1, 3)), valid_or_junk(st.integers(1, 3)), st.booleans())
def test_fuzz_scalable_output_distribution(model, alpha, top_k, n_rollouts, jackknife):
    law = outcome(lambda: exact.scalable_output_distribution(model, alpha, top_k, n_rollouts, jackknife, n_replications=50))
    if law is not None:
        assert_distribution(law.probabilities)


@FUZZ
@given(MODELS, ALPHAS, valid_or_junk(st.integers(1, 4)), valid_or_junk(st.sampled_from(["base", "temperature", "optimal"])))
def test_fuzz_sir_output_distribution(model, alpha, n_particles, proposal):
    law = outcome(lambda: exact.sir_output_distribution(model, alpha, n_particles, proposal))
    if law is not None:
        assert_distribution(law.probabilities)


@FUZZ
@given(MODELS, valid_or_junk(st.integers(1, 4)), valid_or_junk(st.sampled_from([0.5, 1.0, 2.0])), valid_or_junk(st.just(1e-12)))
def test_fuzz_best_of_n_output_distribution(model, n_candidates, temperature, tie_tolerance):
    law = outcome(lambda: exact.best_of_n_output_distribution(model, n_candidates, temperature, True, tie_tolerance))
    if law is not None:
        assert_distribution(law.probabilities)


# -- goodness of fit, EOS padding ---------------------------------------------------------------------------


@FUZZ
@given(
    valid_or_junk(hnp.arrays(np.int64, st.tuples(st.integers(0, 20), st.just(3)), elements=st.integers(0, 1))),
    valid_or_junk(st.just(MODEL.joint())),
    valid_or_junk(st.sampled_from(["pearson", "g"])),
    valid_or_junk(st.sampled_from([5.0, 0.0, 1.0])),
)
def test_fuzz_goodness_of_fit(draws, target, method, min_expected):
    check = outcome(lambda: exact.goodness_of_fit(draws, target, method, min_expected))
    if check is not None:
        assert 0.0 <= check.p_value <= 1.0 and check.statistic >= 0
        assert check.observed.sum() == len(draws)


@FUZZ
@given(
    valid_or_junk(st.lists(st.lists(st.integers(0, 2), min_size=1, max_size=3), max_size=3)),
    INTS,
    st.one_of(st.none(), INTS),
)
def test_fuzz_pad_completions(completions, horizon, eos):
    padded = outcome(lambda: exact.pad_completions(completions, horizon, eos))
    if padded is not None:
        assert padded.shape == (len(completions), horizon) and padded.dtype == np.int64
        assert exact.trim_completions(padded, eos) == [tuple(c) for c in completions] if horizon else True


def test_hang_guard_fails_a_hanging_call():
    """The harness itself: a call past HANG_SECONDS is a failure, not a pass (the alarm is real)."""
    global HANG_SECONDS
    saved, HANG_SECONDS = HANG_SECONDS, 1
    try:
        with pytest.raises(_Hang):
            outcome(lambda: [None for _ in iter(int, 1)])  # an endless loop
    finally:
        HANG_SECONDS = saved
