"""Setting the copy into an arrangement's column and placing every line: the sizes, the
button boxes, and a second setting where glyph ink overhangs the column."""

from __future__ import annotations

from dataclasses import dataclass, replace

from PIL import Image, ImageDraw

from creatix.layout.arrange import SLACK, Box, Plan
from creatix.layout.errors import LayoutInputError
from creatix.layout.fonts import FontFace
from creatix.layout.presets import Placement
from creatix.layout.typeset import (
    CTA_PAD_X,
    CTA_PAD_Y,
    Column,
    Copy,
    Range,
    SetText,
    block_height,
    column_height,
    cta_height,
    cta_width,
    failing_role,
    fit_column,
    shrinking,
)


@dataclass(frozen=True)
class Placed:
    """One text block at its place: its lines are drawn from ``origin`` in ``column``."""

    text: SetText
    origin: tuple[int, int]  # the first line's left end and baseline
    column: Box
    align: str

    def line_positions(self) -> list[tuple[int, int, str]]:
        left, right = self.column[0], self.column[2]
        positions = []
        for index, line in enumerate(self.text.lines):
            x = self.origin[0]
            if self.align == "center":
                x = round(left + (right - left - self.text.font.getlength(line)) / 2)
            positions.append((x, self.origin[1] + index * self.text.leading, line))
        return positions

    def glyph_box(self, draw: ImageDraw.ImageDraw) -> Box:
        boxes = [
            draw.textbbox((x, y), line, font=self.text.font, anchor="ls")
            for x, y, line in self.line_positions()
        ]
        return (
            int(min(b[0] for b in boxes)),
            int(min(b[1] for b in boxes)),
            int(max(b[2] for b in boxes)),
            int(max(b[3] for b in boxes)),
        )


def does_not_fit(role: str, placement: Placement) -> LayoutInputError:
    what = "the copy" if role == "copy" else f"the {role}"
    return LayoutInputError(
        f"copy.{role}" if role != "copy" else "copy",
        f"{what} does not fit placement {placement.name} at a legible size",
        placement=placement.name,
    )


def _set_copy(
    text: Copy, face: FontFace, layout: Plan, placement: Placement
) -> tuple[Column, SetText | None]:
    """The column's texts at their largest fitting sizes, and a strip's separate button."""
    col = layout.column
    width, height = col[2] - col[0] - 2 * SLACK, col[3] - col[1]
    in_column = text if layout.cta is None else Copy(text.headline, text.body, "", text.legal)
    column = fit_column(face, in_column, layout.scale, width, height)
    if column is None:
        roles = ["headline", "body", "legal"] + (["cta"] if layout.cta is None else [])
        raise does_not_fit(failing_role(face, in_column, layout.scale, width, roles), placement)
    if layout.cta is None or not text.cta:
        return column, None
    slot = layout.cta
    button = _strip_cta(face, text.cta, layout.scale.cta, slot)
    if button is None:
        raise does_not_fit("cta", placement)
    return column, button


def _strip_cta(face: FontFace, text: str, sizes: Range, slot: Box) -> SetText | None:
    """A strip's button label: the largest size whose button fits its slot both ways."""
    for size in range(sizes.high, sizes.low - 1, -1):
        label = shrinking(face, "cta", text, sizes, size=size, width=slot[2] - slot[0], lines=1)
        if label is None:
            return None
        if cta_height(label) <= slot[3] - slot[1]:
            return label
    return None


def _place_column(column: Column, layout: Plan) -> list[tuple[Placed, Box | None]]:
    """Each block's position; a call to action also gets its button's box."""
    left, top, right, bottom = layout.column
    total = column_height(column)
    y = {"top": top, "center": top + (bottom - top - total) // 2, "bottom": bottom - total}[
        layout.valign
    ]
    placed: list[tuple[Placed, Box | None]] = []
    inner = (left + SLACK, top, right - SLACK, bottom)
    for block in column.blocks():
        if block.role == "cta":
            w = cta_width(block)
            x = inner[0] if layout.align == "left" else (left + right - w) // 2
            button = (x, y, x + w, y + cta_height(block))
            placed.append((_button_label(block, button), button))
        else:
            placed.append((Placed(block, (inner[0], y + block.ascent), inner, layout.align), None))
        y += block_height(block) + column.gap
    return placed


def _button_label(cta: SetText, button: Box) -> Placed:
    pad_x, pad_y = round(cta.size * CTA_PAD_X), round(cta.size * CTA_PAD_Y)
    inner = (button[0] + pad_x, button[1] + pad_y, button[2] - pad_x, button[3] - pad_y)
    return Placed(cta, (inner[0], inner[1] + cta.ascent), inner, "left")


def _strip_button(cta: SetText, slot: Box) -> tuple[Placed, Box]:
    w, h = cta_width(cta), cta_height(cta)
    x, y = slot[2] - w, slot[1] + (slot[3] - slot[1] - h) // 2
    button = (x, y, x + w, y + h)
    return _button_label(cta, button), button


_MEASURE = ImageDraw.Draw(Image.new("L", (1, 1)))
OVERHANG_TRIES = 4


def _overhang(placed: list[tuple[Placed, Box | None]], column: Box) -> Box:
    """How far the rendered glyphs reach past each side of the column (0 where they do not):
    a glyph's ink can overhang its advance (italics, a serif's "j", accents)."""
    boxes = [label.glyph_box(_MEASURE) for label, _ in placed]
    boxes += [button for _, button in placed if button is not None]
    return (
        max(0, column[0] - min(b[0] for b in boxes)),
        max(0, column[1] - min(b[1] for b in boxes)),
        max(0, max(b[2] for b in boxes) - column[2]),
        max(0, max(b[3] for b in boxes) - column[3]),
    )


def set_and_place(
    text: Copy, face: FontFace, layout: Plan, placement: Placement
) -> tuple[Plan, list[tuple[Placed, Box | None]]]:
    """Set the copy and place it; where glyphs overhang the column, set it again in a column
    narrowed (or shortened) by the overhang, so that the ink itself stays inside."""
    allowed = layout.column
    for _ in range(OVERHANG_TRIES):
        column, strip_button = _set_copy(text, face, layout, placement)
        placed = _place_column(column, layout)
        inside = _overhang(placed, allowed)
        if strip_button is not None and layout.cta is not None:
            placed.append(_strip_button(strip_button, layout.cta))
        if inside == (0, 0, 0, 0):
            return layout, placed
        left, top, right, bottom = layout.column
        narrowed = (left + inside[0], top + inside[1], right - inside[2], bottom - inside[3])
        layout = replace(layout, column=narrowed)
    raise does_not_fit("copy", placement)
