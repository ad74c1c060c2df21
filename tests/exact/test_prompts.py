"""PromptedModel (μ over prompts) and reward validation (Eq. 1): exact checks and bad input."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import exact


def brute_log_joint(model):
    """``log π(y)`` sequence by sequence over ``itertools.product`` (the model's own scorer, no tables)."""
    seqs = np.array(list(itertools.product(*[range(v) for v in model.vocab_sizes])))
    return model.log_prob(seqs).reshape(model.vocab_sizes), seqs


def test_weights_validated():
    models = [exact.TabularAR.random(2, 2, s) for s in range(3)]
    with pytest.raises(ValueError, match="sum to 1"):
        exact.PromptedModel(models, [0.5, 0.4, 0.05])
    with pytest.raises(ValueError, match="non-negative"):
        exact.PromptedModel(models, [1.2, -0.1, -0.1])
    with pytest.raises(ValueError, match="one entry per prompt"):
        exact.PromptedModel(models, [0.5, 0.5])
    with pytest.raises(ValueError, match="NaN"):
        exact.PromptedModel(models, [np.nan, 0.5, 0.5])
    with pytest.raises(ValueError, match="at least one"):
        exact.PromptedModel([], [])
    with pytest.raises(ValueError, match="autoregressive"):
        exact.PromptedModel([np.ones(2) / 2], [1.0])


@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=5), st.integers(0, 10**6))
def test_expectation_is_weighted_sum(raw, seed):
    if sum(raw) == 0:
        raw = [1.0] * len(raw)
    weights = [w / math.fsum(raw) for w in raw]
    models = [exact.TabularAR.random(2, 2, seed + i) for i in range(len(weights))]
    prompted = exact.PromptedModel(models, weights)
    values = np.random.default_rng(seed).normal(size=len(weights))
    assert prompted.expectation(values) == pytest.approx(math.fsum(w * v for w, v in zip(weights, values)), abs=1e-12)
    assert prompted.n_prompts == len(weights) and prompted.weights.sum() == pytest.approx(1.0, abs=1e-12)


def test_expectation_infinities_and_zero_weights():
    models = [exact.TabularAR.random(2, 2, s) for s in range(3)]
    prompted = exact.PromptedModel(models, [0.5, 0.5, 0.0])
    assert prompted.expectation([1.0, 3.0, np.nan]) == 2.0  # μ(x) = 0 prompts never count
    assert prompted.expectation([1.0, -np.inf, 0.0]) == -np.inf
    with pytest.raises(ValueError, match="undefined"):
        prompted.expectation([np.inf, -np.inf, 0.0])
    counts = prompted.sample_prompt_counts(1000, np.random.default_rng(0))
    assert counts.sum() == 1000 and counts[2] == 0


def test_as_prompted_and_default_uniform():
    model = exact.TabularAR.random(3, 2, 0)
    single = exact.as_prompted(model)
    assert single.n_prompts == 1 and single.weights[0] == 1.0 and single[0] is model
    assert np.allclose(exact.PromptedModel([model, model]).weights, [0.5, 0.5])


@given(st.integers(0, 10**6), st.integers(2, 3), st.integers(1, 3))
def test_self_reward_is_log_prob_with_minus_inf_on_zeros(seed, vocab, horizon):
    model = exact.TabularAR.random(vocab, horizon, seed, zero_fraction=0.3)
    reference, _ = brute_log_joint(model)
    reward = exact.self_reward(model)
    assert reward.shape == model.vocab_sizes
    assert np.array_equal(np.isneginf(reward), np.isneginf(reference))
    finite = np.isfinite(reference)
    assert np.allclose(reward[finite], reference[finite], rtol=0, atol=1e-12)


def test_callable_reward_matches_array():
    model = exact.TabularAR.random((2, 3, 2), None, 4)
    ref, seqs = brute_log_joint(model)
    table = exact.reward_table(model, lambda y: y[:, 0] * 10.0 + y[:, 1] - y[:, 2])
    for y in seqs:
        assert table[tuple(y)] == y[0] * 10.0 + y[1] - y[2]


def test_bad_rewards():
    model = exact.TabularAR.random(2, 2, 1)
    with pytest.raises(ValueError, match="NaN"):
        exact.reward_table(model, np.array([[0.0, np.nan], [1.0, 2.0]]))
    with pytest.raises(ValueError, match="shape"):
        exact.reward_table(model, np.zeros(4))
    with pytest.raises(ValueError, match=r"\+inf"):
        exact.reward_table(model, np.array([[0.0, np.inf], [1.0, 2.0]]))
    with pytest.raises(ValueError, match="one value per sequence"):
        exact.reward_table(model, lambda y: np.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        exact.reward_table(model, lambda y: np.full(len(y), np.nan))
    prompted = exact.PromptedModel([model, model], [0.5, 0.5])
    with pytest.raises(ValueError, match="entries for 2 prompts"):
        exact.reward_tables(prompted, [np.zeros((2, 2))])
    assert len(exact.reward_tables(prompted, np.zeros((2, 2)))) == 2  # one shared table


def test_prompted_model_container_and_read_only_float64_weights():
    """One model is one prompt; iteration, ``repr`` (μ to 4 digits) and a read-only float64 ``μ`` even from integers."""
    models = [exact.TabularAR.random(2, 2, s) for s in range(2)]
    single = exact.PromptedModel(models[0])
    assert single.n_prompts == 1 and single[0] is models[0] and single.weights.tolist() == [1.0]
    prompted = exact.PromptedModel(models, [1 / 3, 2 / 3])
    assert list(prompted) == models and len(prompted) == 2
    assert repr(prompted) == "PromptedModel(n_prompts=2, weights=[0.3333, 0.6667])"
    integer = exact.PromptedModel(models, [0, 1])
    assert integer.weights.dtype == np.float64 and integer.weights.tolist() == [0.0, 1.0]
    for weights in (prompted.weights, integer.weights, exact.PromptedModel(models).weights):
        with pytest.raises(ValueError, match="read-only"):
            weights[0] = 0.5


def test_expectation_of_exact_values_and_single_infinities():
    """Fractions are read as floats; a lone ``+inf`` or ``-inf`` is the expectation; NaN on a live prompt is refused."""
    from fractions import Fraction

    models = [exact.TabularAR.random(2, 2, s) for s in range(3)]
    prompted = exact.PromptedModel(models, [0.5, 0.5, 0.0])
    assert prompted.expectation([Fraction(1, 2), Fraction(3, 2), 0]) == 1.0
    assert prompted.expectation([np.inf, 1.0, 0.0]) == np.inf
    assert prompted.expectation([2.0, np.inf, -np.inf]) == np.inf  # the -inf is on a μ = 0 prompt
    with pytest.raises(ValueError, match=r"^per-prompt values contain NaN$"):
        prompted.expectation([np.nan, 1.0, 0.0])
    with pytest.raises(ValueError, match=r"^per-prompt values contain both \+inf and -inf; the expectation is undefined$"):
        prompted.expectation([np.inf, -np.inf, 0.0])
    with pytest.raises(ValueError, match=r"^expected one value per prompt, shape \(3,\), got \(2,\)$"):
        prompted.expectation([1.0, 2.0])


def test_sample_prompt_counts_zero_draws_and_messages():
    prompted = exact.PromptedModel([exact.TabularAR.random(2, 2, s) for s in range(2)], [0.25, 0.75])
    np.testing.assert_array_equal(prompted.sample_prompt_counts(0, np.random.default_rng(0)), [0, 0])
    with pytest.raises(ValueError, match=r"^n must be a non-negative integer, got -1$"):
        prompted.sample_prompt_counts(-1, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"^pass a numpy\.random\.Generator"):
        prompted.sample_prompt_counts(3, 0)


def test_prompted_model_messages_match_from_their_start():
    models = [exact.TabularAR.random(2, 2, s) for s in range(3)]
    cases = [
        (lambda: exact.PromptedModel([], []), r"^a PromptedModel needs at least one prompt model$"),
        (lambda: exact.PromptedModel([models[0], 3]), r"^prompt 1: expected a finite autoregressive model, got int$"),
        (lambda: exact.PromptedModel(models, [0.5, 0.5]), r"^weights must be a 1-D vector with one entry per prompt \(3\), got shape \(2,\)$"),
        (lambda: exact.PromptedModel(models, [[0.2, 0.3, 0.5]]), r"^weights must be a 1-D vector with one entry per prompt \(3\), got shape \(1, 3\)$"),
        (lambda: exact.PromptedModel(models, [np.inf, 0.5, 0.5]), r"^prompt weights have NaN or infinite entries$"),
        (lambda: exact.PromptedModel(models, [1.2, -0.1, -0.1]), r"^prompt weights must be non-negative \(min -0\.1\)$"),
        (lambda: exact.PromptedModel(models, [0.5, 0.4, 0.05]), r"^prompt weights must sum to 1 within 1e-09; they sum to "),
        (lambda: exact.as_prompted(3), r"^expected a finite autoregressive model or a PromptedModel, got int$"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()
