"""Plain built-in data as one line of bytes: how the HumanEval checker and the sandboxed candidate talk.

Only ``None``, ``bool``, ``int``, ``float``, ``complex``, ``str``, ``bytes``,
``list``, ``tuple``, ``set``, ``frozenset`` and ``dict`` (of those) are
encoded, checked by exact type, so a subclass or an object with its own
``__eq__`` is refused (``TypeError``).  Decoding builds fresh built-in objects
from JSON, so whatever bytes an untrusted sender writes, the receiver gets
plain data whose comparisons are Python's own, or a ``ValueError``.  Tuples,
sets and ``1`` vs ``1.0`` vs ``True`` survive the round trip (``==`` between
them behaves as in-process); NaN and infinities too.

This file is also shipped, as source, into the sandboxes: standard library only.
"""

import json

__all__ = ["decode", "encode"]

_SCALARS = (type(None), bool, int, float, str)
_SEQUENCES = {list: "list", tuple: "tuple", set: "set", frozenset: "frozenset"}
_BUILDERS = {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}


def encode(value) -> bytes:
    """``value`` as one line of JSON (no newline inside); ``TypeError`` for anything but plain data."""
    return json.dumps(_tag(value), allow_nan=True, separators=(",", ":")).encode("utf-8")


def decode(line: bytes):
    """The plain value of one :func:`encode`-d line; ``ValueError`` for anything else."""
    try:
        return _untag(json.loads(line))
    except (RecursionError, TypeError, UnicodeDecodeError) as error:  # json's own errors are ValueErrors
        raise ValueError(f"not an encoded plain value: {error}") from None


def _tag(value):
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind in _SEQUENCES:
        return {_SEQUENCES[kind]: [_tag(item) for item in value]}
    if kind is dict:
        return {"dict": [[_tag(key), _tag(item)] for key, item in value.items()]}
    if kind is bytes:
        return {"bytes": value.hex()}
    if kind is complex:
        return {"complex": [value.real, value.imag]}
    raise TypeError(f"not plain built-in data: {kind.__module__}.{kind.__qualname__}")


def _untag(node):
    kind = type(node)
    if kind in _SCALARS:
        return node
    if kind is dict and len(node) == 1:
        ((tag, body),) = node.items()
        if tag in _BUILDERS and type(body) is list:
            return _BUILDERS[tag](_untag(item) for item in body)
        if tag == "dict" and type(body) is list and all(type(pair) is list and len(pair) == 2 for pair in body):
            return {_untag(key): _untag(item) for key, item in body}
        if tag == "bytes" and type(body) is str:
            return bytes.fromhex(body)
        if tag == "complex" and type(body) is list and len(body) == 2 and all(type(x) is float for x in body):
            return complex(*body)
    raise ValueError(f"not an encoded plain value: {str(node)[:80]}")
