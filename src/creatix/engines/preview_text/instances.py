"""Valid instances of a JSON Schema, filled with ad copy: the preview engine's JSON answers.

``build_instance`` walks the schema (Draft 2020-12 by default; draft-07 when its
``$schema`` says so, or when the schema is only valid as draft-07, as with list-form
``items``), builds a value, and validates it with ``jsonschema`` (formats checked) before
handing it back: what comes out is an instance, or ``SchemaUnsatisfiable`` says which keyword
could not be met, and where.

What is understood: ``type`` (one or a list; a non-null type is preferred), ``properties``,
``required``, ``additionalProperties``, ``patternProperties``, ``min/maxProperties``,
``dependentRequired``, ``items`` / ``prefixItems`` (and draft-07's list ``items`` with
``additionalItems``), ``min/maxItems``, ``uniqueItems``, ``contains``, ``enum``, ``const``,
``min/maxLength``, ``pattern``, ``format`` (email, uri, hostname, date, date-time, time,
uuid, ipv4, ipv6, ...), ``minimum``/``maximum``/``exclusive*``, ``multipleOf``,
``allOf`` (merged), ``anyOf``/``oneOf`` (the first branch that yields a valid instance) and
``$ref`` to the schema's own ``$defs``/``definitions`` (or any JSON pointer or anchor in it;
nothing is ever fetched). Other keywords (``not``, ``if``/``then``, ...) are left to the
final validation. Strings are ad copy chosen by the property's name (``headline``,
``tagline``, ``cta``, ``description``, ``hashtags``, ...), fitted to the length bounds; a
``pattern`` the copy does not match is tried with a few variants of it, then with strings
drawn from the regular expression itself.

The schema's patterns are matched by RE2 (``kit/patterns.py``), in linear time; a pattern RE2
cannot run (a backreference, a lookaround) makes the schema unsatisfiable. Strings drawn from
a pattern are at most ``SAMPLE_CHARS`` long.
"""

from __future__ import annotations

import importlib
import json
import math
import re
import time
import uuid
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from random import Random
from typing import Any

from jsonschema import Draft7Validator, Draft202012Validator, validators
from jsonschema.exceptions import SchemaError, best_match
from jsonschema.protocols import Validator
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT7, DRAFT202012

from creatix.engines.preview_text.brief import Limit
from creatix.engines.preview_text.copy import Writer, capitalised, kind_for, trim
from creatix.engines.preview_text.vocabulary import word_set
from creatix.kit.patterns import (
    UnsafePattern,
    check_schema,
    compile_linear,
    draft_of,
    linear_validator,
    schema_pattern_problems,
    search,
)

MAX_DEPTH = 32
"""Deeper than this, a schema is taken to recurse without an end."""
MINIMAL_DEPTH = 6
MINIMAL_REFS = 3
"""Deeper than ``MINIMAL_DEPTH`` levels, or past ``MINIMAL_REFS`` references on the way (a
recursive schema), only required properties and the fewest items are built."""
LIST_ITEMS = 3
OTHER_ITEMS = 2
UNIQUE_TRIES = 6
TIME_BUDGET_SECONDS = 2.0
"""A schema that takes longer than this to build for (many nested branches) is refused."""
BRANCH_TRIES = 8
"""Values tried per branch of ``anyOf``/``oneOf`` (and per item for ``uniqueItems``)."""
PATTERN_TRIES = 60
SAMPLE_CHARS = 10_000
"""The longest string drawn from a pattern (nested repeats multiply)."""
EXTRA_NAMES = ("note", "extra", "detail", "label", "info", "meta", "tag", "field")
PATTERNS = "__creatix_patterns__"
CONFLICT = "__creatix_conflict__"
REFERENCES = ("$ref", "$dynamicRef", "$recursiveRef")
OBJECT_KEYWORDS = word_set(
    "properties required additionalProperties patternProperties minProperties maxProperties "
    "propertyNames dependentRequired unevaluatedProperties"
)
ARRAY_KEYWORDS = word_set(
    "items prefixItems additionalItems minItems maxItems uniqueItems contains unevaluatedItems"
)
STRING_KEYWORDS = word_set("minLength maxLength pattern format contentMediaType")
NUMBER_KEYWORDS = word_set("minimum maximum exclusiveMinimum exclusiveMaximum multipleOf")
LOWER_BOUNDS = word_set("minimum minLength minItems minProperties minContains")
UPPER_BOUNDS = word_set("maximum maxLength maxItems maxProperties maxContains")
SUBSCHEMA_KEYWORDS = word_set(
    "items additionalItems contains propertyNames unevaluatedItems unevaluatedProperties "
    "if then else"
)
PRINTABLE = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.#@!"
_re_parser: Any = importlib.import_module("re._parser")
_MAXREPEAT = int(_re_parser.MAXREPEAT)


class SchemaUnsatisfiable(Exception):
    """No instance could be built: ``keyword`` is the one that could not be met, ``where``
    the place in the instance (``$.variants[0].headline``)."""

    def __init__(self, keyword: str, where: str, detail: str) -> None:
        super().__init__(f"{detail} ('{keyword}' at {where})")
        self.keyword = keyword
        self.where = where
        self.detail = detail


class _OutOfTime(Exception):
    """Past the builder's time budget: not caught by the search for alternatives."""


@dataclass(frozen=True)
class _At:
    """Where in the instance a value is being built, and what it is called."""

    resolver: Any
    """A ``referencing`` resolver, based where the schema being built came from."""
    path: tuple[str | int, ...] = ()
    name: str = ""
    index: int = 0
    item: bool = False
    refs: int = 0

    @property
    def where(self) -> str:
        return _where(self.path)

    @property
    def minimal(self) -> bool:
        return len(self.path) > MINIMAL_DEPTH or self.refs > MINIMAL_REFS

    def child(self, name: str) -> _At:
        return replace(self, path=(*self.path, name), name=name, index=0, item=False)

    def element(self, index: int, attempt: int = 0) -> _At:
        return replace(self, path=(*self.path, index), index=index + attempt * 7, item=True)


def _where(path: Sequence[str | int]) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def validator_class(schema: Any) -> type[Validator]:
    """The draft to read ``schema`` by: its ``$schema``; without one, 2020-12, or draft-07
    when only that reading is valid. Its patterns are matched with RE2."""
    if isinstance(schema, Mapping) and "$schema" in schema:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            drafts = [validators.validator_for(schema, default=Draft202012Validator)]
    else:
        drafts = [Draft202012Validator, Draft7Validator]
    for place, problem in schema_pattern_problems(schema).items():
        raise SchemaUnsatisfiable("pattern", "$", f"the schema's {place} {problem}")
    candidates = [linear_validator(draft) for draft in drafts]
    first: SchemaError | None = None
    for candidate in candidates:
        try:
            check_schema(candidate, schema)
        except SchemaError as exc:
            first = first or exc
            continue
        return candidate
    message = first.message if first is not None else "unknown problem"
    raise SchemaUnsatisfiable(
        "$schema", "$", f"the response schema is not a valid JSON Schema: {message[:200]}"
    )


def build_instance(schema: Any, writer: Writer, rng: Random) -> Any:
    """A valid instance of ``schema`` (checked), or ``SchemaUnsatisfiable``."""
    return InstanceBuilder(schema, writer, rng).build()


class InstanceBuilder:
    def __init__(self, schema: Any, writer: Writer, rng: Random) -> None:
        self.schema = schema
        self.writer = writer
        self.rng = rng
        cls = validator_class(schema)
        specification = DRAFT7 if draft_of(cls) is Draft7Validator else DRAFT202012
        resource: Resource[Any] = Resource.from_contents(
            schema, default_specification=specification
        )
        # An empty registry: references outside the schema are never fetched.
        self.resolver: Any = Registry().resolver_with_root(resource)
        self.validator = cls(schema, format_checker=cls.FORMAT_CHECKER, registry=Registry())
        self.deadline = time.monotonic() + TIME_BUDGET_SECONDS

    def build(self) -> Any:
        try:
            value = self._value(self.schema, _At(self.resolver))
        except _OutOfTime:
            raise SchemaUnsatisfiable(
                "$schema",
                "$",
                f"the schema takes too long to build an instance for "
                f"(over {TIME_BUDGET_SECONDS:g} s)",
            ) from None
        self.check(value)
        return value

    def check(self, value: Any) -> None:
        try:
            error = best_match(self.validator.iter_errors(value))
        except Unresolvable as exc:
            raise SchemaUnsatisfiable(
                "$ref", "$", f"a reference cannot be resolved ({str(exc)[:120]})"
            ) from None
        except UnsafePattern as exc:
            raise SchemaUnsatisfiable("pattern", "$", str(exc)) from None
        if error is not None:
            raise SchemaUnsatisfiable(
                str(error.validator),
                _where(list(error.absolute_path)),
                f"the instance built does not validate: {error.message[:160]}",
            )

    def _valid(self, schema: Any, value: Any, at: _At) -> bool:
        try:
            return self.validator.evolve(schema=schema, _resolver=at.resolver).is_valid(value)
        except Unresolvable:
            return False
        except UnsafePattern as exc:
            raise SchemaUnsatisfiable("pattern", at.where, str(exc)) from None

    # -- one value ---------------------------------------------------------------------------

    def _value(self, schema: Any, at: _At) -> Any:
        """The first (most fitting) value for ``schema`` here."""
        for value in self._candidates(schema, at):
            return value
        raise SchemaUnsatisfiable("type", at.where, "no value fits here")

    def _candidates(self, schema: Any, at: _At) -> Iterator[Any]:
        """Values for ``schema`` here, the most fitting first: one per type for objects,
        arrays and strings, a few for numbers and booleans, each valid enum value, each
        branch's. Raises ``SchemaUnsatisfiable`` when there is none."""
        if len(at.path) > MAX_DEPTH:
            raise SchemaUnsatisfiable(
                "$ref", at.where, "the schema nests too deep for an instance (endless recursion?)"
            )
        if time.monotonic() > self.deadline:
            raise _OutOfTime
        flat, at = self._flatten(schema, at)
        if CONFLICT in flat:
            keyword = str(flat[CONFLICT])
            raise SchemaUnsatisfiable(keyword, at.where, f"the subschemas' {keyword} disagree")
        for keyword in ("anyOf", "oneOf"):
            if keyword in flat:
                yield from self._branches(keyword, flat, at)
                return
        if "const" in flat:
            yield flat["const"]
            return
        if "enum" in flat:
            yield from self._enum(flat, at)
            return
        failures: list[SchemaUnsatisfiable] = []
        found = False
        for type_name in self._types(flat, at):
            try:
                values = self._typed(type_name, flat, at)
            except SchemaUnsatisfiable as exc:
                failures.append(exc)
                continue
            found = True
            yield from values
        if not found:
            raise failures[0]

    def _typed(self, type_name: str, schema: dict[str, Any], at: _At) -> list[Any]:
        if type_name == "object":
            return [self._object(schema, at)]
        if type_name == "array":
            return [self._array(schema, at)]
        if type_name == "string":
            return [self._string(schema, at)]
        if type_name in ("number", "integer"):
            return self._numbers(schema, at, integer=type_name == "integer")
        if type_name == "boolean":
            first = self.writer.boolean_for(at.name) != (at.item and at.index % 2 == 1)
            return [first, not first]
        if type_name == "null":
            return [None]
        raise SchemaUnsatisfiable("type", at.where, f"unknown type {type_name!r}")

    def _flatten(self, schema: Any, at: _At) -> tuple[dict[str, Any], _At]:
        """``schema`` as one object: references followed and ``allOf`` merged in."""
        if schema is True:
            return {}, at
        if schema is False:
            raise SchemaUnsatisfiable("false", at.where, "the schema allows no value here")
        if not isinstance(schema, Mapping):
            raise SchemaUnsatisfiable("type", at.where, "a subschema is neither object nor boolean")
        flat = dict(schema)
        for _ in range(MAX_DEPTH):
            reference = next((k for k in REFERENCES if isinstance(flat.get(k), str)), None)
            if reference is not None:
                target, at = self._resolve(str(flat.pop(reference)), at)
                target_flat, at = self._flatten(target, at)
                flat = _merge(target_flat, flat)
                continue
            if "allOf" in flat:
                parts = flat.pop("allOf")
                for part in parts if isinstance(parts, list) else []:
                    part_flat, _ = self._flatten(part, at)
                    flat = _merge(flat, part_flat)
                continue
            return flat, at
        raise SchemaUnsatisfiable(
            "$ref", at.where, "the schema's references go round without an end"
        )

    def _resolve(self, reference: str, at: _At) -> tuple[Any, _At]:
        if at.refs > MAX_DEPTH:
            raise SchemaUnsatisfiable(
                "$ref", at.where, "the schema's references go round without an end"
            )
        try:
            resolved = at.resolver.lookup(reference)
        except Unresolvable:
            raise SchemaUnsatisfiable(
                "$ref",
                at.where,
                f"cannot resolve {reference[:80]!r} (only references inside the schema are "
                "followed)",
            ) from None
        return resolved.contents, replace(at, resolver=resolved.resolver, refs=at.refs + 1)

    def _branches(self, keyword: str, schema: dict[str, Any], at: _At) -> Iterator[Any]:
        """Values of the branches, in order, that are instances of the whole schema (for
        ``oneOf``: of exactly one branch)."""
        branches = schema[keyword] if isinstance(schema[keyword], list) else []
        rest = {k: v for k, v in schema.items() if k != keyword}
        failures: list[SchemaUnsatisfiable] = []
        found = False
        for number, branch in enumerate(branches):
            tries = 0
            try:
                merged, branch_at = self._flatten({"allOf": [rest, branch]}, at)
                for value in self._candidates(merged, branch_at):
                    if self._valid(schema, value, at):
                        found = True
                        yield value
                    tries += 1
                    if tries >= BRANCH_TRIES:
                        break
            except SchemaUnsatisfiable as exc:
                failures.append(exc)
                continue
            if not found:
                failures.append(
                    SchemaUnsatisfiable(keyword, at.where, f"branch {number} gave no instance")
                )
        if not found:
            raise (
                failures[0]
                if failures
                else SchemaUnsatisfiable(keyword, at.where, f"{keyword} has no branch")
            )

    def _enum(self, schema: dict[str, Any], at: _At) -> list[Any]:
        """The enum's values that fit the rest of the schema, starting with a seeded (for an
        array's items, the item's) one."""
        choices = schema["enum"] if isinstance(schema["enum"], list) else []
        values = [value for value in choices if self._valid(schema, value, at)]
        if not values:
            raise SchemaUnsatisfiable("enum", at.where, "no value of the enum fits the schema")
        start = at.index if at.item else self.rng.randrange(len(values))
        start %= len(values)
        return values[start:] + values[:start]

    def _types(self, schema: dict[str, Any], at: _At) -> list[str]:
        declared = schema.get("type")
        if declared is None:
            keys = set(schema)
            for keywords, inferred in (
                (OBJECT_KEYWORDS, "object"),
                (ARRAY_KEYWORDS, "array"),
                (STRING_KEYWORDS, "string"),
                (NUMBER_KEYWORDS, "number"),
            ):
                if keys & keywords:
                    return [inferred]
            return ["string"]
        types = [declared] if isinstance(declared, str) else list(declared)
        if not types:
            raise SchemaUnsatisfiable("type", at.where, "no type satisfies every subschema")
        return sorted(types, key=lambda t: t == "null")

    # -- objects -----------------------------------------------------------------------------

    def _object(self, schema: dict[str, Any], at: _At) -> dict[str, Any]:
        properties: Mapping[str, Any] = _mapping(schema.get("properties"))
        patterns: Mapping[str, Any] = _mapping(schema.get("patternProperties"))
        additional = schema.get("additionalProperties", True)
        if "additionalProperties" not in schema and schema.get("unevaluatedProperties") is False:
            additional = False
        required = [r for r in schema.get("required", []) if isinstance(r, str)]
        dependent = _dependencies(schema)
        names = list(dict.fromkeys(required))
        if not at.minimal:
            names += [name for name in properties if name not in names]
        for name in names:  # grows while it is read: dependencies of dependencies
            names.extend(d for d in dependent.get(name, ()) if d not in names)
        needed = set(required)
        for name in required:
            needed.update(dependent.get(name, ()))
        most = schema.get("maxProperties")
        if isinstance(most, int) and len(needed) > most:
            raise SchemaUnsatisfiable(
                "maxProperties", at.where, f"{len(needed)} properties are required, {most} allowed"
            )
        result: dict[str, Any] = {}
        for name in names:
            if isinstance(most, int) and len(result) >= most and name not in needed:
                continue
            subschema = _property_schema(name, properties, patterns, additional)
            if subschema is None:
                if name in needed:
                    raise SchemaUnsatisfiable(
                        "additionalProperties",
                        at.where,
                        f"the required property {name!r} is not allowed",
                    )
                continue
            try:
                result[name] = self._value(subschema, at.child(name))
            except SchemaUnsatisfiable:
                if name in needed:
                    raise
        least = schema.get("minProperties", 0)
        if isinstance(least, int) and len(result) < least:
            self._more_properties(
                schema,
                at,
                result=result,
                least=least,
                properties=properties,
                patterns=patterns,
                additional=additional,
            )
        return result

    def _more_properties(
        self,
        schema: dict[str, Any],
        at: _At,
        *,
        result: dict[str, Any],
        least: int,
        properties: Mapping[str, Any],
        patterns: Mapping[str, Any],
        additional: Any,
    ) -> None:
        names_schema = schema.get("propertyNames", True)
        candidates: list[str] = [n for n in properties if n not in result]
        if additional is not False:
            candidates += [f"{n}_{i}" if i else n for i in range(least) for n in EXTRA_NAMES]
        for pattern in patterns:
            candidates += [s for s in _samples(pattern, self.rng, tries=20) if s]
        for name in dict.fromkeys(candidates):
            if len(result) >= least:
                return
            if name in result or not self._valid(names_schema, name, at):
                continue
            subschema = _property_schema(name, properties, patterns, additional)
            if subschema is None:
                continue
            try:
                result[name] = self._value(subschema, at.child(name))
            except SchemaUnsatisfiable:
                continue
        if len(result) < least:
            raise SchemaUnsatisfiable(
                "minProperties", at.where, f"no way to give the object {least} properties"
            )

    # -- arrays ------------------------------------------------------------------------------

    def _array(self, schema: dict[str, Any], at: _At) -> list[Any]:
        items = schema.get("items", True)
        if isinstance(items, list):
            prefix, rest = items, schema.get("additionalItems", True)
        else:
            prefix_items = schema.get("prefixItems")
            prefix = prefix_items if isinstance(prefix_items, list) else []
            rest = True if items is None else items
        if rest is True and schema.get("unevaluatedItems") is False:
            rest = False
        least = _int(schema.get("minItems"), 0)
        most = schema.get("maxItems")
        most = most if isinstance(most, int) and not isinstance(most, bool) else None
        contains = schema.get("contains")
        wanted = least
        if not at.minimal:
            hint = self.writer.count_for(at.name)
            wanted = max(len(prefix), hint or (LIST_ITEMS if _is_copy(at.name) else OTHER_ITEMS))
        if contains is not None:
            wanted = max(wanted, _int(schema.get("minContains"), 1))
        count = max(least, wanted) if most is None else min(max(least, wanted), most)
        if most is not None and most < least:
            raise SchemaUnsatisfiable("maxItems", at.where, f"maxItems {most} < minItems {least}")
        if rest is False:
            if least > len(prefix):
                raise SchemaUnsatisfiable(
                    "items", at.where, f"{least} items are required, {len(prefix)} allowed"
                )
            count = min(count, len(prefix))
        unique = schema.get("uniqueItems") is True
        values: list[Any] = []
        seen: set[str] = set()
        for index in range(count):
            subschema = prefix[index] if index < len(prefix) else rest
            value, key = self._item(subschema, at, index, seen if unique else None)
            if key is None:
                if index >= least:
                    break
                raise SchemaUnsatisfiable(
                    "uniqueItems", at.where, f"no {least} different items can be built"
                )
            seen.add(key)
            values.append(value)
        if contains is not None:
            self._ensure_contains(
                schema, contains=contains, rest=rest, prefix=prefix, values=values, at=at
            )
        return values

    def _item(
        self, schema: Any, at: _At, index: int, seen: set[str] | None
    ) -> tuple[Any, str | None]:
        """Item ``index`` and its canonical form (None: no item unlike ``seen`` was found)."""
        for attempt in range(UNIQUE_TRIES if seen is not None else 1):
            for tries, value in enumerate(self._candidates(schema, at.element(index, attempt))):
                key = json.dumps(value, sort_keys=True)
                if seen is None or key not in seen:
                    return value, key
                if tries >= BRANCH_TRIES:
                    break
        return None, None

    def _ensure_contains(
        self,
        schema: dict[str, Any],
        *,
        contains: Any,
        rest: Any,
        prefix: list[Any],
        values: list[Any],
        at: _At,
    ) -> None:
        """At least ``minContains`` (1) items valid against ``contains``: appended while
        ``maxItems`` allows, else put in place of items that are not."""
        needed = _int(schema.get("minContains"), 1)
        have = sum(1 for value in values if self._valid(contains, value, at))
        most = schema.get("maxItems")
        replaceable = [
            i for i in range(len(prefix), len(values)) if not self._valid(contains, values[i], at)
        ]
        while have < needed:
            value = self._value({"allOf": [rest, contains]}, at.element(len(values), have + 1))
            if not isinstance(most, int) or len(values) < most:
                values.append(value)
            elif replaceable:
                values[replaceable.pop()] = value
            else:
                raise SchemaUnsatisfiable(
                    "contains", at.where, f"{needed} matching items do not fit in maxItems"
                )
            have += 1

    # -- strings -----------------------------------------------------------------------------

    def _string(self, schema: dict[str, Any], at: _At) -> str:
        least = _int(schema.get("minLength"), 0)
        most_value = schema.get("maxLength")
        most = _int(most_value, 0) if most_value is not None else None
        if most is not None and most < least:
            raise SchemaUnsatisfiable(
                "maxLength", at.where, f"maxLength {most} is below minLength {least}"
            )
        sources = [schema.get("pattern"), *schema.get(PATTERNS, [])]
        patterns = [p for p in sources if isinstance(p, str)]
        compiled = []
        for pattern in patterns:
            try:
                compiled.append(compile_linear(pattern))
            except UnsafePattern as exc:
                raise SchemaUnsatisfiable("pattern", at.where, str(exc)) from None

        def fits(text: str) -> bool:
            if len(text) < least or (most is not None and len(text) > most):
                return False
            return all(p.search(text) for p in compiled)

        fmt = schema.get("format")
        formatted = self._formatted(fmt, at) if isinstance(fmt, str) else None
        if formatted is not None:
            chosen = next((text for text in formatted if fits(text)), None)
            if chosen is None:
                keyword = "pattern" if compiled else "maxLength" if most is not None else "format"
                raise SchemaUnsatisfiable(
                    keyword, at.where, f"no {fmt} string fits the length bounds or pattern"
                )
            return chosen
        texts = self.writer.texts_for(at.name, at.index, at.item)
        for text in texts:
            fitted = self._fit(text, least, most)
            if fits(fitted):
                return fitted
        if compiled:
            for text in self._pattern_candidates(texts, patterns, least, most):
                if fits(text):
                    return text
            raise SchemaUnsatisfiable(
                "pattern", at.where, f"no string found that matches {patterns[0][:60]!r}"
            )
        raise SchemaUnsatisfiable("maxLength", at.where, "no string fits the length bounds")

    def _fit(self, text: str, least: int, most: int | None) -> str:
        """``text`` made at least ``least`` and at most ``most`` characters long."""
        if len(text) < least:
            filler = " ".join(self.writer.piece("body", 90 + i) for i in range(3))
            while len(text) < least:
                text = f"{text} {filler}"
        if most is not None and len(text) > most:
            trimmed = trim(text, Limit(chars=most))
            text = trimmed if len(trimmed) >= least else text[:most]
        return text

    def _pattern_candidates(
        self, texts: Sequence[str], patterns: Sequence[str], least: int, most: int | None
    ) -> Iterator[str]:
        sources = [*texts, self.writer.piece("tagline"), self.writer.brief.product]
        for text in sources:
            plain = re.sub(r"[^\w\s-]", "", text).strip()
            words = plain.split()
            slug = re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")
            for variant in (
                text,
                plain,
                plain.lower(),
                plain.upper(),
                plain.title(),
                slug,
                slug.replace("-", "_"),
                "".join(capitalised(w) for w in words),
                "#" + "".join(capitalised(w) for w in words),
                words[0] if words else "",
                (words[0] if words else "").lower(),
            ):
                yield variant
                yield self._fit(variant, least, most)
        for pattern in patterns:
            for sample in _samples(pattern, self.rng, PATTERN_TRIES, least=least):
                yield sample
                # An unanchored pattern may sit inside copy long enough for minLength.
                yield self._fit(f"{sample} {sources[0]}", least, most)

    def _formatted(self, fmt: str, at: _At) -> list[str] | None:
        slug = self.writer.slug()
        year, month, day = 2026, self.rng.randint(1, 12), self.rng.randint(1, 28)
        hour, minute = self.rng.randint(8, 19), self.rng.choice((0, 15, 30, 45))
        date = f"{year:04d}-{month:02d}-{day:02d}"
        time = f"{hour:02d}:{minute:02d}:00Z"
        host = f"{slug[:40].strip('-') or 'www'}.example.com"
        formats = {
            "email": f"hello@{host}",
            "idn-email": f"hello@{host}",
            "uri": f"https://www.example.com/{slug}",
            "iri": f"https://www.example.com/{slug}",
            "url": f"https://www.example.com/{slug}",
            "uri-reference": f"/{slug}",
            "iri-reference": f"/{slug}",
            "uri-template": f"https://www.example.com/{slug}/{{id}}",
            "hostname": host,
            "idn-hostname": host,
            "date": date,
            "date-time": f"{date}T{time}",
            "time": time,
            "duration": "P14D",
            "uuid": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            "ipv4": f"192.0.2.{at.index % 250 + 1}",
            "ipv6": f"2001:db8::{at.index + 1:x}",
            "regex": "^[A-Za-z ]+$",
            "json-pointer": "/copy/0",
            "relative-json-pointer": "0",
        }
        value = formats.get(fmt)
        if value is None:
            return None
        shorter = {  # for tight maxLength bounds
            "email": ["hello@example.com", "hi@ex.co"],
            "idn-email": ["hello@example.com", "hi@ex.co"],
            "uri": ["https://example.com/", "https://ex.co"],
            "iri": ["https://example.com/", "https://ex.co"],
            "url": ["https://example.com/", "https://ex.co"],
            "uri-reference": ["/", "#"],
            "iri-reference": ["/", "#"],
            "hostname": ["example.com", "ex.co"],
            "idn-hostname": ["example.com", "ex.co"],
            "ipv4": ["1.1.1.1"],
            "ipv6": ["::1"],
        }
        return [value, *shorter.get(fmt, [])]

    # -- numbers -----------------------------------------------------------------------------

    def _numbers(self, schema: dict[str, Any], at: _At, integer: bool) -> list[int | float]:
        """The number the property's name suggests, fitted to the bounds and ``multipleOf``,
        then a few neighbours (a fractional one for ``number``: ``oneOf`` may need it)."""
        low, low_open = _bound(schema, "minimum", "exclusiveMinimum", max)
        high, high_open = _bound(schema, "maximum", "exclusiveMaximum", min)
        given = schema.get("multipleOf")
        positive = isinstance(given, int | float) and not isinstance(given, bool) and given > 0
        step: float | None = given if positive else None
        unit = step or 1
        preferred = self.writer.number_for(at.name, at.index)
        if at.item:  # items of one array differ
            preferred += at.index * unit
        values: list[int | float] = []
        wishes = [preferred, preferred + unit, preferred - unit, preferred + 0.5]
        if at.item:  # within tight bounds, count up from the bottom or down from the top
            wishes += [
                b + sign * at.index * unit for b, sign in ((low, 1), (high, -1)) if b is not None
            ]
        for wish in wishes:
            value = _choose_number(
                wish,
                low=low,
                low_open=low_open,
                high=high,
                high_open=high_open,
                step=step,
                integer=integer,
            )
            if value is not None and value not in values:
                values.append(value)
        if not values:
            keyword = "multipleOf" if step is not None else "maximum"
            raise SchemaUnsatisfiable(
                keyword, at.where, "no number fits the bounds and multipleOf together"
            )
        return values


# -- merging subschemas ----------------------------------------------------------------------


def _merge(first: dict[str, Any], second: Mapping[str, Any]) -> dict[str, Any]:
    """One schema that asks what both ask (as far as instance building needs)."""
    merged = dict(first)
    for key, value in second.items():
        if key not in merged:
            merged[key] = value
            continue
        current = merged[key]
        if current == value:
            continue
        merged[key] = _merge_keyword(key, current, value, merged)
    return merged


def _merge_keyword(key: str, current: Any, value: Any, merged: dict[str, Any]) -> Any:
    if key in ("properties", "patternProperties", "$defs", "definitions"):
        both = _mapping(current)
        other = _mapping(value)
        return {
            **both,
            **{n: {"allOf": [both[n], s]} if n in both else s for n, s in other.items()},
        }
    if key == "required":
        return list(dict.fromkeys([*current, *value]))
    if key == "type":
        return _type_intersection(current, value)
    if key == "enum" and isinstance(current, list) and isinstance(value, list):
        return [item for item in current if item in value]
    if key in ("anyOf", "oneOf") and isinstance(current, list):
        return [{"allOf": [branch, {key: value}]} for branch in current]
    if key == "additionalProperties" and (current is False or value is False):
        return False
    if key == "not":
        return {"anyOf": [current, value]}
    if key in SUBSCHEMA_KEYWORDS or key == "additionalProperties":
        return {"allOf": [current, value]}
    if key in ("prefixItems", "items") and isinstance(current, list) and isinstance(value, list):
        longer = max(len(current), len(value))
        padded = [*current, *[True] * (longer - len(current))]
        other_padded = [*value, *[True] * (longer - len(value))]
        return [{"allOf": pair} for pair in zip(padded, other_padded, strict=True)]
    return _merge_value(key, current, value, merged)


def _merge_value(key: str, current: Any, value: Any, merged: dict[str, Any]) -> Any:
    """Bounds, ``multipleOf``, ``pattern`` and ``const`` of two subschemas, together."""
    numbers = _is_number(current) and _is_number(value)
    if numbers and key in LOWER_BOUNDS | {"exclusiveMinimum"}:
        return max(current, value)
    if numbers and key in UPPER_BOUNDS | {"exclusiveMaximum"}:
        return min(current, value)
    if numbers and key == "multipleOf":
        a, b = Fraction(str(current)), Fraction(str(value))
        lcm = Fraction(math.lcm(a.numerator, b.numerator), math.gcd(a.denominator, b.denominator))
        return int(lcm) if lcm.denominator == 1 else float(lcm)
    if key == "pattern":
        merged.setdefault(PATTERNS, []).append(value)
    elif key == "const":
        merged[CONFLICT] = "const"
    return current


def _type_intersection(first: Any, second: Any) -> list[str]:
    a = [first] if isinstance(first, str) else list(first)
    b = {second} if isinstance(second, str) else set(second)
    result = []
    for name in a:
        if name in b:
            result.append(name)
        elif name in ("number", "integer") and {name, *b} >= {"number", "integer"}:
            result.append("integer")
    return list(dict.fromkeys(result))


# -- helpers ---------------------------------------------------------------------------------


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _is_copy(name: str) -> bool:
    return kind_for(name) in ("headline", "tagline", "bullet", "hashtag", "cta", "subject")


def _dependencies(schema: Mapping[str, Any]) -> dict[str, list[str]]:
    """``dependentRequired``, and draft-07's ``dependencies`` where they list names."""
    found: dict[str, list[str]] = {}
    for keyword in ("dependentRequired", "dependencies"):
        for name, needs in _mapping(schema.get(keyword)).items():
            if isinstance(needs, list):
                found.setdefault(name, []).extend(n for n in needs if isinstance(n, str))
    return found


def _property_schema(
    name: str, properties: Mapping[str, Any], patterns: Mapping[str, Any], additional: Any
) -> Any:
    """The schema a property named ``name`` must meet, or None when it is not allowed."""
    matching = []
    for pattern, subschema in patterns.items():
        try:
            if search(pattern, name):
                matching.append(subschema)
        except UnsafePattern:
            continue
    if name in properties:
        return {"allOf": [properties[name], *matching]} if matching else properties[name]
    if matching:
        return {"allOf": matching}
    if additional is False:
        return None
    return True if additional is True else additional


def _bound(
    schema: Mapping[str, Any], inclusive: str, exclusive: str, tighter: Any
) -> tuple[float | None, bool]:
    """A bound and whether it is open: the tighter of ``minimum`` and ``exclusiveMinimum``
    (or the maximums); draft-04's boolean ``exclusiveMinimum`` opens ``minimum``."""
    closed = schema.get(inclusive)
    opened = schema.get(exclusive)
    closed = closed if _is_number(closed) else None
    if opened is True and closed is not None:
        return closed, True
    opened = opened if _is_number(opened) else None
    if closed is None:
        return opened, opened is not None
    if opened is None:
        return closed, False
    if tighter(closed, opened) == opened and opened != closed:
        return opened, True
    return (closed, closed == opened)


def _multiple_ok(value: float, step: float) -> bool:
    """Exactly as jsonschema checks ``multipleOf``."""
    if isinstance(step, float):
        quotient = value / step
        try:
            return int(quotient) == quotient
        except OverflowError:
            return False
    return value % step == 0


def _choose_number(
    preferred: float,
    *,
    low: float | None,
    low_open: bool,
    high: float | None,
    high_open: bool,
    step: float | None,
    integer: bool,
) -> int | float | None:
    def inside(value: float) -> bool:
        if low is not None and (value < low or (low_open and value == low)):
            return False
        return not (high is not None and (value > high or (high_open and value == high)))

    if step is None and not integer:
        candidates = [preferred]
        if low is not None and high is not None:
            candidates += [low, high, (low + high) / 2]
        elif low is not None:
            candidates += [low, low + 1]
        elif high is not None:
            candidates += [high, high - 1]
        return next((c for c in candidates if inside(c)), None)
    unit = Fraction(str(step)) if step is not None else Fraction(1)
    if integer:  # the smallest integral multiple of the step
        unit = Fraction(unit.numerator)
    k_low = math.ceil(Fraction(str(low)) / unit) if low is not None else None
    k_high = math.floor(Fraction(str(high)) / unit) if high is not None else None
    if k_low is not None and k_high is not None and k_low > k_high:
        return None
    k = round(Fraction(str(preferred)) / unit)
    k = max(k, k_low) if k_low is not None else k
    k = min(k, k_high) if k_high is not None else k
    for offset in (0, 1, -1, 2, -2, 3, -3, 4, -4):
        exact = (k + offset) * unit
        value: int | float = int(exact) if exact.denominator == 1 else float(exact)
        if inside(value) and (step is None or _multiple_ok(value, step)):
            return value
    return None


def _samples(pattern: str, rng: Random, tries: int, least: int = 0) -> Iterator[str]:
    """Strings drawn from the regular expression ``pattern`` (longer as tries go on; in the
    second half of the tries, unbounded repeats run at least ``least`` times more); only from
    a pattern RE2 runs (no backreferences, repeats of at most 1000), each within
    ``SAMPLE_CHARS`` characters and as many steps."""
    try:
        compile_linear(pattern)
        parsed = _re_parser.parse(pattern)
    except Exception:
        return
    for attempt in range(tries):
        longer = least if attempt >= tries // 2 else 0
        sampler = _Sampler(rng, stretch=longer + attempt // 2, exact=attempt % 2 == 1)
        try:
            sampler.emit(list(parsed))
        except _CannotSample:
            return
        yield "".join(sampler.out)


class _CannotSample(Exception):
    pass


@dataclass
class _Sampler:
    """Builds a string the parsed expression matches. Unbounded repeats run up to
    ``stretch`` more times than their minimum (exactly so with ``exact``); anchors and
    lookarounds are skipped (the caller checks the result)."""

    rng: Random
    stretch: int
    exact: bool
    out: list[str] = field(default_factory=list)
    steps: int = 0

    def emit(self, items: Sequence[Any]) -> None:
        for op, argument in items:
            self.steps += 1
            if self.steps > SAMPLE_CHARS or len(self.out) > SAMPLE_CHARS:
                raise _CannotSample("too long")  # nested repeats multiply
            name = str(op)
            char = _single_char(name, argument, self.rng)
            if char is not None:
                self.out.append(char)
            elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
                low, high, sub = argument
                top = low + self.stretch if high >= _MAXREPEAT else min(high, low + self.stretch)
                for _ in range(top if self.exact else self.rng.randint(low, max(low, top))):
                    self.emit(list(sub))
            elif name == "SUBPATTERN":
                self.emit(list(argument[3]))
            elif name in ("ATOMIC_GROUP", "BRANCH"):
                self.emit(
                    list(argument if name == "ATOMIC_GROUP" else self.rng.choice(argument[1]))
                )
            elif name not in ("AT", "ASSERT", "ASSERT_NOT"):
                raise _CannotSample(name)


def _single_char(name: str, argument: Any, rng: Random) -> str | None:
    """The character a one-character opcode stands for; None for any other opcode."""
    if name == "LITERAL":
        return chr(argument)
    if name == "NOT_LITERAL":
        return next(c for c in PRINTABLE if ord(c) != argument)
    if name == "ANY":
        return rng.choice(PRINTABLE[:52])
    if name == "IN":
        return _char_in(argument, rng)
    return None


def _category_matches(category: str, char: str) -> bool:
    tests = {
        "CATEGORY_DIGIT": char.isdigit(),
        "CATEGORY_SPACE": char.isspace(),
        "CATEGORY_WORD": char.isalnum() or char == "_",
        "CATEGORY_LINEBREAK": char == "\n",
    }
    if category.startswith("CATEGORY_NOT_"):
        return not tests.get("CATEGORY_" + category.removeprefix("CATEGORY_NOT_"), False)
    return tests.get(category, False)


def _in_set(items: Sequence[Any], char: str) -> bool:
    for op, argument in items:
        name = str(op)
        if name == "LITERAL" and ord(char) == argument:
            return True
        if name == "RANGE" and argument[0] <= ord(char) <= argument[1]:
            return True
        if name == "CATEGORY" and _category_matches(str(argument), char):
            return True
    return False


def _char_in(items: Sequence[Any], rng: Random) -> str:
    """A character of the set ``items`` (a parsed ``[...]``, ``\\d``, ``\\w``...)."""
    items = list(items)
    if items and str(items[0][0]) == "NEGATE":
        rest = items[1:]
        for char in PRINTABLE:
            if not _in_set(rest, char):
                return char
        raise _CannotSample("NEGATE")
    pool = [c for c in PRINTABLE if _in_set(items, c)]
    if pool:
        return rng.choice(pool)
    op, argument = rng.choice(items)
    if str(op) == "LITERAL":
        return chr(argument)
    if str(op) == "RANGE":
        return chr(rng.randint(argument[0], argument[1]))
    raise _CannotSample(str(op))
