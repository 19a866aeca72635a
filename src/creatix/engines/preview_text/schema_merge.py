"""``allOf`` merging: two subschemas made one that asks what both ask, as far as building an
instance needs (``schema_merge.merge``). Two ``pattern``s are both kept, the second under
``PATTERNS``; two different ``const``s mark the result with ``CONFLICT``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from creatix.engines.preview_text.number_bounds import is_number
from creatix.engines.preview_text.vocabulary import word_set

PATTERNS = "__creatix_patterns__"
"""Where a merged schema keeps its further ``pattern``s (each must match)."""
CONFLICT = "__creatix_conflict__"
"""Set in a merged schema to the keyword its subschemas disagree on (no instance exists)."""
LOWER_BOUNDS = word_set("minimum minLength minItems minProperties minContains")
UPPER_BOUNDS = word_set("maximum maxLength maxItems maxProperties maxContains")
SUBSCHEMA_KEYWORDS = word_set(
    "items additionalItems contains propertyNames unevaluatedItems unevaluatedProperties "
    "if then else"
)


def mapping(value: Any) -> Mapping[str, Any]:
    """A keyword's value as an object: ``{}`` when it is not one."""
    return value if isinstance(value, Mapping) else {}


def merge(first: dict[str, Any], second: Mapping[str, Any]) -> dict[str, Any]:
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
        both = mapping(current)
        other = mapping(value)
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
    numbers = is_number(current) and is_number(value)
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
