"""Regular expressions from users, run only on a linear-time engine (RE2).

A pattern a user writes (a JSON Schema's ``pattern``, the names of its ``patternProperties``,
a value of ``"format": "regex"``) is never given to Python's ``re``: a backtracking engine can
take exponential time on a pattern such as ``^(a|a)*$``, holding the GIL all the while, and
no thread can interrupt it. Here every such pattern is compiled by RE2
(``google-re2``), whose matching time is linear in the text. What RE2 cannot do
(backreferences, lookaround, atomic groups and possessive repeats, more than 1000 repeats)
it refuses, and so does this module: ``UnsafePattern`` says why, for a person.

JSON Schema patterns are ECMA-262 regular expressions; RE2 reads almost all of them alike
(``\\d`` and ``\\w`` are ASCII, ``$`` is the end of the text). ``\\uHHHH`` and ``\\u{H...}``
are read as RE2's ``\\x{H...}``.

For ``jsonschema``: ``linear_validator_for(schema)`` is the schema's draft with ``pattern``,
``patternProperties``, ``additionalProperties`` and ``unevaluatedProperties`` (each of which
matches user patterns) done with RE2, and a format checker whose ``regex`` format compiles
with RE2. Its ``uniqueItems`` is linear too (jsonschema compares every pair of unhashable
items: 1,000 objects took it 8 s). ``schema_pattern_problems`` finds every pattern in a
schema that RE2 refuses, by where it is, so that a request can be refused naming the field.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from typing import Any

import re2
from jsonschema import (
    Draft3Validator,
    Draft4Validator,
    Draft6Validator,
    Draft7Validator,
    Draft201909Validator,
    Draft202012Validator,
    FormatChecker,
    validators,
)
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator
from referencing.jsonschema import lookup_recursive_ref

MAX_REPEAT = 1000
"""RE2's largest repeat count, ``{n}`` (nested repeats multiply)."""
MAX_PROGRAM_BYTES = 8 << 20
"""What one compiled pattern may take (RE2's own default): a longer pattern is refused."""
COMPILED_CACHE = 1024
SHOWN_CHARS = 60

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False
_OPTIONS.max_mem = MAX_PROGRAM_BYTES

_UNICODE_ESCAPE = re.compile(r"\\u(?:([0-9A-Fa-f]{4})|\{([0-9A-Fa-f]{1,6})\})")
"""ECMA-262's ``\\uHHHH`` and ``\\u{H...}`` (matched at a known backslash: no backtracking)."""

_REASONS: tuple[tuple[str, str], ...] = (
    ("invalid escape sequence: \\1", "a backreference"),
    ("invalid escape sequence: \\2", "a backreference"),
    ("invalid escape sequence: \\3", "a backreference"),
    ("invalid escape sequence: \\4", "a backreference"),
    ("invalid escape sequence: \\5", "a backreference"),
    ("invalid escape sequence: \\6", "a backreference"),
    ("invalid escape sequence: \\7", "a backreference"),
    ("invalid escape sequence: \\8", "a backreference"),
    ("invalid escape sequence: \\9", "a backreference"),
    ("invalid escape sequence: \\k", "a backreference"),
    ("invalid perl operator: (?=", "a lookahead"),
    ("invalid perl operator: (?!", "a lookahead"),
    ("invalid perl operator: (?<=", "a lookbehind"),
    ("invalid perl operator: (?<!", "a lookbehind"),
    ("invalid perl operator: (?>", "an atomic group"),
    ("bad repetition operator: *+", "a possessive repeat"),
    ("bad repetition operator: ++", "a possessive repeat"),
    ("bad repetition operator: ?+", "a possessive repeat"),
    ("invalid repetition size", f"a repeat of more than {MAX_REPEAT}"),
    ("pattern too large", "more than a compiled pattern may hold"),
)
LINEAR_ONLY = "only patterns a linear-time engine (RE2) can run are accepted"


class UnsafePattern(ValueError):
    """``pattern`` cannot be run in linear time (or is no regular expression at all);
    ``reason`` says why, for a person."""

    def __init__(self, pattern: str, reason: str) -> None:
        shown = pattern if len(pattern) <= SHOWN_CHARS else pattern[:SHOWN_CHARS] + "…"
        super().__init__(f"the pattern {shown!r} {reason}")
        self.pattern = pattern
        self.reason = reason


def to_re2(pattern: str) -> str:
    """``pattern`` (ECMA-262) in RE2's syntax: ``\\uHHHH`` becomes ``\\x{HHHH}``."""
    if "\\u" not in pattern:
        return pattern
    out: list[str] = []
    start = index = 0
    while (index := pattern.find("\\", index)) >= 0:
        escape = _UNICODE_ESCAPE.match(pattern, index)
        if escape is None:
            index += 2  # any other escape, an escaped backslash included, stays as it is
            continue
        out += [pattern[start:index], "\\x{", escape[1] or escape[2], "}"]
        start = index = escape.end()
    out.append(pattern[start:])
    return "".join(out)


@functools.lru_cache(maxsize=COMPILED_CACHE)
def compile_linear(pattern: str) -> re2._Regexp[str]:
    """``pattern`` compiled for linear-time matching, or ``UnsafePattern``."""
    try:
        return re2.compile(to_re2(pattern), _OPTIONS)
    except re2.error as exc:
        raise UnsafePattern(pattern, _reason(exc)) from None


def _reason(exc: re2.error) -> str:
    detail = exc.args[0] if exc.args else ""
    message = detail.decode(errors="replace") if isinstance(detail, bytes) else str(detail)
    for needle, feature in _REASONS:
        if needle in message:
            return f"uses {feature}, which this server does not run: {LINEAR_ONLY}."
    return f"is not a regular expression this server can run ({message}): {LINEAR_ONLY}."


def pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` cannot be used, or None when it can."""
    try:
        compile_linear(pattern)
    except UnsafePattern as exc:
        return exc.reason
    return None


def search(pattern: str, text: str) -> bool:
    """Whether ``pattern`` matches somewhere in ``text`` (as JSON Schema's ``pattern``)."""
    return compile_linear(pattern).search(text) is not None


# -- where the patterns of a schema are ------------------------------------------------------

SCHEMA_MAPS = frozenset(
    ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas", "dependencies")
)
"""Keywords whose value maps names to subschemas."""
DATA_KEYWORDS = frozenset(("const", "enum", "default", "examples"))
"""Keywords whose value is data, not schemas: a ``pattern`` inside one is no pattern."""


def schema_pattern_problems(schema: Any) -> dict[str, str]:
    """Every pattern of ``schema`` that cannot be used, by its dotted place in the schema
    (``properties.code.pattern``, ``patternProperties.(a)\\1``), with why. Subschemas under
    keywords this module does not know are looked through too: a ``$ref`` can reach them."""
    problems: dict[str, str] = {}
    for path, pattern in _patterns(schema):
        problem = pattern_problem(pattern)
        if problem is not None:
            problems.setdefault(".".join(path), problem)
    return problems


def _patterns(schema: Any) -> Iterator[tuple[tuple[str, ...], str]]:
    """(place, pattern) for each pattern in ``schema``; depth-first, without recursion."""
    stack: list[tuple[tuple[str, ...], Any]] = [((), schema)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, list):
            stack.extend(((*path, str(i)), item) for i, item in reversed(list(enumerate(node))))
            continue
        if not isinstance(node, Mapping):
            continue
        later: list[tuple[tuple[str, ...], Any]] = []
        for key, value in node.items():
            here = (*path, str(key))
            if key == "pattern" and isinstance(value, str):
                yield here, value
            elif key in DATA_KEYWORDS:
                continue
            elif key in SCHEMA_MAPS and isinstance(value, Mapping):
                for name, subschema in value.items():
                    if key == "patternProperties":
                        yield (*here, str(name)), str(name)
                    later.append(((*here, str(name)), subschema))
            else:
                later.append((here, value))
        stack.extend(reversed(later))


# -- jsonschema, matching with RE2 -----------------------------------------------------------


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    if validator.is_type(instance, "string") and not search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(
    validator: Any, patterns: Mapping[str, Any], instance: Any, schema: Any
) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for name, value in instance.items():
            if search(pattern, name):
                yield from validator.descend(value, subschema, path=name, schema_path=pattern)


def _additional_names(instance: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    """The names neither ``properties`` nor ``patternProperties`` speak for."""
    properties = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    return [
        name
        for name in instance
        if name not in properties and not any(search(p, name) for p in patterns)
    ]


def _additional_properties(
    validator: Any, additional: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[Any]:
    """jsonschema's own ``additionalProperties``, its property names matched with RE2."""
    if not validator.is_type(instance, "object"):
        return
    extras = _additional_names(instance, schema)
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif not additional and extras:
        shown = ", ".join(repr(name) for name in sorted(extras))
        if "patternProperties" in schema:
            verb = "does" if len(extras) == 1 else "do"
            patterns = ", ".join(repr(p) for p in sorted(schema["patternProperties"]))
            yield ValidationError(f"{shown} {verb} not match any of the regexes: {patterns}")
        else:
            verb = "was" if len(extras) == 1 else "were"
            yield ValidationError(
                f"Additional properties are not allowed ({shown} {verb} unexpected)"
            )


def _unevaluated_properties(
    validator: Any, unevaluated: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[Any]:
    """jsonschema's own ``unevaluatedProperties`` (2019-09 and 2020-12), the names that
    ``patternProperties`` evaluates matched with RE2."""
    if not validator.is_type(instance, "object"):
        return
    evaluated = _evaluated_names(validator, instance, schema)
    failing = [
        name
        for name in instance
        if name not in evaluated
        and next(
            iter(validator.descend(instance[name], unevaluated, path=name, schema_path=name)),
            None,
        )
        is not None
    ]
    if failing:
        verb = "was" if len(failing) == 1 else "were"
        if unevaluated is False:
            shown = ", ".join(repr(name) for name in sorted(failing, key=str))
            yield ValidationError(
                f"Unevaluated properties are not allowed ({shown} {verb} unexpected)"
            )
        else:
            shown = ", ".join(repr(name) for name in failing)
            yield ValidationError(
                "Unevaluated properties are not valid under the given schema "
                f"({shown} {verb} unevaluated and invalid)"
            )


def _evaluated_names(validator: Any, instance: Mapping[str, Any], schema: Any) -> set[str]:
    """The names of ``instance`` that ``schema`` evaluates (jsonschema's walk, as its
    ``find_evaluated_property_keys_by_schema`` for the validator's draft does it)."""
    if validator.is_type(schema, "boolean"):
        return set()
    draft2019 = validator.META_SCHEMA is Draft201909Validator.META_SCHEMA
    names: set[str] = set()
    keys = ("$ref",) if draft2019 else ("$ref", "$dynamicRef")
    resolved_all = [validator._resolver.lookup(schema[key]) for key in keys if key in schema]
    if draft2019 and "$recursiveRef" in schema:
        resolved_all.append(lookup_recursive_ref(validator._resolver))
    for resolved in resolved_all:
        at = validator.evolve(schema=resolved.contents, _resolver=resolved.resolver)
        names |= _evaluated_names(at, instance, resolved.contents)
    names |= _named_by_properties(validator, instance, schema, draft2019)
    for pattern in schema.get("patternProperties", {}):
        names.update(name for name in instance if search(pattern, name))
    for name, subschema in schema.get("dependentSchemas", {}).items():
        if name in instance:
            names |= _evaluated_names(validator, instance, subschema)
    for subschema in _applying_subschemas(validator, instance, schema):
        names |= _evaluated_names(validator, instance, subschema)
    return names


def _applying_subschemas(
    validator: Any, instance: Mapping[str, Any], schema: Mapping[str, Any]
) -> Iterator[Any]:
    """The ``allOf``/``oneOf``/``anyOf`` branches ``instance`` is valid against, and the
    ``if``/``then`` or ``else`` that applies."""
    for keyword in ("allOf", "oneOf", "anyOf"):
        for subschema in schema.get(keyword, []):
            if validator.evolve(schema=subschema).is_valid(instance):
                yield subschema
    if "if" in schema:
        if validator.evolve(schema=schema["if"]).is_valid(instance):
            yield schema["if"]
            if "then" in schema:
                yield schema["then"]
        elif "else" in schema:
            yield schema["else"]


def _named_by_properties(
    validator: Any, instance: Mapping[str, Any], schema: Mapping[str, Any], draft2019: bool
) -> set[str]:
    keywords = ("properties", "additionalProperties", "unevaluatedProperties")
    names: set[str] = set()
    if draft2019:
        for keyword in keywords:
            value = schema.get(keyword)
            if value is True:
                names.update(instance)
            elif isinstance(value, Mapping):
                names.update(name for name in value if name in instance)
        return names
    properties = schema.get("properties")
    if isinstance(properties, Mapping):
        names.update(name for name in properties if name in instance)
    for keyword in keywords[1:]:
        subschema = schema.get(keyword)
        if subschema is not None:
            names.update(
                name
                for name, value in instance.items()
                if validator.evolve(schema=subschema).is_valid(value)
            )
    return names


def _unique_items(validator: Any, unique: Any, instance: Any, schema: Any) -> Iterator[Any]:
    """jsonschema's ``uniqueItems``, each item hashed in its JSON Schema equality: linear."""
    if not unique or not validator.is_type(instance, "array"):
        return
    seen: set[object] = set()
    for item in instance:
        key = _equality_key(item)
        if key in seen:
            yield ValidationError(f"{instance!r} has non-unique elements")
            return
        seen.add(key)


def _equality_key(value: Any) -> object:
    """A hashable stand-in for ``value``, equal exactly when JSON Schema calls two values
    equal: ``1 == 1.0`` but ``true != 1``, objects whatever their order, arrays in order."""
    if isinstance(value, bool) or value is None:
        return ("literal", value)
    if isinstance(value, int | float | str):
        return value
    if isinstance(value, Mapping):
        return ("object", frozenset((name, _equality_key(v)) for name, v in value.items()))
    if isinstance(value, list | tuple):
        return ("array", tuple(_equality_key(v) for v in value))
    return ("other", repr(value))


def _is_regex(instance: object) -> bool:
    if isinstance(instance, str):
        compile_linear(instance)
    return True


def linear_format_checker(base: FormatChecker) -> FormatChecker:
    """``base``'s formats, with ``regex`` compiled by RE2 (refusing what RE2 cannot run)."""
    checker = FormatChecker(formats=())
    checker.checkers = dict(base.checkers)
    checker.checkers["regex"] = (_is_regex, UnsafePattern)
    return checker


def _linear(base: type[Validator]) -> type[Validator]:
    keywords: dict[str, Any] = {
        "pattern": _pattern,
        "patternProperties": _pattern_properties,
        "additionalProperties": _additional_properties,
        "uniqueItems": _unique_items,
    }
    if "unevaluatedProperties" in base.VALIDATORS:
        keywords["unevaluatedProperties"] = _unevaluated_properties
    extend: Any = validators.extend  # untyped in jsonschema's stubs
    extended: type[Validator] = extend(
        base, keywords, format_checker=linear_format_checker(base.FORMAT_CHECKER)
    )
    return extended


DRAFTS: tuple[type[Validator], ...] = (
    Draft3Validator,
    Draft4Validator,
    Draft6Validator,
    Draft7Validator,
    Draft201909Validator,
    Draft202012Validator,
)
LINEAR_VALIDATORS: dict[type[Validator], type[Validator]] = {d: _linear(d) for d in DRAFTS}
"""Each draft's validator class, matching patterns with RE2."""


def linear_validator(draft: type[Validator]) -> type[Validator]:
    """``draft``'s validator class matching patterns with RE2 (``draft`` itself when it is
    one already)."""
    if draft in LINEAR_VALIDATORS.values():
        return draft
    return LINEAR_VALIDATORS[draft]


def linear_validator_for(
    schema: Any, default: type[Validator] = Draft202012Validator
) -> type[Validator]:
    """The validator class of ``schema``'s ``$schema`` (``default`` without one), matching
    patterns with RE2."""
    draft: type[Validator] = validators.validator_for(schema, default=default)
    return LINEAR_VALIDATORS.get(draft, linear_validator(default))


def check_schema(cls: type[Validator], schema: Any) -> None:
    """``cls.check_schema(schema)`` (``SchemaError`` when it is not one), its ``format:
    regex`` values (every ``pattern``) compiled by RE2 rather than ``re``."""
    checkable: Any = cls  # the protocol's check_schema leaves out format_checker
    checkable.check_schema(schema, format_checker=linear_validator(cls).FORMAT_CHECKER)


def draft_of(cls: type[Validator]) -> type[Validator]:
    """The plain jsonschema draft ``cls`` is (or extends)."""
    for draft, linear in LINEAR_VALIDATORS.items():
        if cls is linear or cls is draft:
            return draft
    return cls
