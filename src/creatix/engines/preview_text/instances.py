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
a pattern are at most ``pattern_samples.SAMPLE_CHARS`` long.

Beside this module: ``schema_merge.py`` merges ``allOf`` subschemas (and a ``$ref``'s target)
into one, ``pattern_samples.py`` draws strings from a regular expression,
``number_bounds.py`` reads numeric bounds and picks a number within them, and
``string_formats.py`` has example strings for each ``format``.
"""

from __future__ import annotations

import json
import re
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
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
from creatix.engines.preview_text.number_bounds import bound, choose_number
from creatix.engines.preview_text.pattern_samples import samples
from creatix.engines.preview_text.schema_merge import CONFLICT, PATTERNS, mapping, merge
from creatix.engines.preview_text.string_formats import format_examples
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
EXTRA_NAMES = ("note", "extra", "detail", "label", "info", "meta", "tag", "field")
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
                flat = merge(target_flat, flat)
                continue
            if "allOf" in flat:
                parts = flat.pop("allOf")
                for part in parts if isinstance(parts, list) else []:
                    part_flat, _ = self._flatten(part, at)
                    flat = merge(flat, part_flat)
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
        properties: Mapping[str, Any] = mapping(schema.get("properties"))
        patterns: Mapping[str, Any] = mapping(schema.get("patternProperties"))
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
            candidates += [s for s in samples(pattern, self.rng, tries=20) if s]
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
        formatted = (
            format_examples(fmt, slug=self.writer.slug(), rng=self.rng, index=at.index)
            if isinstance(fmt, str)
            else None
        )
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
            for sample in samples(pattern, self.rng, PATTERN_TRIES, least=least):
                yield sample
                # An unanchored pattern may sit inside copy long enough for minLength.
                yield self._fit(f"{sample} {sources[0]}", least, most)

    # -- numbers -----------------------------------------------------------------------------

    def _numbers(self, schema: dict[str, Any], at: _At, integer: bool) -> list[int | float]:
        """The number the property's name suggests, fitted to the bounds and ``multipleOf``,
        then a few neighbours (a fractional one for ``number``: ``oneOf`` may need it)."""
        low, low_open = bound(schema, "minimum", "exclusiveMinimum", max)
        high, high_open = bound(schema, "maximum", "exclusiveMaximum", min)
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
            value = choose_number(
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


# -- helpers ---------------------------------------------------------------------------------


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _is_copy(name: str) -> bool:
    return kind_for(name) in ("headline", "tagline", "bullet", "hashtag", "cta", "subject")


def _dependencies(schema: Mapping[str, Any]) -> dict[str, list[str]]:
    """``dependentRequired``, and draft-07's ``dependencies`` where they list names."""
    found: dict[str, list[str]] = {}
    for keyword in ("dependentRequired", "dependencies"):
        for name, needs in mapping(schema.get(keyword)).items():
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
