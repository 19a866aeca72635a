"""Users' regular expressions run on RE2: in linear time, or refused naming where they are.

Every check that would take Python's ``re`` exponential time runs in a worker process with a
budget (``ProcessRunner``), so that a regression fails the test instead of hanging it: a
backtracking match holds the GIL, and nothing in the test's own process could stop it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from jsonschema import Draft7Validator, Draft201909Validator, Draft202012Validator
from jsonschema.exceptions import SchemaError

from creatix.kit.patterns import (
    UnsafePattern,
    check_schema,
    compile_linear,
    linear_validator_for,
    pattern_problem,
    schema_pattern_problems,
    search,
    to_re2,
)
from creatix.kit.processes import ProcessRunner

CATASTROPHIC = "^(a|a)*$"
HOSTILE = "a" * 64 + "!"
"""2^64 steps for a backtracking engine to refuse with ``CATASTROPHIC``."""


def _messages(schema: dict[str, Any], instance: Any) -> list[str]:
    validator = linear_validator_for(schema)(schema)
    return sorted(error.message for error in validator.iter_errors(instance))


@pytest.fixture
async def isolated() -> AsyncIterator[ProcessRunner]:
    runner = ProcessRunner(workers=1, budget_seconds=20)
    yield runner
    await runner.close()


@pytest.mark.parametrize(
    ("pattern", "feature"),
    [
        ("(a)\\1", "a backreference"),
        ("(?P<x>a)\\k<x>", "a backreference"),
        ("a(?=b)", "a lookahead"),
        ("a(?!b)", "a lookahead"),
        ("(?<=a)b", "a lookbehind"),
        ("(?<!a)b", "a lookbehind"),
        ("(?>a)", "an atomic group"),
        ("a++", "a possessive repeat"),
        ("a{1001}", "a repeat of more than 1000"),
        ("(a{100}){100}", "a repeat of more than 1000"),
    ],
)
def test_what_re2_cannot_run_is_refused_saying_why(pattern: str, feature: str) -> None:
    problem = pattern_problem(pattern)
    assert problem is not None
    assert problem.startswith(f"uses {feature},")
    with pytest.raises(UnsafePattern):
        compile_linear(pattern)


def test_a_broken_pattern_is_refused() -> None:
    problem = pattern_problem("(unclosed")
    assert problem is not None
    assert problem.startswith("is not a regular expression")


def test_ecma_unicode_escapes_are_read_as_re2s() -> None:
    assert to_re2("[\\u0600-\\u06FF]+") == "[\\x{0600}-\\x{06FF}]+"
    assert to_re2("\\u{1F600}") == "\\x{1F600}"
    assert to_re2("\\\\u0041") == "\\\\u0041", "an escaped backslash and a 'u' stay"
    assert search("^\\u0041$", "A")
    assert search("^[\\u0600-\\u06FF]+$", "مرحبا")


def test_json_schema_semantics_are_kept() -> None:
    assert search("^[A-Z]{3}-\\d{4}$", "ABC-1234")
    assert not search("^[A-Z]{3}-\\d{4}$", "ABC-1234\n"), "$ is the end of the text, as ECMA"
    assert search("b", "abc"), "a pattern is searched for, not anchored"
    assert search("^\\p{L}+$", "Café"), "Unicode classes (which re lacks) work"


def test_a_schemas_unusable_patterns_are_found_by_place() -> None:
    schema = {
        "type": "object",
        "properties": {
            "code": {"type": "string", "pattern": "(a)\\1"},
            "pattern": {"type": "string", "pattern": "^ok$"},
            "tags": {"type": "array", "items": {"anyOf": [{"pattern": "a(?=b)"}]}},
        },
        "patternProperties": {"^(?!x)": {}, "^y": {"pattern": "(?<=y)z"}},
        "$defs": {"sku": {"pattern": "\\d+(?!\\d)"}},
        "x-elsewhere": {"deep": {"pattern": "(?>a)"}},
        "enum": [{"pattern": "(a)\\1"}],
        "default": {"pattern": "(a)\\1"},
    }
    assert set(schema_pattern_problems(schema)) == {
        "properties.code.pattern",
        "properties.tags.items.anyOf.0.pattern",
        "patternProperties.^(?!x)",
        "patternProperties.^y.pattern",
        "$defs.sku.pattern",
        "x-elsewhere.deep.pattern",
    }
    assert schema_pattern_problems({"properties": {"a": {"pattern": CATASTROPHIC}}}) == {}


def test_check_schema_compiles_patterns_with_re2() -> None:
    with pytest.raises(SchemaError):
        check_schema(Draft202012Validator, {"pattern": "(a)\\1"})
    check_schema(Draft202012Validator, {"pattern": "^\\p{L}+$"})  # re would refuse \p


def test_each_draft_keeps_its_validator() -> None:
    assert linear_validator_for({}).META_SCHEMA == Draft202012Validator.META_SCHEMA
    draft7 = {"$schema": "http://json-schema.org/draft-07/schema#"}
    assert linear_validator_for(draft7).META_SCHEMA == Draft7Validator.META_SCHEMA


SCHEMAS_OVER_HOSTILE_TEXT: list[tuple[str, dict[str, Any], Any, list[str]]] = [
    (
        "pattern",
        {"type": "string", "pattern": CATASTROPHIC},
        HOSTILE,
        [f"{HOSTILE!r} does not match {CATASTROPHIC!r}"],
    ),
    (
        "patternProperties",
        {"type": "object", "patternProperties": {CATASTROPHIC: {"type": "integer"}}},
        {HOSTILE: "x", "aaaa": "y"},
        ["'y' is not of type 'integer'"],
    ),
    (
        "additionalProperties",
        {"type": "object", "patternProperties": {CATASTROPHIC: {}}, "additionalProperties": False},
        {HOSTILE: 1, "aa": 2},
        [f"{HOSTILE!r} does not match any of the regexes: {CATASTROPHIC!r}"],
    ),
    (
        "unevaluatedProperties (2020-12)",
        {"patternProperties": {CATASTROPHIC: {}}, "unevaluatedProperties": False},
        {HOSTILE: 1, "aa": 2},
        [f"Unevaluated properties are not allowed ({HOSTILE!r} was unexpected)"],
    ),
    (
        "unevaluatedProperties (2019-09)",
        {
            "$schema": "https://json-schema.org/draft/2019-09/schema",
            "allOf": [{"patternProperties": {CATASTROPHIC: {}}}],
            "unevaluatedProperties": False,
        },
        {HOSTILE: 1, "aa": 2},
        [f"Unevaluated properties are not allowed ({HOSTILE!r} was unexpected)"],
    ),
]


@pytest.mark.parametrize(
    ("schema", "instance", "expected"),
    [case[1:] for case in SCHEMAS_OVER_HOSTILE_TEXT],
    ids=[case[0] for case in SCHEMAS_OVER_HOSTILE_TEXT],
)
async def test_validation_matches_in_linear_time(
    isolated: ProcessRunner, schema: dict[str, Any], instance: Any, expected: list[str]
) -> None:
    assert await isolated.run(_messages, schema, instance) == expected


def test_the_validators_agree_with_jsonschema_on_ordinary_patterns() -> None:
    schema = {
        "type": "object",
        "properties": {"sku": {"type": "string", "pattern": "^[A-Z]{3}-\\d{4}$"}},
        "patternProperties": {"^x-": {"type": "string"}},
        "additionalProperties": False,
    }
    for instance in (
        {"sku": "ABC-1234"},
        {"sku": "abc"},
        {"sku": "ABC-1234", "x-note": "ok"},
        {"x-note": 3},
        {"other": 1},
    ):
        plain = sorted(e.message for e in Draft202012Validator(schema).iter_errors(instance))
        assert _messages(schema, instance) == plain, instance


def test_a_2019_schema_is_read_as_2019() -> None:
    schema = {"$schema": "https://json-schema.org/draft/2019-09/schema"}
    assert linear_validator_for(schema).META_SCHEMA == Draft201909Validator.META_SCHEMA


def _unique_items_errors(items: list[Any]) -> list[str]:
    return _messages({"type": "array", "uniqueItems": True}, items)


async def test_unique_items_is_checked_in_linear_time(isolated: ProcessRunner) -> None:
    # jsonschema compares every pair of unhashable items: 5,000 objects are minutes.
    items: list[Any] = [{"n": i, "tags": [i, str(i)]} for i in range(5_000)]
    assert await isolated.run(_unique_items_errors, items) == []
    repeated = [*items, {"tags": [0, "0"], "n": 0.0}]
    [message] = await isolated.run(_unique_items_errors, repeated)
    assert message.endswith("has non-unique elements")


@pytest.mark.parametrize(
    "items",
    [
        [1, 1.0],
        [1, True],
        [0, False],
        [None, False],
        [{"a": 1, "b": [2]}, {"b": [2], "a": 1}],
        [[1, 2], [2, 1]],
        [[1, [True]], [1, [1]]],
        ["1", 1],
        [{"a": None}, {"a": False}],
    ],
)
def test_unique_items_agrees_with_jsonschema(items: list[Any]) -> None:
    schema = {"uniqueItems": True}
    plain = [e.message for e in Draft202012Validator(schema).iter_errors(items)]
    assert _messages(schema, items) == plain
