"""Sharpening: argmax set (Eq. 2) with ties, π_α(y*) (Eq. 30), (ε, δ)-sharpening (Eq. 3), Prop. 3 / Eq. 17."""

import itertools
import math
import re

import numpy as np
import pytest
from hypothesis import example, given, strategies as st

import exact


def brute(model):
    seqs = list(itertools.product(*[range(v) for v in model.vocab_sizes]))
    return seqs, [float(model.log_prob(np.array(y))) for y in seqs]


def brute_mass(model, alpha, tol=1e-9):
    """``Σ_{y*} π^α / Σ π^α`` in plain Python, shifted by ``log m`` (Eq. 30)."""
    _, logs = brute(model)
    top = max(logs)
    terms = [math.exp(alpha * (lp - top)) for lp in logs if lp != -math.inf]
    star = [math.exp(alpha * (lp - top)) for lp in logs if lp >= top - tol]
    return math.fsum(star) / math.fsum(terms)


def _ulps_apart(p, index, ulps):
    """``p`` with entry ``index`` moved up by ``ulps`` units in the last place."""
    for _ in range(ulps):
        p[index] = np.nextafter(p[index], 1.0)
    return p


@st.composite
def models_with_ties(draw):
    """Random models with zeros; half of them get a tied argmax set of size 2-3 by construction,
    the tied entries either bitwise equal or a few ulps apart (a tie in exact arithmetic that
    rounding broke: still one argmax set within the 1e-9 log tolerance)."""
    seed = draw(st.integers(0, 10**6))
    vocab, horizon = draw(st.integers(2, 3)), draw(st.integers(1, 3))
    model = exact.TabularAR.random(vocab, horizon, seed, zero_fraction=0.3)
    n_ties = draw(st.integers(1, 3))
    ulps = draw(st.sampled_from([0, 0, 1, 3]))
    p = model.joint().copy()
    flat = p.reshape(-1)
    if n_ties > 1 and flat.size >= n_ties:
        order = np.argsort(-flat)
        flat[order[:n_ties]] = flat[order[0]]
        flat = flat / flat.sum()  # equal entries stay bitwise equal after division
        _ulps_apart(flat, order[n_ties - 1], ulps)
        model = exact.TabularAR.from_joint(flat.reshape(p.shape))
    return model


#: Two sequences tied up to 3 ulps of probability (0.3 and 0.3 + 3 ulp): |y*| = 2, π_α(y*) → 1.
ULP_TIE = exact.TabularAR.from_joint(_ulps_apart(np.array([0.3, 0.3, 0.25, 0.15]), 1, 3).reshape(2, 2))


ALPHAS = [1e-9, 1e-3, 0.1, 0.5, 1.0, 2.0, 5.0, 20.0, 100.0, 1e3]


@given(models_with_ties())
@example(ULP_TIE)
def test_argmax_set_matches_brute_force(model):
    seqs, logs = brute(model)
    top = max(logs)
    expected = sorted(y for y, lp in zip(seqs, logs) if lp >= top - 1e-9)
    assert sorted(map(tuple, exact.argmax_set(model).tolist())) == expected
    assert exact.argmax_mask(model).sum() == len(expected)


@given(models_with_ties())
@example(ULP_TIE)
def test_sharpening_mass_is_eq30_monotone_and_tends_to_one(model):
    masses = [exact.sharpening_mass(model, a) for a in ALPHAS]
    for a, mass in zip(ALPHAS, masses):
        assert mass == pytest.approx(brute_mass(model, a), rel=1e-12, abs=1e-300)
    assert all(later >= earlier - 1e-15 for earlier, later in zip(masses, masses[1:]))
    _, logs = brute(model)
    top = max(logs)
    rest = [lp for lp in logs if lp < top - 1e-9 and lp != -math.inf]
    n_star = sum(lp >= top - 1e-9 for lp in logs)
    support = sum(lp != -math.inf for lp in logs)
    # α → 0: uniform on the support, so the mass is |y*| / |supp π|
    assert masses[0] == pytest.approx(n_star / support, rel=1e-6)
    # α = 1e3: 1 - mass ≤ |Y| exp(-α gap), gap = log m - second largest log π
    if rest:
        gap = top - max(rest)
        assert 1 - masses[-1] <= len(logs) * math.exp(-1e3 * gap) + 1e-15
    else:
        assert masses[-1] == 1.0
    assert exact.sharpening_mass(model, math.inf) == 1.0


def test_ulp_ties_are_one_argmax_set_and_the_mass_tends_to_one():
    """Ties a few ulps apart: |y*| = 2 and π_α(y*) → 1 (not ½: the two sequences share the top)."""
    assert len(exact.argmax_set(ULP_TIE)) == 2
    for alpha in (1e3, exact.MAX_ALPHA, float("inf")):  # up to exact's range, and the α → ∞ limit
        assert exact.sharpening_mass(ULP_TIE, alpha) == pytest.approx(1.0, abs=1e-12)
    assert exact.sharpening_mass(ULP_TIE, 1.0) == pytest.approx(0.6, rel=1e-12)


def test_is_sharpened_and_failure_probability():
    models = [exact.TabularAR.random(3, 2, s, zero_fraction=0.3) for s in range(4)]
    prompted = exact.PromptedModel(models, [0.4, 0.3, 0.2, 0.1])
    sharp = [exact.power_joint(m, 1e3) for m in models]
    assert exact.is_sharpened(sharp, prompted, eps=0.01, delta=0.01)
    assert exact.sharpening_failure(sharp, prompted, 0.01) == 0.0
    base_mass = [brute_mass(m, 1.0) for m in models]
    expected_fail = sum(w for w, mass in zip(prompted.weights, base_mass) if mass <= 1 - 0.1)
    assert exact.sharpening_failure(prompted, prompted, 0.1) == pytest.approx(expected_fail, abs=1e-15)
    assert exact.is_sharpened(prompted, prompted, 0.5, 0.1) == (1 - expected_fail >= 0.5)
    assert exact.argmax_mass(models[0].joint(), models[0]) == pytest.approx(base_mass[0], rel=1e-12)


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, 1.5, np.nan, True])
def test_eps_delta_outside_unit_interval(bad):
    model = exact.TabularAR.random(2, 2, 0)
    with pytest.raises(ValueError, match="open interval"):
        exact.is_sharpened(model, model, bad, 0.1)
    with pytest.raises(ValueError, match="open interval"):
        exact.is_sharpened(model, model, 0.1, bad)
    with pytest.raises(ValueError, match="open interval"):
        exact.sharpening_bound(model, 2.0, 10, 0.1, bad, 3)


def test_sharpening_bound_constants():
    models = [exact.TabularAR.random(3, 2, s, zero_fraction=0.3) for s in range(3)]
    prompted = exact.PromptedModel(models, [0.5, 0.25, 0.25])
    bound = exact.sharpening_bound(prompted, 4.0, n=500, delta=0.2, rho=0.05, class_size=7)
    c0 = (1 - 2**-0.5) ** 2
    assert bound.c0 == pytest.approx(c0, rel=1e-15)
    assert bound.mle_term == pytest.approx(2 / c0 * math.log(7 / 0.05) / (0.2 * 500), rel=1e-13)
    teacher = sum(w for w, m in zip(prompted.weights, models) if brute_mass(m, 4.0) <= 1 - 0.1)
    assert bound.teacher_term == pytest.approx(teacher, abs=1e-15)


def test_simulated_eq17_holds_with_probability_one_minus_rho():
    """N = 2000 data sets of n = 2000 pairs; MLE in a class of M = 4 powers + 4 Dirichlet distractors."""
    models = [exact.TabularAR.random(3, 2, s, zero_fraction=0.3) for s in range(5)]
    prompted = exact.PromptedModel(models, [0.3, 0.2, 0.2, 0.2, 0.1])
    rng = np.random.default_rng(2026)
    sim = exact.simulate_sharpening(prompted, 30.0, 2000, 0.2, 0.1, 2000, rng, n_distractors=4)
    assert sim.class_size == 8 and sim.failure.shape == (2000,)
    assert sim.exceed_fraction <= sim.rho
    assert sim.failure_quantile <= sim.bound.total
    assert np.all(sim.selected < 4)  # with n = 2000 the MLE is always a power (π_30 and π_60 are hard to tell apart)
    lemma1 = 2 * math.log(sim.class_size / sim.rho) / sim.n  # Lemma 1 (App. A.3)
    assert np.mean(sim.hellinger_squared > lemma1) <= sim.rho
    # the selected member's failure is recomputed by hand for the first trials
    members = exact.power_class(prompted, 30.0, n_distractors=4, rng=np.random.default_rng(2026))
    for trial in range(5):
        member = members[sim.selected[trial]]
        masses = [np.exp(lq)[exact.argmax_mask(m)].sum() for lq, m in zip(member, models)]
        assert sim.failure[trial] == pytest.approx(sum(w for w, q in zip(prompted.weights, masses) if q <= 0.8), abs=1e-15)
    # small n: the MLE picks π_15 / π_60 more often, the bound is vacuous (> 1) but still holds
    small = exact.simulate_sharpening(prompted, 30.0, 5, 0.2, 0.1, 2000, np.random.default_rng(1), n_distractors=4)
    assert np.mean(small.selected != small.true_index) > 0.05 and small.exceed_fraction <= 0.1
    assert small.bound.mle_term > 1


def test_power_class_contains_power_distribution():
    model = exact.TabularAR.random(2, 3, 1, zero_fraction=0.3)
    members = exact.power_class(model, 3.0, exponents=[1.0, 2.0])
    assert len(members) == 3
    assert np.allclose(np.exp(members[-1][0]), exact.power_joint(model, 3.0), atol=1e-15)
    with pytest.raises(ValueError, match="rng"):
        exact.power_class(model, 3.0, n_distractors=2)


#: π on 2 x 2 sequences with one argmax, y* = {(0, 0)}, and log-gaps log(4/3), log 2, log 4 below it.
STEPS = exact.TabularAR.from_joint(np.array([[0.4, 0.3], [0.2, 0.1]]))


def test_errors_name_the_argument():
    """Every argument check names its argument at the start of the message."""
    model, rng = STEPS, np.random.default_rng(0)
    cases = [
        (lambda: exact.argmax_set(model, tol=-1.0), "tol must be a finite number >= 0"),
        (lambda: exact.sharpening_failure(model, model, 1.5), "delta must be a number in the open interval (0, 1)"),
        (lambda: exact.is_sharpened(model, model, 1.5, 0.1), "eps must be a number in the open interval (0, 1)"),
        (lambda: exact.is_sharpened(model, model, 0.1, 1.5), "delta must be a number in the open interval (0, 1)"),
        (lambda: exact.argmax_mass(np.ones(3) / 3, model), "policy must have shape vocab_sizes"),
        (lambda: exact.power_class(model, 2.0, exponents=[-1.0]), "exponent must be > 0"),
        (lambda: exact.power_class(model, 2.0, n_distractors=-1), "n_distractors must be a non-negative integer"),
        (lambda: exact.simulate_sharpening(model, 2.0, 5, 1.5, 0.1, 3, rng), "delta must be a number in the open"),
        (lambda: exact.simulate_sharpening(model, 2.0, 5, 0.2, 1.5, 3, rng), "rho must be a number in the open"),
        (lambda: exact.simulate_sharpening(model, 2.0, -1, 0.2, 0.1, 3, rng), "n must be a non-negative integer"),
        (lambda: exact.simulate_sharpening(model, 2.0, 5, 0.2, 0.1, -1, rng), "n_trials must be a non-negative integer"),
        (lambda: exact.simulate_sharpening(model, 2.0, 0, 0.2, 0.1, 3, rng), "n and n_trials must be >= 1"),
        (lambda: exact.simulate_sharpening(model, 2.0, 5, 0.2, 0.1, 0, rng), "n and n_trials must be >= 1"),
        (lambda: exact.simulate_sharpening(model, 2.0, 5, 0.2, 0.1, 3, rng, tol=-1.0), "tol must be a finite number"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match="^" + re.escape(message)):
            call()


def test_argmax_set_types_and_prompts():
    """y*(x) is an int64 array of sequences, one per prompt for a PromptedModel; the argmax mass of a
    single model is a Python float, of a PromptedModel an array over prompts (policy given per prompt)."""
    models = [STEPS, exact.TabularAR.from_joint(np.array([[0.1, 0.2], [0.3, 0.4]]))]
    prompted = exact.PromptedModel(models, [0.5, 0.5])
    assert exact.argmax_set(STEPS).dtype == np.int64
    sets = exact.argmax_set(prompted)
    assert isinstance(sets, tuple) and [s.tolist() for s in sets] == [[[0, 0]], [[1, 1]]]
    mass = exact.argmax_mass(STEPS.joint(), STEPS)
    assert type(mass) is float and mass == pytest.approx(0.4, rel=1e-14)
    # a PromptedModel as the policy: prompt x's model against prompt x's argmax (π(y*(x)|x) = 0.4 each)
    assert exact.argmax_mass(prompted, prompted) == pytest.approx([0.4, 0.4], rel=1e-14)
    swapped = exact.PromptedModel(models[::-1], [0.5, 0.5])
    assert exact.argmax_mass(swapped, prompted) == pytest.approx([0.1, 0.1], rel=1e-14)
    # against a single model, a PromptedModel policy is its first prompt's model
    assert exact.argmax_mass(swapped, STEPS) == pytest.approx(0.1, rel=1e-14)


def test_tol_widens_the_argmax_set_of_every_function():
    """With tol = log(4/3) (+ slack) the argmax set is {(0,0), (0,1)}: a uniform policy then puts 1/2 on it, not 1/4."""
    tol = math.log(0.4 / 0.3) + 1e-9
    uniform = np.full((2, 2), 0.25)
    assert exact.argmax_mask(STEPS, tol).tolist() == [[True, True], [False, False]]
    assert exact.argmax_mass(uniform, STEPS, tol) == 0.5
    assert exact.argmax_mass(uniform, STEPS) == 0.25
    assert exact.sharpening_failure(uniform, STEPS, 0.6, tol) == 0.0  # 1/2 > 0.4
    assert exact.sharpening_failure(uniform, STEPS, 0.6) == 1.0  # 1/4 ≤ 0.4
    assert exact.is_sharpened(uniform, STEPS, 0.5, 0.5, tol) and not exact.is_sharpened(uniform, STEPS, 0.5, 0.5)
    assert exact.sharpening_mass(STEPS, 1.0, tol) == pytest.approx(0.7, rel=1e-14)
    assert exact.sharpening_mass(STEPS, 2.0, tol) == pytest.approx(0.25 / 0.30, rel=1e-14)  # Σ_{y*} π² / Σ π²


def test_failure_and_sharpening_at_their_boundaries():
    """Eq. 17 counts π̂(y*) ≤ 1 - δ as a failure and Eq. 3 counts π̂(y*) ≥ 1 - δ as a success: at equality, both;
    (ε, δ)-sharpening holds when the success probability equals 1 - ε exactly."""
    half = np.array([[0.5, 0.5], [0.0, 0.0]])  # π̂(y*) = 1/2 exactly
    assert exact.sharpening_failure(half, STEPS, 0.5) == 1.0
    assert exact.is_sharpened(half, STEPS, 0.1, 0.5)
    prompted = exact.PromptedModel([STEPS, STEPS], [0.5, 0.5])
    policies = [np.array([[1.0, 0.0], [0.0, 0.0]]), np.full((2, 2), 0.25)]  # success on prompt 0 only: P = 1/2
    assert exact.is_sharpened(policies, prompted, 0.5, 0.1)
    assert not exact.is_sharpened(policies, prompted, 0.49, 0.1)


def test_power_class_grid_merges_duplicates_and_adds_alpha():
    """Default members are π_a for a = (1, α/2, α, 2α), exponents equal within 1e-12 (relative) merged, α added
    when missing; distractors are distributions on π's support."""
    model = exact.TabularAR.random(2, 2, 3, zero_fraction=0.3)

    def exponents_of(members):
        return [next(a for a in candidates if np.array_equal(member[0], exact.log_power_joint(model, a))) for member in members]

    candidates = [1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 100.0, 1e-3, 1e-3 + 1e-10]
    assert exponents_of(exact.power_class(model, 3.0)) == [1.0, 1.5, 3.0, 6.0]
    assert exponents_of(exact.power_class(model, 2.0)) == [1.0, 2.0, 4.0]  # α/2 = 1 is listed once
    near = 100.0 * (1 + 5e-13)  # within 1e-12 of 100 (relative): one member
    assert exponents_of(exact.power_class(model, 1.0, exponents=[100.0, near])) == [100.0, 1.0]
    # 1e-3 + 1e-10 is 1e-7 (relative) away from α = 1e-3: a different member, and α is added
    assert exponents_of(exact.power_class(model, 1e-3, exponents=[1e-3 + 1e-10])) == [1e-3 + 1e-10, 1e-3]
    support = model.joint() > 0
    distractors = exact.power_class(model, 2.0, n_distractors=3, rng=np.random.default_rng(5))[3:]
    assert len(distractors) == 3
    for (log_q,) in distractors:
        q = np.exp(log_q)
        assert np.all((q > 0) == support) and math.fsum(q.ravel()) == pytest.approx(1.0, abs=1e-14)


def test_simulation_defaults_fields_and_small_sizes():
    """n = 1 and n_trials = 1 are valid; without distractors the class is the default grid; the returned
    fields are the inputs, π_α's index and the bound computed with the same tol."""
    model = exact.TabularAR.random(3, 2, 1, zero_fraction=0.3)
    sim = exact.simulate_sharpening(model, 4.0, 1, 0.3, 0.2, 1, np.random.default_rng(0))
    assert sim.class_size == 4 and sim.true_index == 2  # (1, 2, 4, 8): π_4 is third
    assert (sim.n, sim.delta, sim.rho) == (1, 0.3, 0.2) and sim.failure.shape == (1,)
    assert exact.simulate_sharpening(model, 4.0, 3, 0.3, 0.2, 2, np.random.default_rng(0), exponents=[1.0]).class_size == 2
    tol = 50.0  # every supported sequence is in y*: π_α(y*) = 1, no prompt fails
    wide = exact.simulate_sharpening(model, 4.0, 3, 0.3, 0.2, 2, np.random.default_rng(0), tol=tol)
    assert wide.bound == exact.sharpening_bound(model, 4.0, 3, 0.3, 0.2, 4, tol=tol)
    assert wide.bound.teacher_term == 0.0 and np.all(wide.failure == 0.0)
    assert sim.bound.teacher_term == 1.0  # default tol: π_4(y*) ≤ 0.85 for this model


def test_simulated_failure_counts_mass_equal_to_one_minus_delta():
    """π(y*) = 1/2 exactly and δ = 1/2: the only member π_1 fails on every data set (Eq. 17 uses ≤)."""
    model = exact.TabularAR.from_joint(np.array([[0.5, 0.0], [0.25, 0.25]]))
    sim = exact.simulate_sharpening(model, 1.0, 4, 0.5, 0.1, 3, np.random.default_rng(0), exponents=[1.0])
    assert sim.class_size == 1 and np.all(sim.failure == 1.0)


def test_simulated_hellinger_and_mle_by_brute_force():
    """The recorded E_μ D_H²(π̂, π_α) is Σ_x μ(x) Σ_y (√π̂ - √π_α)², by hand for each selected member; the MLE uses
    the data of every prompt (here prompt 1 has weight 0: its empty data set must not decide)."""
    models = [exact.TabularAR.random(3, 2, s, zero_fraction=0.3) for s in range(2)]
    prompted = exact.PromptedModel(models, [0.7, 0.3])
    sim = exact.simulate_sharpening(prompted, 3.0, 4, 0.2, 0.1, 30, np.random.default_rng(7), n_distractors=3)
    members = exact.power_class(prompted, 3.0, n_distractors=3, rng=np.random.default_rng(7))
    teacher = members[sim.true_index]
    assert len(set(sim.selected.tolist())) > 1
    for j, h2 in zip(sim.selected, sim.hellinger_squared):
        by_hand = sum(
            w * math.fsum(((math.sqrt(math.exp(a)) - math.sqrt(math.exp(b))) ** 2 for a, b in zip(lq.ravel(), lt.ravel())))
            for w, lq, lt in zip(prompted.weights, members[j], teacher)
        )
        assert h2 == pytest.approx(by_hand, rel=1e-12, abs=1e-15)
    silent = exact.PromptedModel(models, [1.0, 0.0])
    big = exact.simulate_sharpening(silent, 3.0, 3000, 0.2, 0.1, 20, np.random.default_rng(3))
    assert np.mean(big.selected == big.true_index) > 0.5


def test_sharpening_bound_terms_by_hand():
    """Eq. 17's right side: teacher term P_x[π_α(y*) ≤ 1 - δ/2] (with ≤, and the given tol), total = sum of both
    terms; n = 1 and M = 1 are valid, n = 0 and M = 0 are not; every argument check names its argument."""
    six = exact.TabularAR.from_joint(np.array([[0.6, 0.2], [0.2, 0.0]]))  # π(y*) = 0.6 at α = 1
    bound = exact.sharpening_bound(six, 1.0, n=1, delta=0.9, rho=0.5, class_size=1)
    c0 = (1 - 2**-0.5) ** 2
    assert bound.mle_term == pytest.approx(2 / c0 * math.log(1 / 0.5) / 0.9, rel=1e-13)
    assert bound.teacher_term == 0.0  # 0.6 > 1 - 0.9/2 = 0.55 (but ≤ 1 - 0.9/3 = 0.7)
    steps = exact.sharpening_bound(STEPS, 1.0, n=10, delta=0.5, rho=0.1, class_size=3)  # π(y*) = 0.4 ≤ 0.75
    assert steps.teacher_term == 1.0 and steps.total == steps.mle_term + 1.0
    assert exact.sharpening_bound(STEPS, 1.0, 10, 0.5, 0.1, 3, tol=50.0).teacher_term == 0.0  # y* = support
    m = exact.sharpening_mass(six, 1.0)
    at_edge = 2 * (1 - m)  # 1 - δ/2 = π(y*) up to rounding: counted as a failure when it is exact
    assert 1.0 - at_edge / 2.0 == m  # δ = 0.8: 1 - δ/2 = 0.6 = π(y*) in float64 too
    assert exact.sharpening_bound(six, 1.0, 10, at_edge, 0.1, 3).teacher_term == 1.0
    cases = [
        ((1.5, 0.1, 10, 3), "delta must be a number in the open interval (0, 1)"),
        ((0.5, 1.5, 10, 3), "rho must be a number in the open interval (0, 1)"),
        ((0.5, 0.1, -1, 3), "n must be a non-negative integer"),
        ((0.5, 0.1, 0, 3), "n must be >= 1"),
        ((0.5, 0.1, 10, -1), "class_size must be a non-negative integer"),
        ((0.5, 0.1, 10, 0), "class_size must be >= 1"),
    ]
    for (delta, rho, n, size), message in cases:
        with pytest.raises(ValueError, match="^" + re.escape(message)):
            exact.sharpening_bound(STEPS, 1.0, n, delta, rho, size)
    with pytest.raises(ValueError, match="^tol must be a finite number >= 0"):
        exact.argmax_mask(STEPS, tol=-1.0)
    with pytest.raises(ValueError, match="^eps must be a number in the open interval"):
        exact.is_sharpened(STEPS, STEPS, "0.5", 0.1)  # a string is refused, not converted


def test_zero_tolerance_keeps_exact_ties():
    """tol = 0: y* is the set of sequences whose log-probability equals the maximum exactly (never empty)."""
    tied = exact.TabularAR.from_joint(np.array([[0.25, 0.25], [0.25, 0.25]]))
    assert exact.argmax_mask(tied, tol=0.0).all()
    assert exact.argmax_mask(STEPS, tol=0.0).tolist() == [[True, False], [False, False]]
    assert exact.sharpening_mass(STEPS, 1.0, tol=0.0) == pytest.approx(0.4, rel=1e-14)
    assert type(exact.sharpening_mass(STEPS, 1.0)) is float  # one model: a float, not an array
    assert exact.sharpening_mass(tied, 3.0, tol=0.0) == 1.0
    # α = ∞: mass 1 on every prompt
    prompted = exact.PromptedModel([STEPS, tied], [0.5, 0.5])
    assert exact.sharpening_mass(prompted, math.inf).tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="^tol must be a finite number >= 0"):
        exact.sharpening_mass(STEPS, 1.0, tol=-1.0)


def test_an_exponent_a_rounding_error_from_alpha_is_alpha():
    """Was: ``power_class`` kept ``α(1 + 3e-13)`` as "α" without adding ``π_α`` bit for bit, so
    ``simulate_sharpening`` stopped with a bare ``AssertionError`` (π_α not in the class)."""
    model = exact.TabularAR.random(2, 2, 0, zero_fraction=0.0)
    near = 2.0 * (1 + 3e-13)
    members = exact.power_class(model, 2.0, exponents=[1.0, near])
    assert len(members) == 2 and np.array_equal(members[1][0], exact.log_power_joint(model, 2.0))
    result = exact.simulate_sharpening(model, 2.0, 10, 0.2, 0.1, 5, np.random.default_rng(0), exponents=[near])
    assert result.true_index == 0 and result.class_size == 1  # [α(1 + 3e-13)] is [α]: α is not added twice


def test_exponents_exactly_the_merging_distance_apart_are_merged():
    """Both tolerances are inclusive: an exponent exactly ``1e-12·α`` from ``α`` is ``α`` (``π_α`` bit for bit, not
    ``π_a``), and two exponents exactly ``1e-12·max(a, b)`` apart are one member.  With ``d = 2^-39`` and
    ``α = d / 1e-12`` the products and differences below are exact in float64."""
    model = exact.TabularAR.random(2, 2, 0, zero_fraction=0.0)
    d = 2.0**-39
    alpha = d / 1e-12
    assert abs((alpha + d) - alpha) == 1e-12 * alpha and abs(alpha - (alpha - d)) == 1e-12 * alpha
    (member,) = exact.power_class(model, alpha, exponents=[alpha + d])
    assert np.array_equal(member[0], exact.log_power_joint(model, alpha))
    merged = exact.power_class(model, 4.0, exponents=[alpha, alpha - d])
    assert len(merged) == 2 and np.array_equal(merged[0][0], exact.log_power_joint(model, alpha))
