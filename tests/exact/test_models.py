"""TabularAR: joints, prefix marginals, conditionals, log_prob and sampling vs brute force."""

import itertools
import math
import warnings

import numpy as np
import pytest
from hypothesis import example, given
from scipy import stats

import bruteforce as bf
import exact
from exact._tables import conditional_tables, prefix_levels, prefix_marginal_tables
from exact.testing import strategies as sx


RTOL, ATOL = 1e-10, 1e-12


def _prefixes(sizes, length):
    return itertools.product(*[range(v) for v in sizes[:length]])


@given(sx.tabular_models())
@example(exact.pivotal_example())
def test_marginals_and_conditionals_match_brute_force(model):
    logp = bf.log_joint_from_array(model.log_joint())
    marginals = bf.prefix_marginals(logp)
    assert math.isclose(math.fsum(math.exp(v) for v in logp.values()), 1.0, rel_tol=1e-12)
    assert np.array_equal(model.joint(), np.exp(model.log_joint()))
    for t in range(model.horizon + 1):
        table = model.log_prefix_marginals(t)
        assert table.shape == model.vocab_sizes[:t]
        for prefix in _prefixes(model.vocab_sizes, t):
            expected = marginals[prefix]
            assert (table[prefix] == expected) if expected == -math.inf else math.isclose(table[prefix], expected, rel_tol=0, abs_tol=RTOL * max(1, abs(expected)))
            if t < model.horizon and expected > -math.inf:
                vocab = model.vocab_sizes[t]
                cond = model.conditional(prefix)
                np.testing.assert_allclose(cond, bf.base_conditional(marginals, prefix, vocab), rtol=RTOL, atol=ATOL)
                assert math.isclose(cond.sum(), 1.0, rel_tol=1e-12)
            elif t < model.horizon:
                with pytest.raises(ValueError, match="probability zero"):
                    model.conditional(prefix)


@given(sx.tabular_models())
def test_log_prob_is_the_chain_of_conditionals(model):
    """``log π(y) = Σ_t log π(y_t | y_<t)`` for every sequence whose prefixes are possible."""
    seqs = np.array(bf.sequences(model.vocab_sizes))
    log_probs = model.log_prob(seqs)
    assert log_probs.shape == (len(seqs),)
    logp = bf.log_joint_from_array(model.log_joint())
    for y, value in zip(bf.sequences(model.vocab_sizes), log_probs):
        assert value == logp[y]
        if value > -math.inf:
            chain = math.fsum(float(model.log_conditional(y[:t])[y[t]]) for t in range(model.horizon))
            assert math.isclose(chain, value, rel_tol=0, abs_tol=RTOL * max(1.0, abs(value)))
    assert float(model.log_prob(seqs[0])) == log_probs[0]  # a single (T,) sequence


@given(sx.tabular_models(), sx.seeds())
def test_next_token_logprobs_batch_equals_rows(model, seed):
    rng = np.random.default_rng(seed)
    draws = model.sample(6, rng)
    for length in range(model.horizon):
        batch = model.next_token_logprobs(draws[:, :length])
        assert batch.shape == (6, model.vocab_sizes[length])
        for row, context in zip(batch, draws[:, :length]):
            np.testing.assert_array_equal(row, model.log_conditional(context))
    assert model.next_token_logprobs(np.empty((0, 0), dtype=int)).shape == (0, model.vocab_sizes[0])


@given(sx.explicit_joints(tiny=True))
def test_from_joint_round_trip_keeps_zeros_and_tiny_values(joint):
    model = exact.TabularAR.from_joint(joint)
    assert model.vocab_sizes == joint.shape and model.horizon == joint.ndim
    np.testing.assert_allclose(model.joint(), joint, rtol=1e-12, atol=0)  # exp(log x): ~|log x|·ulp
    assert np.array_equal(np.isneginf(model.log_joint()), joint == 0)
    assert not model.log_joint().flags.writeable


def test_per_step_vocabularies_and_from_conditionals():
    first = np.log([0.2, 0.8])
    second = np.log([[0.5, 0.25, 0.25], [0.1, 0.0 + 1e-300, 0.9 - 1e-300]])
    model = exact.TabularAR.from_conditionals([first, second])
    assert model.vocab_sizes == (2, 3) and model.n_sequences == 6
    with pytest.raises(ValueError, match="per-step vocabulary sizes differ"):
        _ = model.vocab_size
    np.testing.assert_allclose(model.joint(), np.exp(first)[:, None] * np.exp(second), rtol=1e-12)
    np.testing.assert_allclose(model.conditional([1]), np.exp(second[1]), rtol=1e-12)
    assert np.isfinite(model.log_conditional([1])).all()  # 1e-300 survives in log space


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sample_matches_joint_chi_square(seed):
    """N = 20 000 ancestral draws vs the exact joint; Pearson χ² p-value > 1e-4 at fixed seeds."""
    model = exact.TabularAR.random((3, 2, 4), seed=seed, concentration=0.6, zero_fraction=0.3)
    draws = model.sample(20_000, np.random.default_rng(100 + seed))
    assert draws.shape == (20_000, 3) and draws.dtype == np.int64
    probs = model.joint()
    counts = np.bincount(np.ravel_multi_index(tuple(draws.T), probs.shape), minlength=probs.size)
    support = probs.ravel() > 0
    assert counts[~support].sum() == 0
    assert stats.chisquare(counts[support], probs.ravel()[support] * len(draws)).pvalue > 1e-4


def test_random_is_reproducible_and_tiny_concentration_is_finite():
    a = exact.TabularAR.random(4, 3, seed=11, concentration=0.5, zero_fraction=0.4)
    b = exact.TabularAR.random(4, 3, seed=11, concentration=0.5, zero_fraction=0.4)
    assert np.array_equal(a.log_joint(), b.log_joint())
    assert np.isneginf(a.log_joint()).any()  # zeros do occur at this zero_fraction
    tiny = exact.TabularAR.random(3, 3, seed=0, concentration=1e-3)
    assert not np.isnan(tiny.log_joint()).any()
    assert math.isclose(float(np.exp(exact.logsumexp(tiny.log_joint(), axis=None))), 1.0, rel_tol=1e-12)
    assert isinstance(tiny, exact.AutoregressiveModel)


def test_logsumexp_and_log_normalize_edge_cases():
    x = np.array([[-np.inf, -np.inf], [0.0, -np.inf], [-1000.0, -1000.0]])
    np.testing.assert_array_equal(exact.logsumexp(x, axis=-1)[:2], [-np.inf, 0.0])
    assert math.isclose(exact.logsumexp(x, axis=-1)[2], -1000 + math.log(2), rel_tol=1e-15)
    assert math.isclose(float(exact.logsumexp(np.array([-690.0, -700.0]), scale=1e4)), -6.9e6, rel_tol=1e-15)
    normalized = exact.log_normalize(x)
    assert np.isneginf(normalized[0]).all()
    np.testing.assert_allclose(np.exp(normalized[2]), [0.5, 0.5], rtol=1e-15)


def test_repr_names_the_vocabularies_and_eos():
    """``repr`` shows the per-step vocabularies, and the EOS id only when there is one (id 0 included)."""
    assert repr(exact.TabularAR.random((2, 3), seed=0)) == "TabularAR(vocab_sizes=(2, 3))"
    assert repr(exact.TabularAR.random(3, 2, seed=0, eos_token_id=0)) == "TabularAR(vocab_sizes=(3, 3), eos_token_id=0)"


_P2 = np.array([0.5, 0.5])


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: exact.TabularAR(np.array(["a", "b"])), r"^the log joint must be an array of real numbers"),
        (lambda: exact.TabularAR(np.array([0.0, np.nan])), r"^the log joint has NaN or \+inf entries$"),
        (lambda: exact.TabularAR(np.array([0.0, np.inf])), r"^the log joint has NaN or \+inf entries$"),
        (lambda: exact.TabularAR.random(2, 2).log_prefix_marginals(True), r"^prefix length must be an integer in \[0, 2\], got True$"),
        (lambda: exact.TabularAR.random(2, 2).log_prefix_marginals(1.0), r"^prefix length must be an integer in \[0, 2\], got 1.0$"),
        (lambda: exact.TabularAR.from_joint(np.array(["a", "b"])), r"^the joint must be an array of real numbers"),
        (lambda: exact.TabularAR.from_joint(np.array([np.nan, 1.0])), r"^the joint has NaN or infinite entries$"),
        (lambda: exact.TabularAR.random(2, 2, concentration=0.0), r"^concentration must be > 0, got 0.0$"),
        (lambda: exact.TabularAR.random(2, 2, zero_fraction="a"), r"^zero_fraction must be a real number, got 'a'$"),
        (lambda: exact.TabularAR.random(2, 2).sample(-1, np.random.default_rng(0)), r"^n must be "),
        (lambda: exact.MarkovAR(np.array(["a", "b"]), np.eye(2), 2), r"^initial must be an array of real numbers"),
        (lambda: exact.MarkovAR(_P2, np.array([["a", "b"], ["c", "d"]]), 2), r"^transition must be an array of real numbers"),
        (lambda: exact.MarkovAR.random(0, 2), r"^vocab_size must be "),
        (lambda: exact.MarkovAR.random(2, 2, concentration=-1.0), r"^concentration must be > 0, got -1.0$"),
        (lambda: exact.MarkovAR.random(2, 2).sample(-1, np.random.default_rng(0)), r"^n must be "),
    ],
)
def test_errors_name_the_argument(call, message):
    """Each model error names the offending argument as the caller wrote it (matched from the message's start)."""
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: exact.TabularAR.random(3, 2), r"^the joint of this model needs 9 entries"),
        (lambda: exact.TabularAR.from_joint(np.full(2, 0.5)).sample(3, np.random.default_rng(0)), r"^the sampled sequences needs 6 entries"),
        (lambda: exact.MarkovAR.random(3, 2), r"^the transition matrix needs 9 entries"),
        (lambda: exact.MarkovAR(_P2, np.full((2, 2), 0.5), 3).log_suffix_masses(2.0), r"^the suffix power masses β \(horizon × vocabulary\) needs 6 entries"),
        (lambda: exact.MarkovAR(_P2, np.full((2, 2), 0.5), 1).sample(3, np.random.default_rng(0)), r"^the sampled sequences needs 6 entries"),
        (lambda: exact.MarkovAR(_P2, np.full((2, 2), 0.5), 3).log_prefix_marginals(3), r"^the table of all 2\^3 prefixes needs 8 entries"),
        (lambda: prefix_marginal_tables(exact.MarkovAR(_P2, np.full((2, 2), 0.5), 3)), r"^the dense prefix tables of this model needs 8 entries"),
    ],
)
def test_allocation_guards_name_the_array_and_its_size(call, message):
    """Under a 40-byte cap (5 float64 entries) each guard names what it would allocate and how many entries."""
    with exact.memory_limit(40), pytest.raises(ValueError, match=message):
        call()


def test_random_defaults_are_pinned():
    """``random(V, T)`` is the documented default draw: seed 0, Dirichlet(1), no zeros (a changed default changes every example)."""
    np.testing.assert_array_equal(
        exact.TabularAR.random(3, 2).log_joint(), exact.TabularAR.random(3, 2, seed=0, concentration=1.0, zero_fraction=0.0).log_joint()
    )
    assert np.isfinite(exact.TabularAR.random(3, 2).log_joint()).all()
    default, explicit = exact.MarkovAR.random(3, 2), exact.MarkovAR.random(3, 2, seed=0, concentration=1.0)
    np.testing.assert_array_equal(default.log_transition, explicit.log_transition)
    np.testing.assert_array_equal(default.log_initial, explicit.log_initial)


@pytest.mark.parametrize("concentration", [0.3, 1.0, 4.0])
def test_random_conditionals_are_dirichlet(concentration):
    """Each next-token row is Dirichlet(c): its first coordinate is Beta(c, (V-1)c); KS p-value > 1e-4 at fixed seeds."""
    V = 3
    model = exact.TabularAR.random(V, 7, seed=1, concentration=concentration)  # 3^6 = 729 independent last-step rows
    levels = [model.log_prefix_marginals(t) for t in (6, 7)]
    first = np.exp(levels[1][..., 0] - levels[0]).ravel()
    assert stats.kstest(first, stats.beta(concentration, (V - 1) * concentration).cdf).pvalue > 1e-4
    markov = exact.MarkovAR.random(400, 2, seed=1, concentration=concentration)  # 400 rows over 400 tokens
    row_first = np.exp(markov.log_transition[:, 0])
    assert stats.kstest(row_first, stats.beta(concentration, 399 * concentration).cdf).pvalue > 1e-4


def test_power_tables_stay_exact_past_the_cache_size():
    """Ten exponents on one model (more than the cache keeps): every ``log Z_α`` still equals ``logsumexp(α log π)``."""
    model = exact.TabularAR.random(3, 2, seed=2)
    markov = exact.MarkovAR.random(3, 3, seed=2)
    alphas = [0.5 + 0.25 * k for k in range(10)]
    for _ in range(2):  # the second pass reads evicted and cached exponents
        for alpha in alphas:
            expected = float(exact.logsumexp(alpha * model.log_joint(), axis=None))
            assert math.isclose(float(model.log_prefix_totals(alpha, 0)), expected, rel_tol=1e-12, abs_tol=1e-12)
            expected = float(exact.logsumexp(alpha * markov.log_joint(), axis=None))
            assert math.isclose(markov.log_partition(alpha), expected, rel_tol=1e-12, abs_tol=1e-12)


def test_sizes_with_repeated_and_single_vocabularies():
    """``n_sequences = Π_t V_t`` (repeated sizes included) and ``vocab_size`` of a one-step model."""
    model = exact.TabularAR.random((3, 3, 2), seed=0)
    assert model.n_sequences == 18 and model.horizon == 3
    one = exact.TabularAR.random(4, 1, seed=0)
    assert one.vocab_size == 4 and one.n_sequences == 4
    assert exact.MarkovAR.random(5, 3, seed=0).n_sequences == 125


def test_empty_batch_of_full_length_contexts_is_a_clear_error():
    model = exact.TabularAR.random(2, 2, seed=0)
    assert model.next_token_logprobs(np.empty((0, 1), dtype=int)).shape == (0, 2)
    with pytest.raises(ValueError, match=r"^prefix length must be an integer in \[0, 1\], got 2$"):
        model.next_token_logprobs(np.empty((0, 2), dtype=int))


def test_random_draw_is_the_documented_gamma_construction():
    """``random(V, 2, seed=s, concentration=c)`` draws ``Dirichlet(c)`` rows as documented from ``default_rng(s)``:
    per step, ``log G = log Gamma(c + 1) + log(U) / c`` (all Gamma variates of the step, then its uniforms; no
    other draws when ``zero_fraction = 0``), each row normalised, ``log π = Σ_t log π(y_t | y_<t)``."""
    for c in (0.5, 2.0):
        rng = np.random.default_rng(7)
        steps = []
        for shape in ((4,), (4, 4)):
            log_g = np.log(rng.standard_gamma(c + 1.0, size=shape)) + np.log(rng.random(size=shape)) / c
            steps.append(log_g - np.log(np.sum(np.exp(log_g), axis=-1, keepdims=True)))
        expected = steps[0][:, None] + steps[1]
        np.testing.assert_allclose(exact.TabularAR.random(4, 2, seed=7, concentration=c).log_joint(), expected, rtol=0, atol=1e-13)


def test_ancestral_sampling_normalises_far_below_zero_levels():
    """Power levels ``α log π`` far below 0 (α = 1000: ``log π̃ ≈ -511``) are normalised per row before sampling:
    ``π_α(0) = 0.6^α / (0.6^α + 0.4^α) ≈ 1 - 1e-176``, so every draw is token 0."""
    model = exact.TabularAR.from_joint(np.array([0.6, 0.4]))
    draws = exact.sample_power(model, 1000.0, 50, np.random.default_rng(0))
    assert np.array_equal(draws, np.zeros((50, 1), dtype=np.int64))


@pytest.mark.parametrize("model", [exact.TabularAR.random((2, 3), seed=0), exact.MarkovAR.random(3, 4, seed=0)], ids=repr)
def test_zero_draws_are_an_empty_batch(model):
    """``sample(0, rng)`` is allowed (``n`` is a non-negative count): an empty ``(0, T)`` int64 array."""
    draws = model.sample(0, np.random.default_rng(0))
    assert draws.shape == (0, model.horizon) and draws.dtype == np.int64


_ZERO_PREFIX_MESSAGE = r"^prefix \[1, 1\] has probability zero under the model; its conditional is undefined$"


@pytest.mark.parametrize(
    "model",
    [
        exact.TabularAR.from_joint(np.array([[[0.125, 0.125], [0.125, 0.125]], [[0.5, 0.0], [0.0, 0.0]]])),
        exact.MarkovAR(np.array([0.5, 0.5]), np.array([[0.5, 0.5], [1.0, 0.0]]), 3),
    ],
    ids=repr,
)
def test_conditionals_under_a_zero_probability_prefix_are_refused(model):
    """``π(y_1 = 1, y_2 = 1) = 0``: the conditional and the power suffix masses after that prefix are undefined,
    so both methods refuse it (rather than returning a row of ``-inf``); the possible prefix ``[1, 0]`` is answered."""
    assert model.log_prefix_marginals(2)[1, 1] == -np.inf and model.log_prefix_marginals(2)[1, 0] > -np.inf
    for call in (lambda p: model.log_conditional(p), lambda p: model.log_power_suffix_mass(p, 2.0)):
        with pytest.raises(ValueError, match=_ZERO_PREFIX_MESSAGE):
            call([1, 1])
        assert call([1, 0]).shape == (2,)


def test_zero_probabilities_raise_no_warning():
    """Zeros are ordinary input (``log 0 = -inf``): no RuntimeWarning from ``from_joint``, the MarkovAR constructor,
    or the suffix recursion when a row's linear-space sum underflows to 0.  The chain ``P = [[1, 0, 0], [0, ½, ½],
    [0, ½, ½]]`` has ``β_k(0) = 0`` and ``β_k(1) = β_k(2) = k (1 − α) log 2``; at α = 2000 the terms
    ``e^{β_1(1)}`` underflow, so rows 1 and 2 sum to 0 in linear space and are redone in log space."""
    P = np.array([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.0, 0.5, 0.5]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = exact.TabularAR.from_joint(np.array([[0.5, 0.0], [0.25, 0.25]]))
        markov = exact.MarkovAR(np.array([0.5, 0.25, 0.25]), P, 4)
        beta = markov.log_suffix_masses(2000.0)
    assert model.log_joint()[0, 1] == -np.inf and markov.log_transition[0, 1] == -np.inf
    expected = np.array([[0.0, k * (1 - 2000.0) * math.log(2), k * (1 - 2000.0) * math.log(2)] for k in range(4)])
    np.testing.assert_allclose(beta, expected, rtol=1e-13, atol=0)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m: m.log_prob(np.array([[0, -1]])), r"^token ids out of range for per-step vocabulary sizes \(2, 2\)$"),
        (lambda m: m.log_prob(np.array([[2, 0]])), r"^token ids out of range for per-step vocabulary sizes \(2, 2\)$"),
        (lambda m: m.next_token_logprobs(np.array([0, 1])), r"^contexts must be a 2-D \(batch, length\) array, got shape \(2,\)$"),
    ],
)
def test_bad_sequences_and_contexts_are_refused(call, message):
    """Token ids below 0 are refused like those past ``V_t`` (numpy would wrap ``-1`` to the last token), and a 1-D
    batch of contexts is refused with its shape; both models share these checks."""
    for model in (exact.TabularAR.random(2, 2, seed=0), exact.MarkovAR.random(2, 2, seed=0)):
        with pytest.raises(ValueError, match=message):
            call(model)


def test_power_tables_are_read_only():
    """Every table a model hands out (TabularAR's ``log_prefix_totals``, cached for ``t < T`` and built on demand for
    ``t = T``; MarkovAR's ``log_initial``, ``log_transition`` and cached ``β``) is read-only, so a caller cannot
    corrupt what later queries read."""
    model = exact.TabularAR.random(2, 3, seed=0)
    markov = exact.MarkovAR.random(2, 3, seed=0)
    for _ in range(2):  # the first call fills the caches, the second reads them
        tables = [model.log_prefix_totals(2.0, t) for t in range(1, model.horizon + 1)]
        tables += [markov.log_initial, markov.log_transition, markov.log_suffix_masses(2.0)]
        for table in tables:
            assert not table.flags.writeable
            with pytest.raises(ValueError, match="read-only"):
                table[...] = 0.0
    np.testing.assert_allclose(model.log_prefix_totals(2.0, 1), exact.logsumexp(2.0 * model.log_joint().reshape(2, -1), axis=-1), rtol=1e-13)


def test_conditional_tables_put_undefined_under_zero_mass_prefixes():
    """``L_t − L_{t−1}`` row by row; a row under a prefix of zero mass is the given ``undefined`` (``-inf`` by default)."""
    levels = prefix_levels(np.array([[math.log(0.5), math.log(0.5)], [-np.inf, -np.inf]]))  # prefix y_1 = 1 has mass 0
    for undefined in (-np.inf, 0.0, 7.0):
        kwargs = {} if undefined == -np.inf else {"undefined": undefined}
        first, second = conditional_tables(levels, **kwargs)
        np.testing.assert_allclose(first, [0.0, -np.inf], rtol=0, atol=1e-15)
        np.testing.assert_allclose(second[0], np.log([0.5, 0.5]), rtol=1e-15)
        assert np.array_equal(second[1], [undefined, undefined])


def test_normalisation_tolerance_is_inclusive():
    """A joint may sum to ``1 ± NORMALIZATION_TOL`` inclusive: ``log π = log1p(1e-9)`` (``expm1`` of it is exactly
    ``1e-9``) is accepted, the next float above is refused."""
    edge = math.log1p(exact.models.NORMALIZATION_TOL)
    assert np.expm1(edge) == exact.models.NORMALIZATION_TOL
    assert exact.TabularAR(np.array([edge])).vocab_sizes == (1,)
    with pytest.raises(ValueError, match=r"^the joint must sum to 1 within 1e-09; it sums to 1.000000001"):
        exact.TabularAR(np.array([np.nextafter(edge, 1.0)]))
