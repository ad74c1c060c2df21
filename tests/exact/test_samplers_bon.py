"""Self-reward Best-of-N: the exact law against brute force over every N-tuple of candidates, under EOS."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import exact
from exact.samplers import (
    best_of_n_output_distribution,
    best_of_n_probabilities,
    best_of_n_rewards,
)


def _completions(model, tau):
    """Every variable-length completion with its proposal probability (temperature τ) and log π, from conditionals."""
    eos, T = model.eos_token_id, model.horizon
    out = []

    def grow(y, q, log_pi):
        if len(y) == T or (y and y[-1] == eos):
            out.append((y, q, log_pi))
            return
        p = model.conditional(list(y))
        tempered = p ** (1.0 / tau) / (p ** (1.0 / tau)).sum()
        for v in range(p.size):
            if p[v] > 0:
                grow(y + (v,), q * tempered[v], log_pi + np.log(p[v]))

    grow((), 1.0, 0.0)
    return out


def brute_force_bon(model, N, tau, length_normalized):
    """P(output = y) by enumerating all N-tuples of completions: the first candidate of maximal reward wins."""
    comps = _completions(model, tau)
    rewards = [lp / len(y) if length_normalized else lp for y, _, lp in comps]
    out = np.zeros(model.vocab_sizes)
    T, eos = model.horizon, model.eos_token_id
    for tup in itertools.product(range(len(comps)), repeat=N):
        prob = np.prod([comps[i][1] for i in tup])
        best = max(range(N), key=lambda j: (rewards[tup[j]], -j))  # largest reward, then the earliest
        y = comps[tup[best]][0]
        out[y + (eos,) * (T - len(y))] += prob
    return out


@pytest.mark.parametrize(
    "N, tau, length_normalized, eos, seed",
    [
        (1, 1.0, True, 2, 0),
        (2, 1.0, True, 2, 1),
        (3, 1.0, True, 2, 2),
        (3, 0.5, True, 2, 3),
        (2, 2.0, False, 2, 4),
        (3, 1.0, False, 2, 5),
        (3, 1.0, True, None, 6),
        (2, 0.7, True, 0, 7),
    ],
)
def test_best_of_n_matches_brute_force(N, tau, length_normalized, eos, seed):
    model = exact.TabularAR.random(3, 3, seed=seed, eos_token_id=eos, concentration=0.7)
    got = best_of_n_output_distribution(model, N, tau, length_normalized)
    np.testing.assert_allclose(got.probabilities, brute_force_bon(model, N, tau, length_normalized), atol=1e-13, rtol=0)
    lengths = np.array([len(y) for y, _, _ in _completions(model, tau)])
    q = np.array([q for _, q, _ in _completions(model, tau)])
    assert got.exact and got.expected_cost == pytest.approx(N * (q * lengths).sum(), rel=1e-12)


def test_length_normalisation_matters_under_eos():
    """Ranking by the sum log π(y) favours short completions (fewer negative terms); by the mean it does not.
    Both laws match the brute force and differ by TV 0.68 on this EOS model; E|y| differs by 1.4 tokens."""
    model = exact.TabularAR.random(3, 3, seed=7, eos_token_id=2, concentration=0.7)
    mean = best_of_n_output_distribution(model, 3, length_normalized=True).probabilities
    total = best_of_n_output_distribution(model, 3, length_normalized=False).probabilities
    np.testing.assert_allclose(mean, brute_force_bon(model, 3, 1.0, True), atol=1e-13)
    np.testing.assert_allclose(total, brute_force_bon(model, 3, 1.0, False), atol=1e-13)
    assert 0.5 * np.abs(mean - total).sum() > 0.5
    lengths = model.completion_lengths(np.moveaxis(np.indices(model.vocab_sizes), 0, -1).reshape(-1, 3)).reshape(mean.shape)
    assert (total * lengths).sum() < (mean * lengths).sum() - 1.0
    rewards = best_of_n_rewards(model)
    assert rewards[2, 2, 2] == pytest.approx(np.log(model.conditional(())[2]))  # |y| = 1: the reward is log π(EOS)


def test_ties_go_to_the_first_candidate():
    """All rewards equal (a uniform model: r(y) = -log V for every length) -> the first candidate, law = q;
    and an explicit tie class {0, 1} shares its mass in proportion to q."""
    uniform = [np.full((3,) * (t + 1), -np.log(3.0)) for t in range(3)]
    model = exact.TabularAR.from_conditionals(uniform, eos_token_id=2)
    np.testing.assert_allclose(best_of_n_output_distribution(model, 4).probabilities, model.joint(), atol=1e-15)
    q = np.array([0.2, 0.3, 0.5])
    r = np.array([1.0, 1.0, 0.0])
    want = np.zeros(3)
    for tup in itertools.product(range(3), repeat=3):
        first_best = next(i for i in tup if r[i] == max(r[j] for j in tup))
        want[first_best] += np.prod(q[list(tup)])
    np.testing.assert_allclose(best_of_n_probabilities(np.log(q), r, 3), want, atol=1e-15)
    np.testing.assert_allclose(want[:2] / want[:2].sum(), q[:2] / q[:2].sum(), atol=1e-15)


def test_closed_form_keeps_relative_precision_for_large_n():
    """The worst class wins only if every candidate is in it: q^N, here ~1e-40, to 1e-12 relative;
    the best class wins with probability 1 - (1 - p)^N."""
    q = np.array([0.1, 0.4, 0.5])
    r = np.array([-1.0, -2.0, -3.0])
    got = best_of_n_probabilities(np.log(q), r, 130)
    assert got[2] == pytest.approx(0.5**130, rel=1e-12)
    assert got[0] == pytest.approx(1 - 0.9**130, rel=1e-14)
    assert got[1] == pytest.approx(0.9**130 - 0.5**130, rel=1e-12)


def test_best_of_n_rejects_bad_input():
    model = exact.TabularAR.random(3, 3, seed=0, eos_token_id=2)
    with pytest.raises(ValueError, match="n_candidates"):
        best_of_n_output_distribution(model, 0)
    for tau in (0.0, -1.0, float("nan"), float("inf"), True):
        with pytest.raises(ValueError, match="temperature"):
            best_of_n_output_distribution(model, 2, tau)
    with pytest.raises(ValueError, match="shape"):
        best_of_n_probabilities(np.log([0.5, 0.5]), np.zeros(3), 2)
    with pytest.raises(ValueError, match="rewards"):
        best_of_n_probabilities(np.log([0.5, 0.5]), np.array([0.0, np.nan]), 2)
    with pytest.raises(ValueError, match="summing to 1"):
        best_of_n_probabilities(np.log([0.5, 0.6]), np.zeros(2), 2)


def test_best_of_n_errors_name_the_argument():
    """Each refusal names its argument, matched from the start of the message."""
    model = exact.TabularAR.random(3, 3, seed=0, eos_token_id=2)
    log_q, r = np.log([0.5, 0.5]), np.zeros(2)
    with pytest.raises(ValueError, match=r"^n_candidates must be an integer >= 1, got 0$"):
        best_of_n_output_distribution(model, 0)
    with pytest.raises(ValueError, match=r"^temperature must be "):
        best_of_n_output_distribution(model, 2, 0.0)
    with pytest.raises(ValueError, match=r"^n_candidates must be an integer >= 1, got 0$"):
        best_of_n_probabilities(log_q, r, 0)
    with pytest.raises(ValueError, match=r"^tie_tolerance must be a finite number >= 0, got -1\.0$"):
        best_of_n_probabilities(log_q, r, 2, tie_tolerance=-1.0)
    with pytest.raises(ValueError, match=r"^log_proposal has shape \(2,\) but rewards \(3,\)$"):
        best_of_n_probabilities(log_q, np.zeros(3), 2)
    with pytest.raises(ValueError, match=r"^rewards must be finite or -inf wherever the proposal has mass$"):
        best_of_n_probabilities(log_q, np.array([0.0, np.inf]), 2)  # +inf, not only NaN, is refused
    with pytest.raises(ValueError, match=r"^exp\(log_proposal\) must be a probability array summing to 1"):
        best_of_n_probabilities(np.array([0.0, np.nan]), r, 2)  # NaN, whatever its sum


def _tied_law(q, classes, N):
    """Brute force over all N-tuples: the first candidate whose class (an int, larger = better) is maximal wins."""
    out = np.zeros(len(q))
    for tup in itertools.product(range(len(q)), repeat=N):
        best = max(classes[i] for i in tup)
        out[next(i for i in tup if classes[i] == best)] += np.prod(q[list(tup)])
    return out


def test_tie_classes_follow_the_relative_tolerance():
    """Rewards within ``tie_tolerance · max(1, |r|)`` are one class (the law depends only on the classes' order):
    gaps of 5e-12 at |r| = 10 and 1e-12 at |r| = 0.5 tie, 1.5e-12 at |r| = 0.5 and 5e-10 at |r| = 10 do not;
    two -inf rewards tie."""
    q = np.array([0.2, 0.3, 0.5])
    N = 3
    cases = [
        ([-10.0, -10.0 + 5e-12, -20.0], [1, 1, 0]),
        ([-0.5, -0.5 - 1e-12, -3.0], [1, 1, 0]),
        ([-0.5, -0.5 - 1.5e-12, -3.0], [2, 1, 0]),
        ([-10.0, -10.0 + 5e-10, -20.0], [1, 2, 0]),
        ([-np.inf, -np.inf, 0.0], [0, 0, 1]),
    ]
    for rewards, classes in cases:
        got = best_of_n_probabilities(np.log(q), np.array(rewards), N)
        np.testing.assert_allclose(got, _tied_law(q, classes, N), atol=1e-15, err_msg=str(rewards))
    # a wider tolerance merges the last two classes; the model-level entry point passes it on
    model = exact.TabularAR.random(2, 2, seed=3, concentration=0.7)
    log_q, rewards = model.log_joint(), best_of_n_rewards(model)
    wide = best_of_n_output_distribution(model, N, tie_tolerance=10.0).probabilities
    np.testing.assert_allclose(wide, best_of_n_probabilities(log_q, rewards, N, tie_tolerance=10.0), atol=1e-15)
    np.testing.assert_allclose(wide, model.joint(), atol=1e-15)  # one class: the first candidate, law = q
    assert np.abs(best_of_n_output_distribution(model, N).probabilities - wide).sum() > 0.1


def test_output_sums_to_one_for_a_proposal_within_the_sum_tolerance():
    """A proposal summing to 1 - 5e-10 (accepted: within 1e-9) still gives a law summing to 1, as documented."""
    q = np.array([0.2, 0.3, 0.5 - 5e-10])
    got = best_of_n_probabilities(np.log(q), np.array([-1.0, -2.0, -3.0]), 200)
    assert abs(got.sum() - 1.0) < 1e-13


def test_defaults_are_the_length_normalised_reward_and_zero_standard_errors():
    """``best_of_n_rewards`` normalises by |y| by default (here on completions of 1, 2 and 3 tokens), and the
    exact law carries all-zero standard errors of its own shape."""
    model = exact.TabularAR.random(3, 3, seed=7, eos_token_id=2, concentration=0.7)
    lengths = model.completion_lengths(np.moveaxis(np.indices(model.vocab_sizes), 0, -1).reshape(-1, 3)).reshape(model.vocab_sizes)
    assert set(np.unique(lengths)) == {1, 2, 3}
    with np.errstate(divide="ignore"):
        np.testing.assert_array_equal(best_of_n_rewards(model), model.log_joint() / lengths)
    got = best_of_n_output_distribution(model, 2)
    assert got.standard_errors.shape == got.probabilities.shape and not got.standard_errors.any()


def test_float32_log_proposal_is_read_in_float64():
    """Two outcomes, the second better: ``P(y_2) = 1 − (1 − q_2)^N`` with ``q_i = exp(log q_i)`` of the float32 inputs
    taken exactly.  ``q_1 = e^{−1e-10}`` rounds to 1 in float32, which moves ``P(y_2)`` by ~4e-9 relatively."""
    log_q = np.array([-1e-10, np.log(1e-10)], dtype=np.float32)
    q2 = math.exp(float(log_q[1]))
    for N in (1, 1000):
        got = best_of_n_probabilities(log_q, np.array([0.0, 1.0]), N)
        assert got[1] == pytest.approx(-math.expm1(N * math.log1p(-q2)), rel=1e-12, abs=0)
