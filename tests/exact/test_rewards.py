"""``exact.rewards``: reward tables (Eq. 1's self-reward, arrays, callables), their checks and messages.

References: the sequences of ``Y = [V_1] × ... × [V_T]`` enumerated by ``itertools.product``
(C order), rewards written entry by entry, and every error message matched from its start.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import exact
from exact.rewards import all_sequences, check_finite_on_support

MODEL = exact.TabularAR.random(2, 2, 1)


@pytest.mark.parametrize("sizes", [(3,), (2, 3), (3, 1, 2), (1, 1)], ids=str)
def test_all_sequences_is_itertools_product_in_c_order(sizes):
    got = all_sequences(sizes)
    assert got.dtype == np.int64 and got.shape == (int(np.prod(sizes)), len(sizes))
    np.testing.assert_array_equal(got, np.array(list(itertools.product(*map(range, sizes)))).reshape(-1, len(sizes)))


def test_reward_tables_are_float64_read_only_whatever_the_input():
    """Integer lists, integer arrays and callables returning integers or a column ``(n, 1)`` all give read-only float64 tables."""
    expected = np.array([[0.0, 1.0], [2.0, 3.0]])
    for reward in (
        [[0, 1], [2, 3]],
        np.array([[0, 1], [2, 3]]),
        lambda y: 2 * y[:, 0] + y[:, 1],
        lambda y: (2 * y[:, 0] + y[:, 1])[:, None],
    ):
        table = exact.reward_table(MODEL, reward)
        assert table.dtype == np.float64
        np.testing.assert_array_equal(table, expected)
        with pytest.raises(ValueError, match="read-only"):
            table[0, 0] = 5.0
    tables = exact.reward_tables(exact.PromptedModel([MODEL, MODEL]), [[[0, 1], [2, 3]], lambda y: 2 * y[:, 0] + y[:, 1]])
    assert len(tables) == 2 and all(t.dtype == np.float64 for t in tables)
    np.testing.assert_array_equal(tables[1], expected)


def test_reward_messages_name_the_reward_and_the_prompt():
    cases = [
        ("abc", r"^reward must be an array of shape \(2, 2\) or a callable on \(n, T\) sequences$"),
        (np.zeros(4), r"^reward must have shape model\.vocab_sizes = \(2, 2\), got \(4,\)$"),
        (np.array([[0.0, np.nan], [1.0, 2.0]]), r"^reward has NaN entries \(1 of 4\)$"),
        (np.array([[0.0, np.inf], [1.0, 2.0]]), r"^reward has \+inf entries; rewards must be < \+inf$"),
        (lambda y: np.zeros(3), r"^reward: a callable reward must return one value per sequence, shape \(4,\), got \(3,\)$"),
        (lambda y: np.zeros((4, 2)), r"^reward: a callable reward must return one value per sequence, shape \(4,\), got \(4, 2\)$"),
    ]
    for reward, message in cases:
        with pytest.raises(ValueError, match=message):
            exact.reward_table(MODEL, reward)
        with pytest.raises(ValueError, match=message.replace("^reward", r"^reward \(prompt 0\)")):
            exact.reward_tables(MODEL, reward)
    prompted = exact.PromptedModel([MODEL, MODEL])
    with pytest.raises(ValueError, match=r"^reward_table takes one prompt's model; use reward_tables for a PromptedModel$"):
        exact.reward_table(prompted, np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"^reward has 1 entries for 2 prompts$"):
        exact.reward_tables(prompted, [np.zeros((2, 2))])
    with pytest.raises(ValueError, match=r"^reward \(prompt 1\) has NaN entries \(4 of 4\)$"):
        exact.reward_tables(prompted, [np.zeros((2, 2)), np.full((2, 2), np.nan)])


def test_finite_on_support_counts_the_bad_sequences():
    log_p = np.array([[np.log(0.25), np.log(0.25)], [np.log(0.5), -np.inf]])  # support: 3 sequences
    check_finite_on_support(log_p, np.array([[1.0, 2.0], [3.0, -np.inf]]))  # -inf off the support is fine
    with pytest.raises(ValueError, match=r"^reward must be finite on the support of π \(it is -inf at 1 sequences with π\(y\) > 0\)$"):
        check_finite_on_support(log_p, np.array([[-np.inf, 2.0], [3.0, 0.0]]))


def test_allocation_guards_name_the_table_and_its_size():
    model = exact.TabularAR.random((3, 4, 5), seed=0)
    with exact.memory_limit(16):
        with pytest.raises(ValueError, match=r"^the list of all sequences needs 180 entries \(1,440 bytes = 1\.4 KiB\), over"):
            all_sequences(model.vocab_sizes)
        with pytest.raises(ValueError, match=r"^the self-reward table needs 60 entries \(480 bytes = 480 B\), over"):
            exact.self_reward(model)
