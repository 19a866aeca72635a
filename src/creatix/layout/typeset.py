"""Setting copy in a column: word wrap (never inside a word), and the largest sizes that fit.

Sizes are searched for the headline; the body, call to action and legal line follow it at
fixed ratios, each clamped to its legible minimum and its maximum. A text that cannot fit at
its minimum is refused, naming the text and the placement.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from creatix.layout.fonts import Font, FontFace

LEADING = 1.18  # line advance as a multiple of the size
CTA_PAD_X = 0.9  # the button's padding around its text, in multiples of the CTA size
CTA_PAD_Y = 0.55
REFERENCE_SIZE = 200  # the size advances are measured at for the size search


@dataclass(frozen=True)
class Range:
    low: int
    high: int

    def clamp(self, value: float) -> int:
        return max(self.low, min(self.high, round(value)))


@dataclass(frozen=True)
class TypeScale:
    """Each role's size range in pixels, and its line limit in this arrangement."""

    headline: Range
    body: Range
    cta: Range
    legal: Range
    headline_lines: int = 3
    body_lines: int = 3
    legal_lines: int = 3


@dataclass(frozen=True)
class SetText:
    """A text wrapped at one size: its lines and the height they take. ``exact`` is False for
    the estimates of the size search, whose metrics are scaled from the reference size (so
    that searching loads no font at each size it tries)."""

    role: str
    lines: tuple[str, ...]
    face: FontFace
    size: int
    width: float  # the widest line's advance
    exact: bool = True

    @property
    def font(self) -> Font:
        return self.face.at(self.size)

    def _metrics(self) -> tuple[int, int]:
        if self.exact:
            return self.font.getmetrics()
        ascent, descent = _reference_metrics(self.face)
        scale = self.size / REFERENCE_SIZE
        return math.ceil(ascent * scale), math.ceil(descent * scale)

    @property
    def ascent(self) -> int:
        return self._metrics()[0]

    @property
    def descent(self) -> int:
        return self._metrics()[1]

    @property
    def leading(self) -> int:
        return round(self.size * LEADING)

    @property
    def height(self) -> int:
        return self.ascent + self.descent + self.leading * (len(self.lines) - 1)


def wrap(text: str, font: Font, width: float, max_lines: int) -> tuple[str, ...] | None:
    """Greedy word wrap; ``None`` when a word is wider than the column or lines run out."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        if font.getlength(word) > width:
            return None
        candidate = f"{current} {word}" if current else word
        if font.getlength(candidate) <= width:
            current = candidate
            continue
        lines.append(current)
        current = word
        if len(lines) >= max_lines:
            return None
    if current:
        lines.append(current)
    return tuple(lines) if len(lines) <= max_lines else None


@lru_cache(maxsize=8192)
def _reference_length(face: FontFace, text: str) -> float:
    return face.at(REFERENCE_SIZE).getlength(text)


@lru_cache(maxsize=64)
def _reference_metrics(face: FontFace) -> tuple[int, int]:
    return face.at(REFERENCE_SIZE).getmetrics()


def estimated_wrap(
    text: str, face: FontFace, size: int, width: float, max_lines: int
) -> tuple[tuple[str, ...], float] | None:
    """Greedy word wrap on advances measured once at a reference size and scaled (fonts are
    hinted, so the real lengths differ slightly: a layout found this way is checked exactly
    before it is used). Returns the lines and the widest one's estimated length."""
    scale = size / REFERENCE_SIZE
    space = _reference_length(face, " ") * scale
    lines: list[str] = []
    widths: list[float] = []
    current: list[str] = []
    current_w = 0.0
    for word in text.split():
        word_w = _reference_length(face, word) * scale
        if word_w > width:
            return None
        if current and current_w + space + word_w <= width:
            current.append(word)
            current_w += space + word_w
            continue
        if current:
            lines.append(" ".join(current))
            widths.append(current_w)
            if len(lines) >= max_lines:
                return None
        current, current_w = [word], word_w
    if current:
        lines.append(" ".join(current))
        widths.append(current_w)
    return tuple(lines), max(widths, default=0.0)


def set_text(
    face: FontFace,
    role: str,
    text: str,
    *,
    size: int,
    width: float,
    max_lines: int,
    exact: bool = True,
) -> SetText | None:
    """The text wrapped to ``width`` at ``size``; ``exact=False`` estimates (for searching)."""
    if not exact:
        estimate = estimated_wrap(text, face, size, width, max_lines)
        if estimate is None:
            return None
        return SetText(role, estimate[0], face, size, estimate[1], exact=False)
    font = face.at(size)
    estimate = estimated_wrap(text, face, size, width, max_lines)
    if estimate is not None:  # usually right: confirm each line's real length
        lengths = [font.getlength(line) for line in estimate[0]]
        if all(length <= width for length in lengths):
            return SetText(role, estimate[0], face, size, max(lengths, default=0.0))
    lines = wrap(text, font, width, max_lines)
    if lines is None:
        return None
    widest = max((font.getlength(line) for line in lines), default=0.0)
    return SetText(role, lines, face, size, widest)


@dataclass(frozen=True)
class Column:
    """The texts of one column, set; ``cta`` is the button's label (its box adds padding)."""

    headline: SetText
    body: SetText | None
    cta: SetText | None
    legal: SetText | None
    gap: int

    def blocks(self) -> list[SetText]:
        return [t for t in (self.headline, self.body, self.cta, self.legal) if t is not None]


def cta_height(cta: SetText) -> int:
    return cta.height + 2 * round(cta.size * CTA_PAD_Y)


def cta_width(cta: SetText) -> int:
    return round(cta.width) + 2 * round(cta.size * CTA_PAD_X)


def block_height(block: SetText) -> int:
    return cta_height(block) if block.role == "cta" else block.height


def column_height(column: Column) -> int:
    blocks = column.blocks()
    return sum(block_height(b) for b in blocks) + column.gap * (len(blocks) - 1)


@dataclass(frozen=True)
class Copy:
    headline: str
    body: str
    cta: str
    legal: str


def _try(
    face: FontFace,
    copy: Copy,
    scale: TypeScale,
    *,
    size: int,
    width: float,
    height: float,
    exact: bool,
) -> Column | None:
    headline = set_text(
        face,
        "headline",
        copy.headline,
        size=size,
        width=width,
        max_lines=scale.headline_lines,
        exact=exact,
    )
    if headline is None:
        return None
    parts: list[SetText | None] = []
    for role, text, rng, lines, ratio in (
        ("body", copy.body, scale.body, scale.body_lines, 0.5),
        ("cta", copy.cta, scale.cta, 1, 0.55),
        ("legal", copy.legal, scale.legal, scale.legal_lines, 0.0),
    ):
        if not text:
            parts.append(None)
            continue
        part = shrinking(
            face,
            role,
            text,
            rng,
            size=rng.clamp(size * ratio),
            width=width,
            lines=lines,
            exact=exact,
        )
        if part is None:
            return None
        parts.append(part)
    body, cta, legal = parts
    column = Column(headline, body, cta, legal, gap=max(2, round(size * 0.45)))
    return column if column_height(column) <= height else None


def shrinking(
    face: FontFace,
    role: str,
    text: str,
    rng: Range,
    *,
    size: int,
    width: float,
    lines: int,
    exact: bool = True,
) -> SetText | None:
    """The text at ``size``, or smaller down to its minimum, whichever first fits the width
    (a call to action's button padding included)."""
    for candidate in range(size, rng.low - 1, -1):
        room = width - 2 * round(candidate * CTA_PAD_X) if role == "cta" else width
        result = set_text(
            face, role, text, size=candidate, width=room, max_lines=lines, exact=exact
        )
        if result is not None:
            return result
    return None


def fit_column(
    face: FontFace, copy: Copy, scale: TypeScale, width: float, height: float
) -> Column | None:
    """The column at the largest headline size that fits ``width``×``height``, or ``None``.

    The size is found by bisection on estimated advances, then confirmed with exact ones
    (stepping down while the exact layout does not fit)."""
    low, high = scale.headline.low, scale.headline.high
    options = {"width": width, "height": height}
    if _try(face, copy, scale, size=low, exact=False, **options) is None:
        low = high = scale.headline.low  # the estimate refuses: let the exact check decide
    else:
        while low < high:
            middle = (low + high + 1) // 2
            if _try(face, copy, scale, size=middle, exact=False, **options) is not None:
                low = middle
            else:
                high = middle - 1
    for size in range(low, scale.headline.low - 1, -1):
        column = _try(face, copy, scale, size=size, exact=True, **options)
        if column is not None:
            return replace(
                column,
                headline=balanced(face, column.headline, width),
                body=balanced(face, column.body, width) if column.body else None,
            )
    return None


def balanced(face: FontFace, text: SetText, width: float) -> SetText:
    """The same text in the same number of lines, broken at the narrowest width that keeps
    that number: lines of even length instead of a long one and a short last one."""
    count = len(text.lines)
    if count < 2:
        return text
    words = " ".join(text.lines).split()
    low = max(_reference_length(face, word) for word in words) * text.size / REFERENCE_SIZE
    high = width
    while high - low > 1:
        middle = (low + high) / 2
        if estimated_wrap(" ".join(words), face, text.size, middle, count) is None:
            low = middle
        else:
            high = middle
    even = set_text(
        face,
        text.role,
        " ".join(words),
        size=text.size,
        width=min(width, high + 1),
        max_lines=count,
    )
    return even if even is not None and len(even.lines) == count else text


def failing_role(
    face: FontFace, copy: Copy, scale: TypeScale, width: float, roles: Sequence[str]
) -> str:
    """Which text cannot fit the column's width even alone at its minimum size."""
    limits = {
        "headline": (scale.headline, scale.headline_lines),
        "body": (scale.body, scale.body_lines),
        "cta": (scale.cta, 1),
        "legal": (scale.legal, scale.legal_lines),
    }
    for role in roles:
        text = getattr(copy, role)
        rng, lines = limits[role]
        room = width - 2 * round(rng.low * CTA_PAD_X) if role == "cta" else width
        if text and set_text(face, role, text, size=rng.low, width=room, max_lines=lines) is None:
            return role
    return "copy"
