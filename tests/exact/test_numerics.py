"""``exact._numerics``: the one implementation of the samplers' numerics, against independent routes.

References: explicit Python loops over one row at a time (running sums, ``bisect``), closed
forms computed by hand, ``(Σ w)² / Σ w²`` on the natural scale, and -- for the draws that must
not change -- the torch code ``llm.sample_from_logprobs`` and ``llm.systematic_resample`` ran
before they called this module (copied below as the reference).
"""

from __future__ import annotations

import bisect
import math

import numpy as np
import pytest

from exact._numerics import (
    effective_sample_size,
    inverse_cdf,
    jackknife_probabilities,
    systematic_resample,
    top_candidate_mask,
    top_candidates,
)
from exact._tables import conditional_table, conditional_tables, cumulate, prefix_levels
from exact.samplers import chi_square_pvalue

ONE_MINUS = float(np.nextafter(1.0, 0.0))  # the largest uniform below 1


def _random_log_probs(rng, rows, width, zero_fraction=0.3):
    p = rng.dirichlet(np.full(width, 0.7), size=rows)
    p[rng.random((rows, width)) < zero_fraction] = 0.0
    p[:, rng.integers(width, size=rows)] += 0.1  # every row keeps some mass
    with np.errstate(divide="ignore"):
        return np.log(p / p.sum(axis=1, keepdims=True))


# -- inverse CDF --------------------------------------------------------------------------------------
def _inverse_cdf_loop(log_probs_row, u):
    """First j with F_j > u F_V, F accumulated left to right in float64; past the end: the last positive."""
    probs = [math.exp(v) for v in log_probs_row]
    cumulative, total = [], 0.0
    for p in probs:
        total += p
        cumulative.append(total)
    target = u * cumulative[-1]
    for j, c in enumerate(cumulative):
        if c > target:
            return j
    return max(j for j, p in enumerate(probs) if p > 0)


def test_inverse_cdf_matches_a_row_by_row_loop():
    rng = np.random.default_rng(0)
    log_p = _random_log_probs(rng, 400, 7)
    u = rng.random(400)
    u[:5] = [0.0, ONE_MINUS, 0.5, ONE_MINUS, 1e-300]
    got = inverse_cdf(log_p, u)
    assert got.dtype == np.int64 and got.shape == (400,)
    assert got.tolist() == [_inverse_cdf_loop(row, x) for row, x in zip(log_p, u)]
    assert np.all(np.isfinite(log_p[np.arange(400), got]))  # never a zero-probability token


def test_inverse_cdf_takes_the_last_positive_token_when_the_target_rounds_to_the_total():
    with np.errstate(divide="ignore"):
        log_p = np.log(np.array([[0.3, 0.7, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]]))
        tenths = np.log(np.array([0.1] * 10 + [0.0, 0.0]))
    assert inverse_cdf(log_p, np.ones(2)).tolist() == [1, 3]  # u = 1 exactly: u·F_V = F_V
    assert int(inverse_cdf(tenths, ONE_MINUS)) == 9  # Σ 0.1 ten times < 1: the target may pass F_V's rounding
    assert int(inverse_cdf(np.array([0.0, -np.inf]), ONE_MINUS)) == 0  # a point mass, whatever the uniform
    # u = 0: the first token whose cumulative mass *exceeds* 0, never a leading zero-probability token
    assert int(inverse_cdf(np.array([-np.inf, -np.inf, math.log(0.5), math.log(0.5)]), 0.0)) == 2


def test_inverse_cdf_matches_its_distribution():
    """20 000 draws per row, Pearson chi-square p > 1e-3 (a correct sampler fails with probability 1e-3)."""
    probs = np.array([[0.0, 0.05, 0.0, 0.25, 0.7, 0.0], [0.5, 0.0, 0.0, 0.0, 0.0, 0.5]])
    rng = np.random.default_rng(5)
    with np.errstate(divide="ignore"):
        log_p = np.log(probs)
    for row in range(2):
        draws = inverse_cdf(np.broadcast_to(log_p[row], (20_000, 6)), rng.random(20_000))
        assert chi_square_pvalue(draws[:, None], probs[row]) > 1e-3
        assert np.all(probs[row, draws] > 0)


def test_inverse_cdf_broadcasts_leading_axes_and_accepts_unnormalised_rows():
    rng = np.random.default_rng(1)
    log_p = _random_log_probs(rng, 24, 5).reshape(2, 3, 4, 5)
    u = rng.random((2, 3, 4))
    np.testing.assert_array_equal(inverse_cdf(log_p, u), inverse_cdf(log_p.reshape(-1, 5), u.reshape(-1)).reshape(2, 3, 4))
    np.testing.assert_array_equal(inverse_cdf(log_p - 3.0, u), inverse_cdf(log_p, u))  # u · F_V: scale-free up to rounding


def test_sample_from_logprobs_draws_what_the_torch_code_drew():
    """``llm.sample_from_logprobs`` (now the numpy inverse CDF on the generator's uniforms) gives the tokens the
    previous torch implementation gave, same generator: 5 000 rows with zeros, V = 50, and the u → 1 edge."""
    torch = pytest.importorskip("torch")
    import llm

    def torch_reference(logprobs, generator):  # llm.sample_from_logprobs before it called exact._numerics
        probs = torch.exp(logprobs.to(torch.float64))
        cdf = probs.cumsum(-1)
        u = torch.rand((probs.shape[0], 1), generator=generator, dtype=torch.float64) * cdf[:, -1:]
        token = torch.searchsorted(cdf, u, right=True).squeeze(-1)
        over = token >= probs.shape[-1]
        if bool(over.any()):
            token[over] = probs.shape[-1] - 1 - (probs[over].flip(-1) > 0).long().argmax(-1)
        return token

    logp = torch.from_numpy(_random_log_probs(np.random.default_rng(2), 5_000, 50))
    got = llm.sample_from_logprobs(logp, torch.Generator().manual_seed(3))
    want = torch_reference(logp, torch.Generator().manual_seed(3))
    assert got.dtype == torch.int64 and torch.equal(got, want)


# -- systematic resampling -------------------------------------------------------------------------------
def _systematic_loop(weights_row, u):
    """a_i = min{j : C_j > (i + U)/N} with bisect on one row, C = 1 from the last positive weight on."""
    n = len(weights_row)
    last = max(j for j, w in enumerate(weights_row) if w > 0)
    cumulative, total = [], 0.0
    for j, w in enumerate(weights_row):
        total += w
        cumulative.append(1.0 if j >= last else total)
    return [min(bisect.bisect_right(cumulative, (i + u) / n), last) for i in range(n)]


def test_systematic_resampling_matches_a_row_by_row_loop():
    rng = np.random.default_rng(4)
    log_w = _random_log_probs(rng, 300, 6) + rng.normal(size=(300, 1)) * 50  # any scale
    u = rng.random(300)
    u[:3] = [0.0, ONE_MINUS, 0.5]
    got = systematic_resample(log_w, u)
    weights = np.exp(log_w - log_w.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    assert got.dtype == np.int64 and got.shape == (300, 6)
    assert got.tolist() == [_systematic_loop(w.tolist(), x) for w, x in zip(weights, u)]


def test_systematic_resampling_edge_cases():
    rng = np.random.default_rng(0)
    anc = systematic_resample(np.array([[-np.inf, -np.inf, 0.0, -np.inf]]), rng.random(1))
    assert np.all(anc == 2)
    W = np.array([[0.1, 0.25, 0.4, 0.25], [0.7, 0.1, 0.1, 0.1]])
    for _ in range(50):
        counts = np.stack([np.bincount(row, minlength=4) for row in systematic_resample(np.log(W), rng.random(2))])
        assert np.all(counts >= np.floor(4 * W)) and np.all(counts <= np.ceil(4 * W))
    # ten weights 0.1 sum to 1 - 1e-16 and (N - 1 + U)/N rounds to 1 for U → 1: never the zero-weight last particle
    with np.errstate(divide="ignore"):
        tenths = np.log(np.array([0.1] * 10 + [0.0]))
    assert systematic_resample(tenths, ONE_MINUS).max() == 9
    # one uniform per row, any leading shape
    log_w = rng.normal(size=(2, 3, 5))
    u = rng.random((2, 3))
    np.testing.assert_array_equal(systematic_resample(log_w, u), systematic_resample(log_w.reshape(6, 5), u.reshape(6)).reshape(2, 3, 5))


def test_systematic_resample_is_unbiased():
    """E[# copies of j] = N W_j: the mean over 20 000 uniforms within 5 standard errors."""
    W = np.array([0.05, 0.3, 0.0, 0.45, 0.2])
    with np.errstate(divide="ignore"):
        log_w = np.broadcast_to(np.log(W), (20_000, 5))
    counts = np.stack([np.bincount(row, minlength=5) for row in systematic_resample(log_w, np.random.default_rng(6).random(20_000))])
    se = counts.std(axis=0) / np.sqrt(20_000)
    assert np.all(np.abs(counts.mean(axis=0) - 5 * W) <= 5 * se + 1e-12) and counts[:, 2].max() == 0


def test_llm_systematic_resample_draws_what_the_torch_code_drew():
    torch = pytest.importorskip("torch")
    import llm

    def torch_reference(log_weights, generator):  # llm.systematic_resample before it called exact._numerics
        weights = torch.softmax(log_weights.to(torch.float64), 0)
        n = len(weights)
        u = (torch.arange(n, dtype=torch.float64) + torch.rand((1,), generator=generator, dtype=torch.float64)) / n
        cumulative = torch.cumsum(weights, 0)
        cumulative[-1] = 1.0
        return torch.searchsorted(cumulative, u, right=True).clamp(max=n - 1)

    rng, g1, g2 = np.random.default_rng(7), torch.Generator().manual_seed(8), torch.Generator().manual_seed(8)
    for _ in range(500):
        log_w = torch.from_numpy(rng.normal(scale=3.0, size=16))
        assert torch.equal(llm.systematic_resample(log_w, g1), torch_reference(log_w, g2))


# -- ESS -------------------------------------------------------------------------------------------------------
def test_effective_sample_size_matches_the_natural_scale_formula():
    rng = np.random.default_rng(9)
    w = rng.random((20, 7)) * (rng.random((20, 7)) > 0.3)
    w[:, 0] += 0.1
    with np.errstate(divide="ignore"):
        log_w = np.log(w)
    got = effective_sample_size(log_w, axis=1)
    np.testing.assert_allclose(got, w.sum(axis=1) ** 2 / (w**2).sum(axis=1), rtol=1e-13)
    np.testing.assert_allclose(effective_sample_size(log_w.T + 1e4, axis=0), got, rtol=1e-12)  # no overflow
    assert effective_sample_size(np.zeros(5)) == pytest.approx(5.0)
    assert effective_sample_size(np.array([-np.inf, -np.inf, 0.0, -np.inf])) == pytest.approx(1.0)
    assert effective_sample_size(np.full(3, -np.inf)) == 0.0


# -- top-K candidates --------------------------------------------------------------------------------------------
def test_top_candidates_break_ties_by_id_and_never_keep_zero_probability():
    with np.errstate(divide="ignore"):
        log_p = np.log(np.array([0.2, 0.3, 0.2, 0.0, 0.3]))
    assert top_candidates(log_p, 3).tolist() == [1, 4, 0]
    assert top_candidates(log_p, 10).tolist() == [1, 4, 0, 2]  # fewer than k have mass
    assert top_candidates(np.array([-np.inf, 0.0]), 2).tolist() == [1]


def test_top_candidate_mask_is_the_same_rule_row_by_row():
    rng = np.random.default_rng(10)
    log_p = np.round(_random_log_probs(rng, 200, 6), 1)  # rounding makes ties
    for k in (1, 2, 4, 6):
        mask = top_candidate_mask(log_p.reshape(10, 20, 6), k).reshape(200, 6)
        for row, m in zip(log_p, mask):
            assert sorted(top_candidates(row, k).tolist()) == np.flatnonzero(m).tolist()


# -- the jackknife -------------------------------------------------------------------------------------------------
def _jackknife_natural(X, jackknife, clip):
    """The estimator on the natural scale, one Python sum at a time (entries X[r][k])."""
    M, K = len(X), len(X[0])

    def plain(rows):
        total = sum(X[r][k] for r in rows for k in range(K))
        return [sum(X[r][k] for r in rows) / total for k in range(K)]

    full = plain(range(M))
    if not jackknife:
        return np.array(full)
    loo = [plain([r for r in range(M) if r != s]) for s in range(M)]
    out = [M * full[k] - (M - 1) / M * sum(loo[s][k] for s in range(M)) for k in range(K)]
    if clip:
        out = [max(v, 0.0) for v in out]
        out = [v / sum(out) for v in out]
    return np.array(out)


def test_jackknife_closed_form():
    """M = 2, K = 2, X = [[1, 3], [2, 2]]: p̂ = (3/8, 5/8), p̂^(-1) = (1/2, 1/2), p̂^(-2) = (1/4, 3/4)."""
    log_x = np.log([[1.0, 3.0], [2.0, 2.0]])
    np.testing.assert_allclose(jackknife_probabilities(log_x, jackknife=False), [3 / 8, 5 / 8], rtol=1e-15)
    jk = 2 * np.array([3 / 8, 5 / 8]) - 0.5 * (np.array([0.5, 0.5]) + np.array([0.25, 0.75]))
    np.testing.assert_allclose(jackknife_probabilities(log_x), jk, rtol=1e-15)


@pytest.mark.parametrize("jackknife, clip", [(False, True), (True, False), (True, True)])
def test_jackknife_matches_the_natural_scale_estimator_on_a_batch(jackknife, clip):
    rng = np.random.default_rng(11)
    X = np.exp(rng.normal(scale=3.0, size=(40, 3, 3)))  # (batch, M, K): spread-out rollouts, the jackknife goes negative
    got = jackknife_probabilities(np.log(X), jackknife, clip)
    want = np.stack([_jackknife_natural(x, jackknife, clip) for x in X])
    np.testing.assert_allclose(got, want, atol=1e-13)
    if jackknife and not clip:
        assert (got < 0).any()


def test_jackknife_when_one_rollout_dominates_and_the_rest_underflow():
    """One documented behaviour (the two former copies disagreed: numpy returned NaN, torch fell back to p̂):
    the estimator is computed in log space, so it is its exact-arithmetic value.

    log X = [[0, -2000], [-1000, -1000 + log 3]]: on the natural scale every entry but X[0, 0] underflows,
    and the leave-one-out estimate without rollout 0 is 0/0.  In exact arithmetic p̂ = (1, 0),
    p̂^(-0) = (1/4, 3/4), p̂^(-1) = (1, 0), so p̂_JK = 2 (1, 0) - ½ ((1/4, 3/4) + (1, 0)) = (11/8, -3/8),
    which clips to (1, 0)."""
    log_x = np.array([[0.0, -2000.0], [-1000.0, -1000.0 + math.log(3.0)]])
    with np.errstate(all="ignore"):
        natural = np.exp(log_x)
        leave_out_0 = natural[1] / natural[1].sum()  # what the former numpy copy computed: 0/0
    assert np.isnan(leave_out_0).all()
    np.testing.assert_allclose(jackknife_probabilities(log_x, clip=False), [11 / 8, -3 / 8], rtol=0, atol=1e-14)
    np.testing.assert_allclose(jackknife_probabilities(log_x, clip=True), [1.0, 0.0], atol=0)


def test_jackknife_refuses_undefined_estimates():
    with pytest.raises(ValueError, match="at least 2 rollouts"):
        jackknife_probabilities(np.zeros((1, 3)))
    np.testing.assert_allclose(jackknife_probabilities(np.log([[1.0, 3.0]]), jackknife=False), [0.25, 0.75])
    with pytest.raises(ValueError, match="all 0"):  # without rollout 0 every value is 0
        jackknife_probabilities(np.array([[0.0, 0.0], [-np.inf, -np.inf]]))


def test_llm_jackknife_wrapper_is_the_shared_estimator():
    torch = pytest.importorskip("torch")
    import llm

    log_x = np.log(np.random.default_rng(12).random((5, 4)))
    for jackknife in (False, True):
        got = llm.jackknife_probabilities(torch.from_numpy(log_x), jackknife)
        assert got.dtype == torch.float64
        np.testing.assert_array_equal(got.numpy(), jackknife_probabilities(log_x, jackknife))


# -- table derivations ---------------------------------------------------------------------------------------------
def test_tables_round_trip_and_keep_impossible_rows_defined():
    rng = np.random.default_rng(13)
    joint = rng.random((3, 2, 3))
    joint[1] = 0.0  # a prefix of zero mass
    joint /= joint.sum()
    with np.errstate(divide="ignore"):
        levels = prefix_levels(np.log(joint))
    for t, level in enumerate(levels):
        np.testing.assert_allclose(np.exp(level), joint.sum(axis=tuple(range(t, 3))), atol=1e-15)
    tables = conditional_tables(levels)
    assert np.all(tables[1][1] == -np.inf) and not np.isnan(tables[2]).any()
    np.testing.assert_allclose(np.exp(cumulate(tables)[-1]), joint, atol=1e-15)
    uniform = conditional_table(levels[2], levels[1], undefined=-math.log(2))
    assert np.all(uniform[1] == -math.log(2))
    np.testing.assert_allclose(np.exp(tables[0]), joint.sum(axis=(1, 2)), atol=1e-15)


def test_jackknife_clips_by_default():
    """M = 2 draws X = [[.01, .01, .01], [5, 1, 5]]: p̂_JK = 2 p̂ - (p̂^(-0) + p̂^(-1))/2 is negative at token 1; clipped by default."""
    x = np.array([[0.01, 0.01, 0.01], [5.0, 1.0, 5.0]])
    plain = x.sum(axis=0) / x.sum()
    unclipped = 2 * plain - (x[1] / x[1].sum() + x[0] / x[0].sum()) / 2
    assert unclipped[1] < 0
    np.testing.assert_allclose(jackknife_probabilities(np.log(x), clip=False), unclipped, rtol=1e-12)
    np.testing.assert_allclose(jackknife_probabilities(np.log(x)), [0.5, 0.0, 0.5], rtol=1e-12, atol=1e-15)


def test_effective_sample_size_at_extreme_log_weights_and_empty_slices():
    """Scale-free at any magnitude: equal weights give ESS = N whether log w = 1e308 or -1e308 (where 2 log w
    overflows without the per-slice shift), along either axis; an empty slice has ESS 0."""
    log_w = np.array([[1e308, 1e308, 1e308], [-1e308, -1e308, -1e308], [-np.inf] * 3, [0.0, -np.inf, -np.inf]])
    np.testing.assert_allclose(effective_sample_size(log_w), [3.0, 3.0, 0.0, 1.0], rtol=1e-15, atol=0)
    np.testing.assert_allclose(effective_sample_size(log_w.T, axis=0), [3.0, 3.0, 0.0, 1.0], rtol=1e-15, atol=0)
    np.testing.assert_array_equal(effective_sample_size(np.zeros((2, 0))), [0.0, 0.0])


def test_top_candidates_break_ties_by_id_in_a_large_vocabulary():
    """Ties by token id (a stable sort) with V = 40 and many ties, where an unstable sort reorders equal entries."""
    log_p = np.round(np.random.default_rng(14).normal(size=40), 0)
    log_p[[3, 17]] = -np.inf
    want = sorted((j for j in range(40) if np.isfinite(log_p[j])), key=lambda j: (-log_p[j], j))
    for k in (1, 5, 20, 40):
        assert top_candidates(log_p, k).tolist() == want[:k]
        assert np.flatnonzero(top_candidate_mask(log_p, k)).tolist() == sorted(want[:k])


def test_systematic_resampling_of_one_to_three_particles_matches_the_loop():
    """N = 1, 2, 3 (the one- and two-position cases of the merge): the same ancestors as the row-by-row loop."""
    rng = np.random.default_rng(15)
    for n in (1, 2, 3):
        log_w = _random_log_probs(rng, 200, n, zero_fraction=0.3 if n > 1 else 0.0)
        u = rng.random(200)
        weights = np.exp(log_w - log_w.max(axis=1, keepdims=True))
        weights /= weights.sum(axis=1, keepdims=True)
        assert systematic_resample(log_w, u).tolist() == [_systematic_loop(w.tolist(), x) for w, x in zip(weights, u)]


def test_jackknife_undefined_estimate_message():
    """The refusal of an all-zero draw set, matched whole (plain estimate, and a leave-one-out set of the jackknife)."""
    message = r"^the candidate values of a rollout set are all 0 \(or NaN/\+inf\): the estimate is undefined$"
    with pytest.raises(ValueError, match=message):
        jackknife_probabilities(np.full((2, 3), -np.inf), jackknife=False)
    with pytest.raises(ValueError, match=message):
        jackknife_probabilities(np.array([[0.0, 0.0], [-np.inf, -np.inf]]))


def test_inverse_cdf_broadcasts_uniforms_over_the_leading_axes_of_the_rows():
    """Many rows, fewer uniforms: one uniform for all (2, 3) rows, and a (3,) vector broadcast over the first axis."""
    rng = np.random.default_rng(16)
    log_p = _random_log_probs(rng, 6, 5).reshape(2, 3, 5)
    got = inverse_cdf(log_p, 0.37)
    assert got.shape == (2, 3)
    assert got.reshape(-1).tolist() == [_inverse_cdf_loop(row, 0.37) for row in log_p.reshape(-1, 5)]
    u = rng.random(3)
    assert inverse_cdf(log_p, u).tolist() == [[_inverse_cdf_loop(log_p[i, j], u[j]) for j in range(3)] for i in range(2)]
