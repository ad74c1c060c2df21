"""Rényi entropies, suffix distributions and Prop. 1 (Eq. 7) vs brute force.

For every prefix of positive probability and every pair of next tokens with
positive probability, the power-vs-temperature log odds gap equals
``(1 - α)(H_α(q_{t,a}) - H_α(q_{t,b}))``.  Three routes must agree: the
library's direct side (power and temperature conditionals), the library's Rényi
side (enumerated suffix laws), and the brute-force value of either.
Tolerance: 1e-10 times the magnitude of the log terms involved (they reach
``α·|log π| ~ 1e4`` on peaked models at α = 50).
"""

import math
import warnings

import numpy as np
import pytest
from hypothesis import example, given

import bruteforce as bf
import exact
from exact.testing import strategies as sx


RTOL = 1e-10
BIG = exact.TabularAR.random(5, 5, seed=7, concentration=0.05, zero_fraction=0.3)


def _prop1_check(model, prefix, alpha):
    logp = bf.log_joint_from_array(model.log_joint())
    marginals = bf.prefix_marginals(logp)
    vocab = model.vocab_sizes[len(prefix)]
    support = [a for a in range(vocab) if marginals[tuple(prefix) + (a,)] != bf.NEG_INF]
    pow_bf = bf.log_power_conditional(bf.prefix_totals(logp, alpha), prefix, vocab)
    temp_bf = bf.log_temp_conditional(marginals, prefix, vocab, alpha)
    masses = {a: bf.log_renyi_mass(bf.log_suffix_distribution(logp, marginals, prefix, a).values())(alpha) for a in support}
    scale = 1.0 + alpha * max(abs(marginals[tuple(prefix) + (a,)]) for a in support) + max(abs(m) for m in masses.values())
    for a in support:
        for b in support:
            result = exact.odds_correction(model, prefix, a, b, alpha)
            expected_direct = (pow_bf[a] - pow_bf[b]) - (temp_bf[a] - temp_bf[b])
            expected_renyi = masses[a] - masses[b]
            # brute force agrees with itself (Prop. 1 holds), and the library agrees with both
            assert math.isclose(result.direct, expected_direct, rel_tol=0, abs_tol=RTOL * scale)
            assert math.isclose(result.renyi_prediction, expected_renyi, rel_tol=0, abs_tol=RTOL * scale)
            assert math.isclose(result.direct, result.renyi_prediction, rel_tol=0, abs_tol=RTOL * scale)


@given(sx.models_with_prefix(), sx.alphas_sharpening())
@example((exact.pivotal_example(), ()), 2.0)
@example((BIG, ()), 50.0)
def test_prop1_sharpening(model_prefix, alpha):
    _prop1_check(*model_prefix, alpha)


@given(sx.models_with_prefix(), sx.alphas_flattening())
@example((exact.pivotal_example(), ()), 0.5)
@example((BIG, (0,)), 1e-3)
def test_prop1_flattening(model_prefix, alpha):
    _prop1_check(*model_prefix, alpha)


def test_prop1_pivotal_example_numbers():
    """Pivotal example at α = 2: q_a = δ_b (H_2 = 0), q_b = (½, ½) (H_2 = log 2); gap = (1-2)(0 - log 2) = log 2."""
    result = exact.odds_correction(exact.pivotal_example(), [], 0, 1, 2.0)
    assert math.isclose(result.direct, math.log(2), rel_tol=1e-13)
    assert math.isclose(result.renyi_prediction, math.log(2), rel_tol=1e-13)


#: Peaked suffix laws (H_α ~ 1e-4..1e-3) at α = 0.996: the logsumexp route lost 1e-9 relative
#: (drawn in a full run when Hypothesis's constant pool still followed the imported modules).
PEAKED = exact.TabularAR.random((3, 2, 2), seed=2, concentration=0.05, zero_fraction=0.0)


@given(sx.models_with_prefix(), sx.alphas())
@example((PEAKED, ()), 0.99609375)
@example((PEAKED, ()), 1.01)
def test_suffix_distribution_and_renyi_entropies(model_prefix, alpha):
    model, prefix = model_prefix
    logp = bf.log_joint_from_array(model.log_joint())
    marginals = bf.prefix_marginals(logp)
    entropies = exact.suffix_renyi_entropies(model, prefix, alpha) if alpha != 1.0 else None
    for a in range(model.vocab_sizes[len(prefix)]):
        if marginals[tuple(prefix) + (a,)] == bf.NEG_INF:
            with pytest.raises(ValueError, match="probability zero"):
                exact.suffix_distribution(model, prefix, a)
            if entropies is not None:
                assert np.isnan(entropies[a])
            continue
        expected = bf.log_suffix_distribution(logp, marginals, prefix, a)
        log_q = exact.log_suffix_distribution(model, prefix, a)
        assert log_q.shape == model.vocab_sizes[len(prefix) + 1:]
        for z, value in expected.items():
            assert (value == log_q[z]) if value == bf.NEG_INF else math.isclose(log_q[z], value, rel_tol=0, abs_tol=1e-12 * max(1, abs(value)))
        q = exact.suffix_distribution(model, prefix, a)
        assert math.isclose(q.sum(), 1.0, rel_tol=1e-12)
        reference = bf.renyi_entropy(q.ravel().tolist(), alpha)
        assert math.isclose(exact.renyi_entropy(q, alpha), reference, rel_tol=RTOL, abs_tol=1e-12)
        if entropies is not None:
            # mass / (1 - α): an absolute error δ on the mass becomes δ / |1 - α| on H_α, so scale by it
            mass = bf.log_renyi_mass(expected.values())(alpha)
            tol = 1e-12 * (1 + abs(mass) + alpha * max(abs(v) for v in expected.values() if v != bf.NEG_INF)) / abs(1 - alpha)
            assert math.isclose(entropies[a], mass / (1 - alpha), rel_tol=1e-9, abs_tol=tol)


@pytest.mark.parametrize(
    "p, alpha, expected",
    [
        ([0.5, 0.5], 2.0, math.log(2)),
        ([0.25] * 4, 0.3, math.log(4)),  # uniform: H_α = log n for every α
        ([0.25] * 4, math.inf, math.log(4)),
        ([1.0, 0.0, 0.0], 7.0, 0.0),  # a point mass has zero entropy; zeros are legal
        ([0.2, 0.8, 0.0], 1.0, -(0.2 * math.log(0.2) + 0.8 * math.log(0.8))),  # Shannon
        ([0.2, 0.8], math.inf, -math.log(0.8)),  # min-entropy
        ([0.1, 0.2, 0.7], 2.0, -math.log(0.01 + 0.04 + 0.49)),  # collision entropy
        ([1e-300, 1.0 - 1e-300], 1e4, 0.0),
    ],
)
def test_renyi_entropy_closed_forms(p, alpha, expected):
    assert math.isclose(exact.renyi_entropy(p, alpha), expected, rel_tol=1e-12, abs_tol=1e-15)


def test_renyi_entropy_is_continuous_at_one():
    """``H_α → H_1`` (Shannon) as α → 1: finite differences of order |α - 1|."""
    p = np.array([0.1, 0.2, 0.3, 0.4])
    shannon = exact.renyi_entropy(p, 1.0)
    for eps in (1e-4, 1e-5):
        assert abs(exact.renyi_entropy(p, 1 + eps) - shannon) < 10 * eps
        assert abs(exact.renyi_entropy(p, 1 - eps) - shannon) < 10 * eps
    assert exact.renyi_entropy(p, 0.5) >= shannon >= exact.renyi_entropy(p, 2.0) >= exact.renyi_entropy(p, math.inf)


def test_renyi_entropy_from_logp_handles_minus_inf():
    with np.errstate(divide="ignore"):
        logp = np.log([0.0, 0.5, 0.5])
    assert math.isclose(exact.renyi_entropy_from_logp(logp, 3.0), math.log(2), rel_tol=1e-13)


@pytest.mark.parametrize("log_p", [[], [np.nan, 0.0], [0.0, np.nan], [np.inf, 0.0], [-np.inf, np.inf]])
def test_renyi_entropy_from_logp_rejects_malformed_input(log_p):
    message = r"^log_p must be a non-empty array of log-probabilities \(no NaN, no \+inf\)$"
    with pytest.raises(ValueError, match=message):
        exact.renyi_entropy_from_logp(np.array(log_p, dtype=float), 2.0)


def test_bad_tokens_and_the_shannon_case_are_clear_errors():
    model = exact.pivotal_example()
    with pytest.raises(ValueError, match=r"^token id True is out of range \[0, 2\)$"):  # a bool is not a token id
        exact.suffix_distribution(model, [], True)
    with pytest.raises(ValueError, match=r"^token id 2 is out of range \[0, 2\)$"):
        exact.odds_correction(model, [], 0, 2, 2.0)
    shannon = r"^use renyi_entropy\(suffix_distribution\(\.\.\.\), 1\.0\) for the Shannon case$"
    with pytest.raises(ValueError, match=shannon):
        exact.suffix_renyi_entropies(model, [], 1.0)


def test_messages_name_the_argument_and_the_table():
    """Non-real input names ``log_p`` or ``p``; negative mass names ``p``; the suffix table's memory guard names it."""
    cases = [
        (lambda: exact.renyi_entropy_from_logp(np.array(["a", "b"]), 2.0), r"^log_p must be an array of real numbers"),
        (lambda: exact.renyi_entropy(np.array([0.5j, 0.5]), 2.0), r"^p must be an array of real numbers"),
        (lambda: exact.renyi_entropy([1.5, -0.5], 2.0), r"^p must be a non-negative, finite probability array$"),
        (lambda: exact.renyi_entropy([0.5, np.nan], 2.0), r"^p must be a non-negative, finite probability array$"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()
    with exact.memory_limit(8), pytest.raises(ValueError, match=r"^the suffix distribution needs 2 entries"):
        exact.suffix_distribution(exact.pivotal_example(), [], 0)


def test_zero_mass_and_overflowing_tails_raise_no_numpy_warnings():
    """``log 0`` of a zero probability, and the ``expm1`` route at ``α = ½`` with a term ``log p = -2000``
    (``expm1(1000)`` overflows, ``0 · ∞``), are handled without numpy warnings: ``H_½ = 2 log(1 + e^{-1000}) = 0``
    in float64."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isclose(exact.renyi_entropy([0.5, 0.5, 0.0], 2.0), math.log(2), rel_tol=1e-15)
        assert exact.renyi_entropy_from_logp(np.array([0.0, -2000.0]), 0.5) == 0.0


def test_the_sum_tolerance_is_inclusive():
    """``log Σ p`` may be off by 1e-9 exactly (a one-point law with ``log p = 1e-9``), not by 2e-9."""
    assert math.isclose(exact.renyi_entropy_from_logp(np.array([1e-9]), 2.0), -1e-9, rel_tol=1e-6)
    with pytest.raises(ValueError, match=r"^the distribution must sum to 1 within 1e-9; it sums to 1\.000000002"):
        exact.renyi_entropy_from_logp(np.array([2e-9]), 2.0)


def test_suffix_distribution_of_a_markov_chain_is_a_float_table():
    """A model without a dense joint (``MarkovAR``) builds ``q_{t,a}`` step by step: a float64 table equal to the
    closed form ``q_{1,a}(z_1, z_2) = P[a, z_1] P[z_1, z_2]``, zero transitions included."""
    transition = np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5], [0.0, 0.4, 0.6]])
    markov = exact.MarkovAR(np.array([0.5, 0.3, 0.2]), transition, 3)
    for a in range(3):
        assert exact.log_suffix_distribution(markov, [], a).dtype == np.float64
        q = exact.suffix_distribution(markov, [], a)
        assert q.dtype == np.float64
        np.testing.assert_allclose(q, transition[a][:, None] * transition, rtol=1e-14, atol=0)
