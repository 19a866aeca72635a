"""``api/bodies.decode_json`` against a plain walk of the decoded value.

The decoder judges nesting, numbers and text from the body's bytes (at C speed); these
properties hold it to what a walk over every value says, for JSON full of the characters
that could fool a byte-level reading: quotes, backslashes, brackets inside strings, escapes
of NULs and surrogates (lone, or pairs that make one character).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creatix.api.bodies import MAX_DEPTH, decode_json, text_problem
from creatix.kit.errors import InvalidRequest

TRICKY = st.sampled_from(
    ["\\", '"', "[", "]", "{", "}", "\\u0000", "\x00", "\ud800", "\udfff", "\U0001f600", "e9"]
)
TEXT = st.lists(st.one_of(TRICKY, st.text(max_size=3)), max_size=4).map("".join)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), TEXT
)


def _nested(depth: int, leaf: Any) -> Any:
    for index in range(depth):
        leaf = [leaf] if index % 2 else {"k": leaf}
    return leaf


VALUES = st.one_of(
    st.recursive(
        SCALARS,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)
        ),
        max_leaves=20,
    ),
    st.builds(_nested, st.integers(MAX_DEPTH - 3, MAX_DEPTH + 3), SCALARS),
)


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


def _first_unstorable(value: Any, path: tuple[str, ...] = ()) -> tuple[str, ...] | None:
    if isinstance(value, str):
        return path if text_problem(value) else None
    if not isinstance(value, dict | list):
        return None
    children = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in children:
        if isinstance(key, str) and text_problem(key):
            return path
        found = _first_unstorable(item, (*path, str(key)))
        if found is not None:
            return found
    return None


@settings(max_examples=1000, deadline=None)
@given(VALUES, st.booleans())
def test_the_decoder_agrees_with_a_walk(value: Any, ascii_only: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate has no UTF-8 form: clients escape it
        raw = json.dumps(value, ensure_ascii=True).encode()
    # What the body says: two surrogates in a row written as escapes are one character.
    sent = json.loads(raw)
    unstorable = _first_unstorable(sent)
    decoded, refused = _decoded(raw)
    if refused is None:
        assert _depth(value) <= MAX_DEPTH
        assert unstorable is None
        assert decoded == sent
    elif _depth(value) > MAX_DEPTH:
        assert refused.code == "invalid_json"
        assert "nested" in refused.message
    else:
        assert unstorable is not None, refused.message
        assert refused.param == (".".join(unstorable) or None)


def _decoded(raw: bytes) -> tuple[Any, InvalidRequest | None]:
    try:
        return decode_json(raw), None
    except InvalidRequest as refused:
        return None, refused


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'["\xff"]', "not UTF-8"),
        (b'["\xed\xa0\x80"]', "not UTF-8"),
        (b"[" + b"7" * 5000 + b"]", "digits"),
        (b"[" * 200_000, "nested"),
        (b"[1e999]", "too large"),
        (b"[-" + b"9" * 400 + b".5]", "too large"),
        (b"[NaN]", "NaN"),
        (b"[Infinity]", "Infinity"),
        (b'{"a": 1,}', "Expecting"),
    ],
)
def test_malformed_bodies_are_invalid_json(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        decode_json(raw)
    assert refused.value.code == "invalid_json"
    assert reason in refused.value.message


def test_numbers_that_fit_are_taken() -> None:
    assert decode_json(b"[1e308, -1.5E+10, true, false, 12345678901234567890]") == [
        1e308,
        -1.5e10,
        True,
        False,
        12345678901234567890,
    ]
