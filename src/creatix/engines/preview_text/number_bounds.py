"""Numbers within a schema's bounds: ``bound`` reads ``minimum``/``exclusiveMinimum`` (or the
maximums), ``choose_number`` picks the number nearest a preferred one that fits the bounds and
``multipleOf`` (checked exactly as ``jsonschema`` checks it)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction
from typing import Any


def is_number(value: Any) -> bool:
    """An int or a float, not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def bound(
    schema: Mapping[str, Any], inclusive: str, exclusive: str, tighter: Any
) -> tuple[float | None, bool]:
    """A bound and whether it is open: the tighter of ``minimum`` and ``exclusiveMinimum``
    (or the maximums); draft-04's boolean ``exclusiveMinimum`` opens ``minimum``."""
    closed = schema.get(inclusive)
    opened = schema.get(exclusive)
    closed = closed if is_number(closed) else None
    if opened is True and closed is not None:
        return closed, True
    opened = opened if is_number(opened) else None
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


def choose_number(
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
