"""The HumanEval wire format: plain data round-trips exactly; nothing else is encoded or decoded."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llm.experiments.plain_data import decode, encode

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.binary() | st.complex_numbers()
keys = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text() | st.binary()
hashable = st.recursive(keys, lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3), max_leaves=6)
plain = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3)
    | st.tuples(inner, inner)
    | st.sets(hashable, max_size=3)
    | st.dictionaries(hashable, inner, max_size=3),
    max_leaves=12,
)


def same(a, b) -> bool:
    """Equal with the same types all the way down (NaN equals NaN)."""
    if type(a) is not type(b):
        return False
    if type(a) is float:
        return a == b or (math.isnan(a) and math.isnan(b))
    if type(a) is complex:
        return same(a.real, b.real) and same(a.imag, b.imag)
    if type(a) in (list, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if type(a) is dict:
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a.items(), b.items()))
    return a == b


@given(plain)
def test_plain_data_round_trips_with_its_types(value):
    line = encode(value)
    assert b"\n" not in line
    assert same(decode(line), value)


def test_one_two_and_true_stay_distinct_types():
    assert [type(x) for x in decode(encode([1, 1.0, True, (1,), {1}]))] == [int, float, bool, tuple, set]


class AlwaysEqual:
    def __eq__(self, other):
        return True


class Int(int):
    pass


@pytest.mark.parametrize("value", [AlwaysEqual(), Int(3), [1, AlwaysEqual()], {"k": Int(1)}, range(3)])
def test_anything_but_plain_data_is_refused(value):
    with pytest.raises(TypeError, match="not plain built-in data"):
        encode(value)


@pytest.mark.parametrize(
    "line", [b"", b"{", b'{"eq":"always"}', b'{"set":[{"list":[]}]}', b'{"bytes":"zz"}', b"[" * 100000, b"\xff"]
)
def test_anything_but_an_encoded_value_is_a_value_error(line):
    with pytest.raises(ValueError):
        decode(line)
