"""The shared plumbing of the exact laws (``exact.samplers._common``): the Laplace quadrature against closed forms
and brute-force enumeration, and the table scorer against the model it stands in for."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import exact
from exact.samplers import TableScorer, laplace_nodes, laplace_ratio_expectations, scorer


@pytest.mark.parametrize("rate", [1e-4, 0.3, 1.0, 7.0, 2e3])
def test_laplace_nodes_integrate_exponentials(rate):
    """``Σ_i w_i e^{-c s_i} = ∫_0^∞ e^{-c s} ds = 1/c`` for every decay ``c ≥ rate`` the grid was built for
    (slow decays need the grid to reach ``60/rate``; the mass near 0 needs it to start near 0).  The grid is the
    documented one: ``s_i = 1e-18 e^{i·step}`` up to the first node at or past ``60/rate``."""
    s, weights = laplace_nodes(rate)
    assert np.all(np.diff(s) > 0) and s[0] < 1e-17 and s[-1] >= 60.0 / rate
    np.testing.assert_allclose(s, 1e-18 * np.exp(0.05 * np.arange(s.size)), rtol=1e-10)
    assert s[-2] < 60.0 / rate  # no node beyond the first past 60/rate
    for c in (rate, 3.0 * rate, 1e3 * rate):
        assert weights @ np.exp(-c * s) == pytest.approx(1.0 / c, rel=1e-10)
    coarse, _ = laplace_nodes(rate, step=0.1)  # the step given is the step used
    np.testing.assert_allclose(np.diff(np.log(coarse)), 0.1, rtol=1e-9)


def _brute_force_ratios(values, probs, counts):
    """``E[S_a / Σ_b S_b]`` by enumerating every ordered tuple of draws (``counts[b]`` draws of ``W_b``)."""
    slots = [b for b, n in enumerate(counts) for _ in range(n)]
    out = np.zeros(len(counts))
    for draw in itertools.product(*[range(len(values[b])) for b in slots]):
        prob = np.prod([probs[b][j] for b, j in zip(slots, draw)])
        if prob == 0:
            continue
        sums = np.zeros(len(counts))
        for b, j in zip(slots, draw):
            sums[b] += values[b][j]
        out += prob * sums / sums.sum()
    return out


@st.composite
def _ratio_cases(draw):
    """1-3 discrete variables ``W_b`` of 1-3 values each (some with probability 0), 1-2 draws of each."""
    n_vars = draw(st.integers(1, 3))
    values, probs, counts = [], [], []
    for _ in range(n_vars):
        size = draw(st.integers(1, 3))
        values.append(np.array(draw(st.lists(st.floats(1e-3, 1e3), min_size=size, max_size=size))))
        mass = np.array(draw(st.lists(st.sampled_from([0.0, 0.1, 0.5, 1.0, 3.0]), min_size=size, max_size=size)))
        if mass.sum() == 0:
            mass[0] = 1.0
        probs.append(mass / mass.sum())
        counts.append(draw(st.integers(1, 2)))
    return values, probs, counts


@given(_ratio_cases())
# different widths (padding), a zero-probability value (dropped), unequal counts, values over 6 decades
@example(([np.array([1e-3, 2.0, 50.0]), np.array([1e3])], [np.array([0.2, 0.0, 0.8]), np.array([1.0])], [2, 1]))
@example(([np.array([0.5, 4.0]), np.array([0.01, 30.0, 2.0]), np.array([7.0])],
          [np.array([0.5, 0.5]), np.array([0.3, 0.3, 0.4]), np.array([1.0])], [2, 2, 1]))
def test_laplace_ratio_expectations_match_enumeration(case):
    values, probs, counts = case
    with np.errstate(divide="ignore"):
        log_values, log_probs = [np.log(v) for v in values], [np.log(p) for p in probs]
    got = laplace_ratio_expectations(log_values, log_probs, counts)
    np.testing.assert_allclose(got, _brute_force_ratios(values, probs, counts), rtol=0, atol=1e-10)
    # a ratio of sums does not see a common scale, even one far outside float64's range (e^{±600})
    for scale in (-600.0, 600.0):
        np.testing.assert_allclose(laplace_ratio_expectations([v + scale for v in log_values], log_probs, counts), got, rtol=0, atol=1e-10)


def test_laplace_ratio_expectations_with_a_huge_rare_value():
    """``W_1 = 10^100`` with probability ``10^-250``, else 1; ``W_2 = 1``: ``E[W_1 / (W_1 + W_2)] = 1/2 + O(10^-250)``.
    The rare value barely moves ``E[W_1]``, so the rescaling by the means keeps every value representable."""
    log_values = [np.array([0.0, 100 * np.log(10.0)]), np.array([0.0])]
    log_probs = [np.array([0.0, -250 * np.log(10.0)]), np.array([0.0])]
    np.testing.assert_allclose(laplace_ratio_expectations(log_values, log_probs, [1, 1]), [0.5, 0.5], rtol=0, atol=1e-12)


def test_laplace_ratio_expectations_with_values_below_float64s_range():
    """At a huge α the values ``π^{α-1}`` span ``e^{-2000}``: they underflow when exponentiated, yet the smaller
    ones decide the ratio whenever no draw hits a large one (here P = 1/4 for ``W_1``).  Brute force in log space."""
    log_values = [np.array([0.0, -2000.0]), np.array([-2000.0, -2001.0])]
    probs = [np.array([0.5, 0.5]), np.array([0.25, 0.75])]
    counts = [2, 1]
    slots = [b for b, n in enumerate(counts) for _ in range(n)]
    want = np.zeros(2)
    for draw in itertools.product(*[range(2) for _ in slots]):
        prob = np.prod([probs[b][j] for b, j in zip(slots, draw)])
        logs = np.array([log_values[b][j] for b, j in zip(slots, draw)])
        total = np.logaddexp.reduce(logs)
        for b in range(2):
            want[b] += prob * np.exp(np.logaddexp.reduce(logs[np.array(slots) == b]) - total)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # s·W overflows to inf by design: silenced, not printed
        got = laplace_ratio_expectations(log_values, [np.log(p) for p in probs], counts)
    assert 0.01 < want[1] < 0.99  # both classes matter: a collapse onto the large values would show
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)


def test_laplace_ratio_expectations_when_one_class_is_far_above_the_other():
    """``W_1 = 1``, ``W_2 = e^{-2000}``: ``E[W_1 / (W_1 + W_2)] = 1`` and the other ratio is ``e^{-2000}`` (0 in
    float64).  The nodes reach ``s = 60 e^{2000}``, where ``φ_1(s) = e^{-s}`` is 0: there the integrand is 0."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = laplace_ratio_expectations([np.array([0.0]), np.array([-2000.0])], [np.zeros(1), np.zeros(1)], [1, 1])
    assert got[1] == 0.0
    np.testing.assert_allclose(got[0], 1.0, rtol=0, atol=1e-12)


def test_table_scorer_matches_the_model():
    """Every batch of prefixes: the model's ``next_token_logprobs``, shape ``(n, V_{t+1})``; all ``-inf`` after an
    impossible prefix (where the model itself raises)."""
    model = exact.TabularAR.random((3, 2, 4), seed=1, zero_fraction=0.3)
    table = TableScorer(model)
    assert table.horizon == 3 and table.vocab_sizes == (3, 2, 4)
    joint = model.joint()
    for t in range(3):
        prefixes = list(itertools.product(*[range(v) for v in model.vocab_sizes[:t]])) * 2  # t = 0: two empty ones
        possible = np.array([joint[p].sum() > 0 for p in prefixes])
        assert t < 2 or not possible.all()  # zero_fraction: some prefixes of length 2 are impossible
        batch = np.array(prefixes, dtype=np.int64).reshape(len(prefixes), t)
        got = table.next_token_logprobs(batch)
        assert got.shape == (len(prefixes), model.vocab_sizes[t])
        want = model.next_token_logprobs(batch[possible])
        np.testing.assert_allclose(got[possible], want, rtol=0, atol=1e-12)
        assert np.array_equal(np.isneginf(got[possible]), np.isneginf(want)) and np.all(np.isneginf(got[~possible]))


class _SizedModel:
    """A stand-in with the attributes :func:`scorer` reads, and no tables."""

    def __init__(self, vocab_sizes, tables=True):
        self.vocab_sizes = vocab_sizes
        if tables:
            self.log_prefix_marginals = None


def test_scorer_tabulates_only_small_models_with_tables():
    """``scorer``: a :class:`TableScorer` when the dense table has at most ``2**20`` entries and the model has
    ``log_prefix_marginals``, else the model itself."""
    small = exact.TabularAR.random((4, 4, 4), seed=2)
    assert isinstance(scorer(small), TableScorer)
    for model in (_SizedModel((2,) * 21), _SizedModel((1024, 1025)), _SizedModel((2, 2), tables=False), object()):
        assert scorer(model) is model


def test_laplace_ratio_expectations_compute_in_float64_whatever_the_input_dtype():
    """float32 log-values (dyadic, so exact in either dtype) give the float64 answer: the values are rescaled and
    exponentiated in float64, not in the input's precision (which would move the ratios by ~1e-8)."""
    log_values = [np.array([0.0, 1.5, -2.25]), np.array([0.75])]
    probs = [np.array([0.25, 0.5, 0.25]), np.array([1.0])]
    log_probs = [np.log(p) for p in probs]
    want = _brute_force_ratios([np.exp(v) for v in log_values], probs, [2, 1])
    for dtype in (np.float16, np.float32):
        got = laplace_ratio_expectations([v.astype(dtype) for v in log_values], log_probs, np.array([2, 1], dtype=np.int8))
        assert got.dtype == np.float64
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
