"""Strings drawn from a regular expression (``samples``), parsed with Python's ``re`` parser and
built opcode by opcode; only patterns RE2 runs (``kit/patterns.py``) are drawn from, and every
string is at most ``SAMPLE_CHARS`` long."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from random import Random
from typing import Any

from creatix.kit.patterns import compile_linear

SAMPLE_CHARS = 10_000
"""The longest string drawn from a pattern (nested repeats multiply)."""
PRINTABLE = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.#@!"
_re_parser: Any = importlib.import_module("re._parser")
_MAXREPEAT = int(_re_parser.MAXREPEAT)


def samples(pattern: str, rng: Random, tries: int, least: int = 0) -> Iterator[str]:
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
