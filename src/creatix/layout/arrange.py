"""Arrangements: where the key visual, the logo, the text column and the button go.

By the placement's aspect ratio:

- ``overlay`` (near-square to tall: feeds, stories, 300×250): the visual fills the canvas with
  its subject in the upper third; the logo sits at the safe zone's top left; the text column
  takes the bottom of the safe zone over a scrim.
- ``split`` (landscape, 1.5:1 to 3:1: the link ad): the visual fills the left 55%; the text sits
  on a panel of the kit's background colour on the right.
- ``stack`` (towers, 1:2 or narrower: 160×600, 300×600): the visual on top, the logo and the
  text stacked and centred on a panel below.
- ``strip`` (banners, 3:1 or wider: 728×90, 970×250): a visual tile on the left, then the logo,
  the text column, and the button at the right end (a tall strip puts the logo above the
  button).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from creatix.layout.typeset import CTA_PAD_X, LEADING, Range, TypeScale

Box = tuple[int, int, int, int]
SLACK = 2  # pixels kept free at a column's sides for glyphs that overhang their advance
CHAR_EM = 0.62  # a generous average advance of bold Latin text, in ems, for budgets
LINE_EM = 1.4  # ascent + descent of the bundled fonts, in ems, rounded up
FILL = 0.8  # how full a wrapped line is, at worst, on average


class Frame(Protocol):
    """What an arrangement needs of a placement."""

    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...
    @property
    def safe_zone(self) -> Box: ...


@dataclass(frozen=True)
class Plan:
    kind: str
    visual: Box
    anchor: tuple[float, float]  # where the subject lands, as fractions of the visual box
    panel: Box | None  # a solid panel in the kit's background colour
    logo: Box | None  # the logo's slot (the logo is scaled to fit it)
    logo_align: str  # "left" | "center" | "right"
    column: Box  # the text column
    cta: Box | None  # the button's own slot (strips); None: the button is in the column
    align: str  # "left" | "center"
    valign: str  # "top" | "center" | "bottom"
    scale: TypeScale


def arrangement(placement: Frame) -> str:
    aspect = placement.width / placement.height
    if aspect >= 3.0:
        return "strip"
    if aspect >= 1.5:
        return "split"
    if aspect <= 0.5:
        return "stack"
    return "overlay"


def _size(unit: float, low: float, high: float, floor: int, ceiling: int | None = None) -> Range:
    lo = max(floor, round(unit * low))
    hi = max(lo, round(unit * high), ceiling or 0)
    return Range(lo, hi)


def _intersect(a: Box, b: Box) -> Box:
    return max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])


def _inset(box: Box, dx: int, dy: int) -> Box:
    return box[0] + dx, box[1] + dy, box[2] - dx, box[3] - dy


def plan(placement: Frame, *, text_at_top: bool = False) -> Plan:
    """The arrangement's boxes; ``text_at_top`` moves an overlay's column to the top (for a
    subject in the lower part of the picture). Both positions hold the same column."""
    kind = arrangement(placement)
    if kind == "overlay":
        return _overlay(placement, text_at_top=text_at_top)
    return {"split": _split, "stack": _stack, "strip": _strip}[kind](placement)


def _overlay(p: Frame, *, text_at_top: bool = False) -> Plan:
    left, top, right, bottom = p.safe_zone
    unit = min(p.width, p.height)
    safe_h = bottom - top
    logo_h = max(16, round(unit * 0.09))
    logo = (left, top, left + round((right - left) * 0.35), top + logo_h)
    share = 0.6 if unit >= 400 else 0.72
    below_logo = top + logo_h + round(unit * 0.03)
    column_top = max(below_logo, bottom - round(safe_h * share))
    column = (left, column_top, right, bottom)
    if text_at_top:
        column = (left, below_logo, right, below_logo + bottom - column_top)
    scale = TypeScale(
        headline=_size(unit, 0.05, 0.095, 14),
        body=_size(unit, 0.032, 0.045, 11),
        cta=_size(unit, 0.034, 0.05, 11),
        legal=_size(unit, 0.018, 0.022, 8),
        headline_lines=3,
        body_lines=3,
        legal_lines=2,
    )
    return Plan(
        "overlay",
        (0, 0, p.width, p.height),
        (0.5, 0.68) if text_at_top else (0.5, 0.32),
        None,
        logo,
        "left",
        column,
        None,
        "left",
        "top" if text_at_top else "bottom",
        scale,
    )


def _split(p: Frame) -> Plan:
    edge = round(p.width * 0.55)
    panel = (edge, 0, p.width, p.height)
    pad = round(p.height * 0.06)
    content = _intersect(_inset(panel, pad, 0), p.safe_zone)
    unit = p.height
    logo_h = max(16, round(unit * 0.1))
    logo = (
        content[0],
        content[1],
        content[0] + round((content[2] - content[0]) * 0.5),
        content[1] + logo_h,
    )
    column = (content[0], logo[3] + round(unit * 0.04), content[2], content[3])
    scale = TypeScale(
        headline=_size(unit, 0.05, 0.09, 14),
        body=_size(unit, 0.032, 0.045, 11),
        cta=_size(unit, 0.034, 0.05, 11),
        legal=_size(unit, 0.018, 0.022, 8),
        headline_lines=3,
        body_lines=3,
        legal_lines=2,
    )
    return Plan(
        "split",
        (0, 0, edge, p.height),
        (0.5, 0.45),
        panel,
        logo,
        "left",
        column,
        None,
        "left",
        "center",
        scale,
    )


def _stack(p: Frame) -> Plan:
    edge = round(p.height * 0.4)
    panel = (0, edge, p.width, p.height)
    pad = round(p.width * 0.05)
    content = _intersect(_inset(panel, pad, pad), p.safe_zone)
    unit = p.width
    logo_h = max(16, round(unit * 0.16))
    logo = (content[0], content[1], content[2], content[1] + logo_h)
    column = (content[0], logo[3] + round(unit * 0.05), content[2], content[3])
    scale = TypeScale(
        headline=_size(unit, 0.06, 0.15, 13),
        body=_size(unit, 0.04, 0.075, 10),
        cta=_size(unit, 0.045, 0.09, 11),
        legal=_size(unit, 0.03, 0.045, 8),
        headline_lines=4,
        body_lines=4,
        legal_lines=3,
    )
    return Plan(
        "stack",
        (0, 0, p.width, edge),
        (0.5, 0.5),
        panel,
        logo,
        "center",
        column,
        None,
        "center",
        "center",
        scale,
    )


def _strip(p: Frame) -> Plan:
    tile = min(round(p.width * 0.28), round(p.height * 1.6))
    panel = (tile, 0, p.width, p.height)
    pad = max(4, round(p.height * 0.08))
    content = _intersect(_inset(panel, pad, 0), p.safe_zone)
    c_left, c_top, c_right, c_bottom = content
    content_h = c_bottom - c_top
    unit = p.height
    gap = max(6, round(unit * 0.08))
    cta_w = round(p.width * 0.22)
    tall = content_h >= 150
    if tall:
        logo_h = round(content_h * 0.22)
        logo = (c_right - round(cta_w * 0.8), c_top, c_right, c_top + logo_h)
        cta = (c_right - cta_w, logo[3] + gap, c_right, c_bottom)
        column = (c_left, c_top, c_right - cta_w - gap, c_bottom)
        logo_align = "right"
    else:
        logo_w = min(round(content_h * 1.6), round(p.width * 0.14))
        inner = round(content_h * 0.15)
        logo = (c_left, c_top + inner, c_left + logo_w, c_bottom - inner)
        cta = (c_right - cta_w, c_top, c_right, c_bottom)
        column = (logo[2] + gap, c_top, c_right - cta_w - gap, c_bottom)
        logo_align = "left"
    scale = TypeScale(
        headline=_size(unit, 0.1, 0.28, 12),
        body=_size(unit, 0.06, 0.12, 10),
        cta=_size(unit, 0.06, 0.16, 10),
        legal=_size(unit, 0.036, 0.045, 8),
        headline_lines=3 if tall else 2,
        body_lines=3 if tall else 1,
        legal_lines=2 if tall else 1,
    )
    return Plan(
        "strip",
        (0, 0, tile, p.height),
        (0.5, 0.5),
        panel,
        logo,
        logo_align,
        column,
        cta,
        "left",
        "center",
        scale,
    )


def _chars(size: int, width: float, lines: int) -> int:
    per_line = int(width // (CHAR_EM * size))
    return per_line if lines == 1 else int(per_line * lines * FILL)


def _lines_height(size: int, lines: int) -> float:
    return size * LINE_EM + (lines - 1) * round(size * LEADING)


def capacity(frame: Frame) -> tuple[int, int, int]:
    """Character budgets (headline, body, call to action) for a frame: what its column holds
    at the legible minimum sizes, capped at the feed presets' budgets. A body line gets a
    budget only where the column has the height for it."""
    layout = plan(frame)
    s = layout.scale
    width = layout.column[2] - layout.column[0] - 2 * SLACK
    height = layout.column[3] - layout.column[1]
    cta_room = (layout.cta[2] - layout.cta[0]) if layout.cta else width
    headline = min(40, _chars(s.headline.low, width, s.headline_lines))
    cta = min(20, _chars(s.cta.low, cta_room - 2 * round(s.cta.low * CTA_PAD_X), 1))
    gap = round(s.headline.low * 0.45)
    used = _lines_height(s.headline.low, s.headline_lines) + _lines_height(s.legal.low, 1) + gap
    if layout.cta is None:
        used += s.cta.low * (LINE_EM + 2 * 0.55) + gap
    body_room = height - used - gap
    body_lines = min(
        s.body_lines, int((body_room - s.body.low * LINE_EM) // round(s.body.low * LEADING)) + 1
    )
    body = min(110, _chars(s.body.low, width, body_lines)) if body_lines >= 1 else 0
    return headline, body if body >= 20 else 0, cta
