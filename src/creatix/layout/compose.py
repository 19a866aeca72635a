"""Compose one creative: the key visual cropped around its subject, the copy set in the kit's
font, a scrim wherever the pixels behind a text would fall short of WCAG 4.5:1, the button,
the logo and the legal line, all inside the placement's safe zone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image, ImageDraw

from creatix.layout.arrange import SLACK, Box, Plan, arrangement, plan
from creatix.layout.budgets import check_copy_fits
from creatix.layout.colour import BLACK, RGB, WHITE, contrast, luminance, luminance_map, ratio
from creatix.layout.contrast import TARGET, apply_scrim, measure, needed_alpha
from creatix.layout.errors import LayoutInputError
from creatix.layout.fonts import FontFace
from creatix.layout.presets import Placement
from creatix.layout.saliency import crop_box, fill, focal_point
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

LOGO_CONTRAST = 3.0  # WCAG's minimum for graphics
FADE_BAND = 3  # rows per step of the scrim's fade
OVERLAY_SCRIM = 0.35  # the gradient's opacity behind an overlay's text before any boost
SUBJECT_LOW = 0.58  # a subject below this fraction of the height moves the text to the top


@dataclass(frozen=True)
class AdCopy:
    headline: str
    body: str
    cta: str
    legal: str | None = None


@dataclass(frozen=True)
class BrandStyle:
    primary: RGB
    secondary: RGB
    background: RGB
    text: RGB
    font: FontFace
    logo: Image.Image | None = None


@dataclass(frozen=True)
class TextBox:
    role: str  # "headline" | "body" | "cta" | "legal"
    box: Box  # the rendered glyphs' bounding box
    contrast: float  # WCAG ratio against the worst pixel behind the box


@dataclass(frozen=True)
class Composition:
    image: Image.Image
    text_boxes: tuple[TextBox, ...]
    logo_box: Box | None


@dataclass(frozen=True)
class Layers:
    """A composition and its backdrop: every pixel except the text's glyphs."""

    composition: Composition
    backdrop: Image.Image


@dataclass(frozen=True)
class _Placed:
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


def compose(
    visual: Image.Image, copy: AdCopy, style: BrandStyle, placement: Placement
) -> Composition:
    """The creative for one placement (see the module's docstring)."""
    return _compose(visual, copy, style, placement, keep_backdrop=False)[0]


def _normalised(copy: AdCopy, placement: Placement) -> Copy:
    return Copy(
        headline=" ".join(copy.headline.split()),
        body=" ".join(copy.body.split()) if placement.body_chars else "",
        cta=" ".join(copy.cta.split()),
        legal=" ".join((copy.legal or "").split()),
    )


def _does_not_fit(role: str, placement: Placement) -> LayoutInputError:
    what = "the copy" if role == "copy" else f"the {role}"
    return LayoutInputError(
        f"copy.{role}" if role != "copy" else "copy",
        f"{what} does not fit placement {placement.name} at a legible size",
        placement=placement.name,
    )


def _set_copy(
    text: Copy, style: BrandStyle, layout: Plan, placement: Placement
) -> tuple[Column, SetText | None]:
    """The column's texts at their largest fitting sizes, and a strip's separate button."""
    col = layout.column
    width, height = col[2] - col[0] - 2 * SLACK, col[3] - col[1]
    in_column = text if layout.cta is None else Copy(text.headline, text.body, "", text.legal)
    column = fit_column(style.font, in_column, layout.scale, width, height)
    if column is None:
        roles = ["headline", "body", "legal"] + (["cta"] if layout.cta is None else [])
        raise _does_not_fit(
            failing_role(style.font, in_column, layout.scale, width, roles), placement
        )
    if layout.cta is None or not text.cta:
        return column, None
    slot = layout.cta
    button = _strip_cta(style.font, text.cta, layout.scale.cta, slot)
    if button is None:
        raise _does_not_fit("cta", placement)
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


def _place_column(column: Column, layout: Plan) -> list[tuple[_Placed, Box | None]]:
    """Each block's position; a call to action also gets its button's box."""
    left, top, right, bottom = layout.column
    total = column_height(column)
    y = {"top": top, "center": top + (bottom - top - total) // 2, "bottom": bottom - total}[
        layout.valign
    ]
    placed: list[tuple[_Placed, Box | None]] = []
    inner = (left + SLACK, top, right - SLACK, bottom)
    for block in column.blocks():
        if block.role == "cta":
            w = cta_width(block)
            x = inner[0] if layout.align == "left" else (left + right - w) // 2
            button = (x, y, x + w, y + cta_height(block))
            placed.append((_button_label(block, button), button))
        else:
            placed.append((_Placed(block, (inner[0], y + block.ascent), inner, layout.align), None))
        y += block_height(block) + column.gap
    return placed


def _button_label(cta: SetText, button: Box) -> _Placed:
    pad_x, pad_y = round(cta.size * CTA_PAD_X), round(cta.size * CTA_PAD_Y)
    inner = (button[0] + pad_x, button[1] + pad_y, button[2] - pad_x, button[3] - pad_y)
    return _Placed(cta, (inner[0], inner[1] + cta.ascent), inner, "left")


def _strip_button(cta: SetText, slot: Box) -> tuple[_Placed, Box]:
    w, h = cta_width(cta), cta_height(cta)
    x, y = slot[2] - w, slot[1] + (slot[3] - slot[1] - h) // 2
    button = (x, y, x + w, y + h)
    return _button_label(cta, button), button


def _text_colour(style: BrandStyle, layout: Plan) -> RGB:
    """The kit's text colour over a picture (the scrim makes it legible); on a panel of the
    kit's background, the first of its text and secondary colours that reads on it, else
    black or white."""
    if layout.kind == "overlay":
        return style.text
    for colour in (style.text, style.secondary):
        if contrast(colour, style.background) >= TARGET:
            return colour
    return max((WHITE, BLACK), key=lambda c: contrast(c, style.background))


def _scrim_colour(text: RGB, style: BrandStyle) -> RGB:
    if contrast(text, style.background) >= TARGET:
        return style.background
    return BLACK if contrast(text, BLACK) >= contrast(text, WHITE) else WHITE


def _button_text(primary: RGB, style: BrandStyle) -> RGB:
    for colour in (style.background, style.text, WHITE, BLACK):
        if contrast(colour, primary) >= TARGET:
            return colour
    return max((WHITE, BLACK), key=lambda c: contrast(c, primary))


def _subject_low(source: Image.Image, focal: tuple[float, float], placement: Placement) -> bool:
    """Whether the subject would sit in the lower part of an overlay's picture (where the
    text goes by default), cropped as the bottom-text arrangement would crop it."""
    box = crop_box(source.size, placement.size, focal, plan(placement).anchor)
    return (focal[1] * source.height - box[1]) / (box[3] - box[1]) > SUBJECT_LOW


def _backdrop(
    source: Image.Image, focal: tuple[float, float], layout: Plan, size: tuple[int, int], panel: RGB
) -> Image.Image:
    """The canvas with the key visual cropped into its box and the panel painted."""
    box = layout.visual
    target = (box[2] - box[0], box[3] - box[1])
    picture = fill(source, target, focal, layout.anchor)
    if box == (0, 0, *size):
        canvas = picture
    else:
        canvas = Image.new("RGB", size, panel)
        canvas.paste(picture, box[:2])
    if layout.panel is not None:
        canvas.paste(panel, layout.panel)
    return canvas


def _gradient_scrim(
    canvas: Image.Image, span: tuple[int, int], scrim: RGB, alpha: float, unit: int
) -> None:
    """A scrim that holds at ``alpha`` over the rows ``span`` reaching one edge of the
    canvas, and fades out beyond the other end."""
    width, height = canvas.size
    fade = max(1, round(unit * 0.2))
    hold = min(255, math.ceil(alpha * 255))
    draw = ImageDraw.Draw(canvas, "RGBA")
    draw.rectangle((0, span[0], width - 1, span[1] - 1), fill=(*scrim, hold))
    downwards = span[0] == 0
    for step in range(0, fade, FADE_BAND):
        level = round(hold * max(0.0, 1 - (step + FADE_BAND / 2) / fade) ** 1.5)
        if downwards:
            rows = (span[1] + step, min(height, span[1] + step + FADE_BAND))
        else:
            rows = (max(0, span[0] - step - FADE_BAND), span[0] - step)
        if rows[1] > rows[0]:
            draw.rectangle((0, rows[0], width - 1, rows[1] - 1), fill=(*scrim, level))


def _fit(logo: Image.Image, slot: Box, align: str) -> Box:
    """The box of ``logo`` scaled to fit ``slot`` (its aspect kept), aligned in it."""
    slot_w, slot_h = slot[2] - slot[0], slot[3] - slot[1]
    scale = min(slot_w / logo.width, slot_h / logo.height)
    w, h = max(1, round(logo.width * scale)), max(1, round(logo.height * scale))
    x = {"left": slot[0], "center": slot[0] + (slot_w - w) // 2, "right": slot[2] - w}[align]
    y = slot[1] + (slot_h - h) // 2
    return x, y, x + w, y + h


def _median_luminance(pixels: Image.Image, mask: Image.Image | None = None) -> float:
    values = luminance_map(np.asarray(pixels.convert("RGB"), dtype=np.uint8))
    if mask is not None:
        values = values[np.asarray(mask) > 127]
    return float(np.median(values)) if values.size else 0.0


def _paste_logo(
    canvas: Image.Image, logo: Image.Image, slot: Box, style: BrandStyle, align: str
) -> Box:
    """Paste the logo scaled into its slot. Where it would not stand out from what is behind
    it (WCAG's 3:1 for graphics, medians of the logo's ink and of the backdrop), it sits on a
    rounded plate of the kit's background colour (or white or black), inside the slot."""
    rgba = logo.convert("RGBA")
    box = _fit(rgba, slot, align)
    ink = _median_luminance(rgba, rgba.getchannel("A"))
    if ratio(ink, _median_luminance(canvas.crop(box))) < LOGO_CONTRAST:
        pad = max(2, round(min(slot[2] - slot[0], slot[3] - slot[1]) * 0.12))
        box = _fit(rgba, (slot[0] + pad, slot[1] + pad, slot[2] - pad, slot[3] - pad), align)
        plates = [c for c in (style.background, WHITE, BLACK) if ratio(ink, luminance(c)) >= 3]
        plate = plates[0] if plates else max((WHITE, BLACK), key=lambda c: ratio(ink, luminance(c)))
        plate_box = (box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad)
        ImageDraw.Draw(canvas).rounded_rectangle(plate_box, radius=pad, fill=plate)
    scaled = rgba.resize((box[2] - box[0], box[3] - box[1]), Image.Resampling.LANCZOS)
    canvas.paste(scaled, box[:2], scaled)
    return box


def compose_layers(
    visual: Image.Image, copy: AdCopy, style: BrandStyle, placement: Placement
) -> Layers:
    """``compose``, also returning the backdrop the text was measured on."""
    composition, backdrop = _compose(visual, copy, style, placement, keep_backdrop=True)
    assert backdrop is not None
    return Layers(composition, backdrop)


def _lay_scrims(
    canvas: Image.Image,
    layout: Plan,
    placed: list[tuple[_Placed, Box | None]],
    colour: RGB,
    scrim: RGB,
) -> None:
    """An overlay gets one scrim behind its whole column, as strong as its most demanding
    text needs; text on a panel gets a patch only where the panel falls short."""
    draw = ImageDraw.Draw(canvas)
    texts = [(label, label.glyph_box(draw)) for label, button in placed if button is None]
    if layout.kind != "overlay":
        for label, box in texts:
            pad = max(2, round(label.text.size * 0.3))
            padded = (box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad)
            apply_scrim(canvas, padded, scrim, needed_alpha(canvas, box, colour, scrim), pad)
        return
    pad = max(2, round(max(label.text.size for label, _ in texts) * 0.3))
    boxes = [box for _, box in texts] + [button for _, button in placed if button]
    height = canvas.height
    if layout.valign == "top":
        span = (0, min(height, max(box[3] for box in boxes) + pad))
    else:
        span = (max(0, min(box[1] for box in boxes) - pad), height)
    needed = max(needed_alpha(canvas, box, colour, scrim) for _, box in texts)
    _gradient_scrim(canvas, span, scrim, max(OVERLAY_SCRIM, needed), min(canvas.size))


_MEASURE = ImageDraw.Draw(Image.new("L", (1, 1)))
OVERHANG_TRIES = 4


def _overhang(placed: list[tuple[_Placed, Box | None]], column: Box) -> Box:
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


def _set_and_place(
    text: Copy, style: BrandStyle, layout: Plan, placement: Placement
) -> tuple[Plan, list[tuple[_Placed, Box | None]]]:
    """Set the copy and place it; where glyphs overhang the column, set it again in a column
    narrowed (or shortened) by the overhang, so that the ink itself stays inside."""
    allowed = layout.column
    for _ in range(OVERHANG_TRIES):
        column, strip_button = _set_copy(text, style, layout, placement)
        placed = _place_column(column, layout)
        inside = _overhang(placed, allowed)
        if strip_button is not None and layout.cta is not None:
            placed.append(_strip_button(strip_button, layout.cta))
        if inside == (0, 0, 0, 0):
            return layout, placed
        left, top, right, bottom = layout.column
        narrowed = (left + inside[0], top + inside[1], right - inside[2], bottom - inside[3])
        layout = replace(layout, column=narrowed)
    raise _does_not_fit("copy", placement)


def _compose(
    visual: Image.Image,
    copy: AdCopy,
    style: BrandStyle,
    placement: Placement,
    *,
    keep_backdrop: bool,
) -> tuple[Composition, Image.Image | None]:
    check_copy_fits(copy, placement)
    source = visual if visual.mode == "RGB" else visual.convert("RGB")
    focal = focal_point(source)
    low = arrangement(placement) == "overlay" and _subject_low(source, focal, placement)
    layout, placed = _set_and_place(
        _normalised(copy, placement), style, plan(placement, text_at_top=low), placement
    )
    canvas = _backdrop(source, focal, layout, placement.size, style.background)

    draw = ImageDraw.Draw(canvas)
    colour = _text_colour(style, layout)
    scrim = _scrim_colour(colour, style)
    texts = [(p, p.glyph_box(draw)) for p, button in placed if button is None]
    _lay_scrims(canvas, layout, placed, colour, scrim)
    logo_box = None
    if style.logo is not None and layout.logo is not None:
        logo_box = _paste_logo(canvas, style.logo, layout.logo, style, layout.logo_align)

    labels: list[tuple[_Placed, RGB, Box]] = []
    for label, button in placed:
        if button is None:
            continue
        radius = min(button[3] - button[1], button[2] - button[0]) // 4
        draw.rounded_rectangle(button, radius=radius, fill=style.primary)
        labels.append((label, _button_text(style.primary, style), label.glyph_box(draw)))
    labels.extend((label, colour, box) for label, box in texts)

    measured = [measure(canvas, box, fill_colour) for _, fill_colour, box in labels]
    for index, (_, fill_colour, box) in enumerate(labels):
        if measured[index] < TARGET:  # rounding, or the logo came close: a solid patch
            apply_scrim(canvas, box, _scrim_colour(fill_colour, style), 1.0)
            measured = [measure(canvas, b, c) for _, c, b in labels]

    backdrop = canvas.copy() if keep_backdrop else None
    text_boxes = []
    for (label, fill_colour, box), worst in zip(labels, measured, strict=True):
        for x, y, line in label.line_positions():
            draw.text((x, y), line, font=label.text.font, fill=fill_colour, anchor="ls")
        text_boxes.append(TextBox(label.text.role, box, worst))
    order = {"headline": 0, "body": 1, "cta": 2, "legal": 3}
    text_boxes.sort(key=lambda t: order[t.role])
    return Composition(canvas, tuple(text_boxes), logo_box), backdrop
