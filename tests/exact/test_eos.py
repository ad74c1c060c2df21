"""Every quantity of the paper on EOS models, against completions enumerated directly.

Reference (``tests/bruteforce.py``): the variable-length completions themselves
(every sequence of length ``≤ T`` ending at its first EOS, plus the length-``T``
sequences without EOS, by ``itertools.product``), with ``π(y)`` the product of
the *raw* conditional tables along ``y`` only; the padding and the rows after
EOS are never read.  The models under test are built from the same raw tables
by ``TabularAR.from_conditionals(..., eos_token_id=)`` (which must ignore their
rows after EOS), so the dense-table engine (prefix totals, Eq. 8) and the
reference share nothing but the tables.  Compared: ``π_α`` over completions
(Eq. 4), the Eq. 5 / Eq. 6 conditionals at every kind of prefix, Prop. 1's odds
correction, Prop. 2's weight moments, the tilt (Eq. 12, Cor. 1), ``R(α)`` and
its slope (Prop. 4) for a reward defined on completions; then ``exact.eos``
itself.  Tolerances: log-values ``1e-9 (1 + |x|)``, probabilities ``1e-11``
absolute (float64 closed forms; exponents up to 50 and Dirichlet(0.05) tables
push log-probabilities to ~-1e4).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import exact
from exact.testing import strategies as st_exact
import bruteforce as bf

NEG_INF = float("-inf")


def close_log(got, want, rel=1e-9):
    """Log-values equal within ``rel (1 + |want|)``; ``-inf`` only matches ``-inf``."""
    got, want = float(got), float(want)
    if want == NEG_INF or got == NEG_INF:
        return got == want
    return abs(got - want) <= rel * (1.0 + abs(want))


def build(conditionals):
    """The model under test and the brute-force ``{completion: log π}`` from the same raw tables."""
    tables, eos = conditionals
    sizes = tables[-1].shape
    model = exact.TabularAR.from_conditionals(tables, eos_token_id=eos)
    logp = bf.completion_log_probs(lambda prefix: tables[len(prefix)][prefix], sizes, eos)
    return model, logp, sizes, eos


def open_prefixes(logp, sizes, eos):
    """Every prefix ``u`` (length ``< T``, no EOS) of positive probability: where a next-token law exists."""
    out = set()
    for y, lp in logp.items():
        if lp == NEG_INF:
            continue
        for t in range(len(y)):
            if eos not in y[:t]:
                out.add(y[:t])
    return sorted(out, key=lambda u: (len(u), u))


alphas = st_exact.alphas(max_alpha=50.0)
eos_tables = st_exact.eos_conditionals(max_vocab=4, max_horizon=4)


# -- π_α over completions (Eq. 4) ----------------------------------------------------------------
@given(eos_tables, alphas)
def test_power_joint_is_pi_alpha_over_completions(conditionals, alpha):
    model, logp, sizes, eos = build(conditionals)
    T = len(sizes)
    log_z = bf.lse([alpha * lp for lp in logp.values()])
    assert close_log(exact.log_partition(model, alpha), log_z)
    dense = exact.log_power_joint(model, alpha)
    probs = exact.power_joint(model, alpha)
    states = np.zeros(sizes, dtype=bool)
    for y, lp in logp.items():
        index = bf.padded(y, T, eos)
        states[index] = True
        assert close_log(model.log_prob(np.array(index)), lp)  # the padding contributes log 1 = 0
        assert close_log(dense[index], alpha * lp - log_z if lp != NEG_INF else NEG_INF)
        assert model.completion_lengths(np.array(index)) == len(y)
    assert np.all(probs[~states] == 0.0)  # non-states (a token after EOS) carry no mass
    assert math.fsum(probs[states].ravel()) == pytest.approx(1.0, abs=1e-12)


# -- Eq. 5 / Eq. 6 at every prefix, incl. right before and after EOS ------------------------------
@given(eos_tables, alphas)
def test_temperature_and_power_conditionals_at_every_prefix(conditionals, alpha):
    model, logp, sizes, eos = build(conditionals)
    tables = conditionals.log_conditionals
    totals = bf.prefix_totals(logp, alpha)
    marginals = bf.prefix_marginals(logp)
    for u in open_prefixes(logp, sizes, eos):
        V = sizes[len(u)]
        want_pow = bf.log_power_conditional(totals, u, V)
        want_temp = bf.log_temp_conditional(marginals, u, V, alpha)
        got_pow = exact.log_power_conditional(model, u, alpha)
        got_temp = exact.log_temp_conditional(model, u, alpha)
        for s in range(V):
            assert close_log(got_pow[s], want_pow[s]), (u, s)
            assert close_log(got_temp[s], want_temp[s]), (u, s)
            assert close_log(model.log_conditional(u)[s], tables[len(u)][u][s]), (u, s)  # the raw row itself
    # a finished prefix (ends at EOS, length < T): every next-token law is the point mass on EOS
    for y, lp in logp.items():
        if lp != NEG_INF and y[-1] == eos and len(y) < len(sizes):
            point = np.eye(sizes[len(y)])[eos]
            for law in (exact.power_conditional, exact.temp_conditional):
                np.testing.assert_array_equal(law(model, y, alpha), point)


# -- Prop. 1: power/temperature odds gap = (1-α)(H_α(q_a) - H_α(q_b)) over variable-length suffixes
@given(eos_tables, alphas, st.data())
def test_odds_correction_against_variable_length_suffixes(conditionals, alpha, data):
    model, logp, sizes, eos = build(conditionals)
    totals = bf.prefix_totals(logp, alpha)
    marginals = bf.prefix_marginals(logp)
    u = data.draw(st.sampled_from(open_prefixes(logp, sizes, eos)))
    V = sizes[len(u)]
    support = [s for s in range(V) if marginals[u + (s,)] != NEG_INF]
    a = data.draw(st.sampled_from(support))
    b = eos if eos in support and data.draw(st.booleans()) else data.draw(st.sampled_from(support))
    # suffix law q_{t,a} over the completions after (u, a): the point mass on () when a = EOS
    mass = {s: bf.log_renyi_mass(bf.log_suffix_distribution(logp, marginals, u, s).values())(alpha) for s in (a, b)}
    predicted = mass[a] - mass[b]
    log_pow = bf.log_power_conditional(totals, u, V)
    log_temp = bf.log_temp_conditional(marginals, u, V, alpha)
    direct = (log_pow[a] - log_pow[b]) - (log_temp[a] - log_temp[b])
    scale = 1e-9 * (1 + abs(log_pow[a]) + abs(log_pow[b]) + abs(log_temp[a]) + abs(log_temp[b]))
    assert abs(direct - predicted) <= scale  # Prop. 1 holds for the brute force itself
    got = exact.odds_correction(model, u, a, b, alpha)
    assert abs(got.direct - predicted) <= scale and abs(got.renyi_prediction - predicted) <= scale
    if eos in (a, b):
        assert mass[eos] == 0.0  # Σ_z q_{t,EOS}(z)^α = 1^α: the finished suffix is empty


# -- Prop. 2: moments of the incremental weight W = π_pow(Y)/q(Y) ---------------------------------
@given(eos_tables, alphas, st.data(), st.sampled_from(("optimal", "base", "temperature", "uniform")))
def test_incremental_weight_stats_against_brute_force(conditionals, alpha, data, proposal):
    model, logp, sizes, eos = build(conditionals)
    totals = bf.prefix_totals(logp, alpha)
    marginals = bf.prefix_marginals(logp)
    u = data.draw(st.sampled_from(open_prefixes(logp, sizes, eos)))
    V = sizes[len(u)]
    f = bf.power_conditional(totals, u, V)
    q = {
        "optimal": f,
        "base": bf.base_conditional(marginals, u, V),
        "temperature": bf.temp_conditional(marginals, u, V, alpha),
        "uniform": [1.0 / V] * V,
    }[proposal]
    mean, second = bf.weight_moments(f, q)
    got = exact.incremental_weight_stats(model, u, alpha, proposal)
    assert got.mean == pytest.approx(mean, rel=1e-9)
    assert got.ess_fraction == pytest.approx(mean**2 / second, rel=1e-8)
    if proposal == "optimal":
        assert got.cv2 <= 1e-12
    else:
        assert got.cv2 == pytest.approx(second / mean**2 - 1.0, rel=1e-6, abs=1e-9)


# -- the tilt (Eq. 12, Cor. 1) and Prop. 4 with a reward defined on completions ---------------------
def completion_reward(y, eos) -> float:
    """A true reward that reads only the completion: ``0.3·|y| - [y ends at EOS] + 0.5·#{token 0}``."""
    return 0.3 * len(y) - float(y[-1] == eos) + 0.5 * y.count(0)


def reward_on_padded(eos):
    """The reward as a callable on ``(n, T)`` padded arrays: each row is trimmed by hand at its first EOS."""

    def reward(rows):
        out = []
        for row in rows.tolist():
            end = row.index(eos) + 1 if eos in row else len(row)
            out.append(completion_reward(tuple(row[:end]), eos))
        return np.array(out)

    return reward


@given(eos_tables, st.floats(0.05, 20.0))
def test_self_reward_tilt_and_reward_tilt_over_completions(conditionals, beta):
    model, logp, sizes, eos = build(conditionals)
    T = len(sizes)
    alpha = 1.0 + 1.0 / beta  # Cor. 1
    log_z = bf.lse([alpha * lp for lp in logp.values()])
    tilt = exact.self_reward_tilt(model, beta)
    log_zr = bf.lse([lp + completion_reward(y, eos) / beta for y, lp in logp.items()])
    tilted = exact.log_tilted_optimum(model, reward_on_padded(eos), beta)
    assert close_log(exact.log_tilt_partition(model, reward_on_padded(eos), beta), log_zr)
    for y, lp in logp.items():
        index = bf.padded(y, T, eos)
        want = math.exp(alpha * lp - log_z) if lp != NEG_INF else 0.0
        assert tilt[index] == pytest.approx(want, abs=1e-11)
        want_r = lp + completion_reward(y, eos) / beta - log_zr if lp != NEG_INF else NEG_INF
        assert close_log(tilted[index], want_r)


@given(eos_tables, alphas)
def test_true_reward_and_its_slope_over_completions(conditionals, alpha):
    model, logp, sizes, eos = build(conditionals)
    support = {y: lp for y, lp in logp.items() if lp != NEG_INF}
    log_z = bf.lse([alpha * lp for lp in support.values()])
    weights = {y: math.exp(alpha * lp - log_z) for y, lp in support.items()}
    mean_r = math.fsum(w * completion_reward(y, eos) for y, w in weights.items())
    mean_s = math.fsum(w * support[y] for y, w in weights.items())
    cov = math.fsum(w * (completion_reward(y, eos) - mean_r) * (support[y] - mean_s) for y, w in weights.items())
    spread = math.fsum(w * abs(support[y] - mean_s) for y, w in weights.items())
    assert exact.true_reward(model, reward_on_padded(eos), alpha) == pytest.approx(mean_r, rel=1e-9, abs=1e-9)
    assert exact.reward_slope(model, reward_on_padded(eos), alpha) == pytest.approx(cov, abs=1e-8 * (1 + spread))


# -- exact.eos itself --------------------------------------------------------------------------------
@given(st_exact.vocab_sizes(2, 4, 1, 4), st.data())
def test_pad_and_trim_round_trip_and_lengths(sizes, data):
    eos = data.draw(st_exact.eos_token_ids(sizes))
    every = bf.completions(sizes, eos)
    chosen = data.draw(st.lists(st.sampled_from(every), min_size=0, max_size=8))
    padded = exact.pad_completions(chosen, len(sizes), eos)
    assert padded.shape == (len(chosen), len(sizes)) and padded.dtype == np.int64
    assert [tuple(row) for row in padded.tolist()] == [bf.padded(y, len(sizes), eos) for y in chosen]
    assert exact.trim_completions(padded, eos) == [tuple(y) for y in chosen]
    np.testing.assert_array_equal(exact.completion_lengths(padded, eos), [len(y) for y in chosen])
    if chosen:  # one (T,) row
        assert exact.completion_lengths(padded[0], eos) == len(chosen[0])
    np.testing.assert_array_equal(exact.completion_lengths(padded, None), np.full(len(chosen), len(sizes)))


def test_pad_refuses_what_is_not_a_completion():
    with pytest.raises(ValueError, match="ends at EOS"):
        exact.pad_completions([[0, 1]], 3, 2)  # cut short without EOS
    with pytest.raises(ValueError, match="continues after its EOS"):
        exact.pad_completions([[2, 0, 1]], 3, 2)
    with pytest.raises(ValueError, match="has 4 tokens"):
        exact.pad_completions([[0, 0, 0, 2]], 3, 2)
    with pytest.raises(ValueError, match="ends at EOS"):
        exact.pad_completions([[]], 2, 1)
    with pytest.raises(ValueError):
        exact.pad_completions([[0]], 2, None)  # no EOS: every completion has T tokens
    assert exact.trim_completions(np.array([[0, 1], [1, 1]]), None) == [(0, 1), (1, 1)]


@given(st_exact.explicit_eos_joints(tiny=True), st.data())
def test_from_joint_accepts_absorbing_and_rejects_escaping_joints(eos_joint, data):
    joint, eos = eos_joint
    model = exact.TabularAR.from_joint(joint, eos_token_id=eos)
    assert model.eos_token_id == eos
    np.testing.assert_array_equal(model.joint() > 0, joint > 0)
    T = joint.ndim
    if T == 1:
        return
    # move some mass to a non-state: EOS at position t followed by a non-EOS token
    t = data.draw(st.integers(0, T - 2))
    others = [v for v in range(joint.shape[t + 1]) if v != eos]
    index = [0] * T
    index[t] = eos
    index[t + 1] = data.draw(st.sampled_from(others))
    broken = joint * 0.5
    broken[tuple(index)] += 0.5
    with pytest.raises(ValueError, match="after EOS"):
        exact.TabularAR.from_joint(broken, eos_token_id=eos)
    with pytest.raises(ValueError, match="after EOS"):
        with np.errstate(divide="ignore"):
            exact.TabularAR.from_log_joint(np.log(broken), eos_token_id=eos)
    exact.TabularAR.from_joint(broken)  # without EOS the same table is a valid fixed-length model


@given(eos_tables, st.integers(0, 2**16))
def test_from_conditionals_ignores_rows_after_eos(conditionals, seed):
    tables, eos = conditionals
    rng = np.random.default_rng(seed)
    junk = []
    for t, table in enumerate(tables):
        other = np.array(table)
        if t >= 1:  # rows whose previous token is EOS: any other distribution
            row = rng.dirichlet(np.ones(table.shape[-1]), size=other[..., eos, :].shape[:-1])
            other[..., eos, :] = np.log(row)
        junk.append(other)
    a = exact.TabularAR.from_conditionals(tables, eos_token_id=eos)
    b = exact.TabularAR.from_conditionals(junk, eos_token_id=eos)
    np.testing.assert_array_equal(a.log_joint(), b.log_joint())


@given(st_exact.eos_models(zeros=True))
def test_random_eos_models_are_absorbing(model):
    eos = model.eos_token_id
    sizes = model.vocab_sizes
    joint = model.joint()
    states = np.zeros(sizes, dtype=bool)
    for y in bf.completions(sizes, eos):
        states[bf.padded(y, len(sizes), eos)] = True
    assert np.all(joint[~states] == 0.0)
    for t in range(1, len(sizes)):
        marginals = model.log_prefix_marginals(t)
        for head in np.ndindex(*sizes[: t - 1]):  # prefixes of length t ending at EOS, of positive probability
            prefix = tuple(int(v) for v in head) + (eos,)
            if np.isfinite(marginals[prefix]):
                np.testing.assert_array_equal(model.conditional(prefix), np.eye(sizes[t])[eos])


@given(st_exact.markov_models(max_vocab=4, max_horizon=4, eos=True), alphas)
def test_markov_with_eos_matches_its_dense_joint_and_completions(markov, alpha):
    eos = markov.eos_token_id
    dense = exact.TabularAR.from_log_joint(markov.log_joint(), eos_token_id=eos)
    T = markov.horizon
    # brute force over completions from the chain's own initial law and rows
    logp = bf.completion_log_probs(
        lambda u: markov.log_initial if not u else markov.log_transition[u[-1]], markov.vocab_sizes, eos
    )
    assert close_log(exact.log_partition(markov, alpha), bf.lse([alpha * lp for lp in logp.values()]))
    assert close_log(exact.log_partition(markov, alpha), exact.log_partition(dense, alpha))
    for t in range(T + 1):
        a = np.asarray(markov.log_prefix_totals(alpha, t))
        b = np.asarray(dense.log_prefix_totals(alpha, t))
        finite = np.isfinite(b)
        np.testing.assert_array_equal(np.isfinite(a), finite)
        assert np.all(np.abs(a[finite] - b[finite]) <= 1e-9 * (1 + np.abs(b[finite])))
    for u in open_prefixes(logp, markov.vocab_sizes, eos) + [(eos,)] * (T > 1):
        if not np.isfinite(markov._prefix_log_prob(tuple(u))):
            continue
        for got, want in (
            (exact.log_power_conditional(markov, u, alpha), exact.log_power_conditional(dense, u, alpha)),
            (markov.log_power_suffix_mass(u, alpha), dense.log_power_suffix_mass(u, alpha)),
        ):
            assert all(close_log(g, w) for g, w in zip(got, want)), (u, got, want)


@pytest.mark.parametrize(
    "build_bad, message",
    [
        (lambda: exact.TabularAR.random(3, 2, eos_token_id=3), r"in \[0, 3\)"),
        (lambda: exact.TabularAR.random(3, 2, eos_token_id=-1), r"in \[0, 3\)"),
        (lambda: exact.TabularAR.random(3, 2, eos_token_id=True), "integer token id"),
        (lambda: exact.TabularAR.random(3, 2, eos_token_id=1.0), "integer token id"),
        (lambda: exact.TabularAR.random((4, 2, 4), eos_token_id=2), r"every step's vocabulary, i.e. in \[0, 2\)"),
        (lambda: exact.TabularAR.from_joint(np.full((3, 2), 1 / 6), eos_token_id=2), r"in \[0, 2\)"),
        (lambda: exact.TabularAR.from_conditionals([np.log(np.full(2, 0.5))], eos_token_id=5), r"in \[0, 2\)"),
        (lambda: exact.MarkovAR.random(3, 2, eos_token_id=3), r"in \[0, 3\)"),
        (lambda: exact.MarkovAR.random(3, 2, eos_token_id=False), "integer token id"),
        (lambda: exact.MarkovAR(np.full(2, 0.5), np.full((2, 2), 0.5), 3, eos_token_id=1), "point mass on EOS"),
    ],
)
def test_bad_eos_ids_are_clear_value_errors(build_bad, message):
    with pytest.raises(ValueError, match=message):
        build_bad()


def test_completions_of_every_array_shape():
    """A ``(T,)`` row and numpy rows are completions too; EOS anywhere before the last token is a continuation."""
    assert exact.completion_lengths(np.array([1, 2, 0]), None) == 3 and exact.completion_lengths(np.array([1, 2, 0]), None).shape == ()
    assert exact.trim_completions(np.array([1, 0, 0]), 0) == [(1, 0)]
    assert exact.trim_completions(np.array([[[1, 2, 0]], [[0, 0, 0]]]), 0) == [(1, 2, 0), (0,)]  # (2, 1, T)
    padded = exact.pad_completions([np.array([1, 0]), np.array([2, 2, 2])], 3, 0)
    np.testing.assert_array_equal(padded, [[1, 0, 0], [2, 2, 2]])
    with pytest.raises(ValueError, match=r"^completion 0 continues after its EOS token at position 1$"):
        exact.pad_completions([[1, 0, 2]], 3, 0)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: exact.completion_lengths(np.array([[0.0, 1.0]]), None), r"^sequences must be an \(n, T\) integer array"),
        (lambda: exact.completion_lengths(np.zeros((2, 0), dtype=np.int64), 0), r"^sequences must be .* got shape \(2, 0\)"),
        (lambda: exact.completion_lengths(np.int64(3), 0), r"^sequences must be .* got shape \(\), dtype int64$"),
        (lambda: exact.completion_lengths(np.array([[0, 1]]), -1), r"^eos_token_id must be "),
        (lambda: exact.pad_completions([[0]], 0, None), r"^horizon must be "),
        (lambda: exact.pad_completions([[0]], 1, -1), r"^eos_token_id must be "),
    ],
)
def test_bad_sequences_are_clear_value_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_padding_is_checked_against_the_memory_cap():
    with exact.memory_limit(16), pytest.raises(ValueError, match=r"^the padded completions needs 9 entries"):
        exact.pad_completions([[0, 0, 0]] * 3, 3, None)
