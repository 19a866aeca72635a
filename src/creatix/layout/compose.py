"""Compose one creative: the key visual cropped around its subject, the copy set in the kit's
font, a scrim wherever the pixels behind a text would fall short of WCAG 4.5:1, the button,
the logo and the legal line, all inside the placement's safe zone.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image, ImageDraw

from creatix.layout.arrange import Box, Plan, arrangement, plan
from creatix.layout.budgets import check_copy_fits
from creatix.layout.colour import BLACK, RGB, WHITE, contrast
from creatix.layout.contrast import TARGET, apply_scrim, measure, needed_alpha
from creatix.layout.fonts import FontFace
from creatix.layout.paint import gradient_scrim, painted_backdrop, paste_logo
from creatix.layout.placing import Placed, set_and_place
from creatix.layout.presets import Placement
from creatix.layout.saliency import crop_box, focal_point
from creatix.layout.typeset import Copy

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


def normalised(copy: AdCopy, placement: Placement) -> Copy:
    return Copy(
        headline=" ".join(copy.headline.split()),
        body=" ".join(copy.body.split()) if placement.body_chars else "",
        cta=" ".join(copy.cta.split()),
        legal=" ".join((copy.legal or "").split()),
    )


def compose(
    visual: Image.Image, copy: AdCopy, style: BrandStyle, placement: Placement
) -> Composition:
    """The creative for one placement (see the module's docstring)."""
    return _compose(visual, copy, style, placement, keep_backdrop=False)[0]


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
    placed: list[tuple[Placed, Box | None]],
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
    gradient_scrim(canvas, span, scrim, max(OVERLAY_SCRIM, needed), min(canvas.size))


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
    layout, placed = set_and_place(
        normalised(copy, placement), style.font, plan(placement, text_at_top=low), placement
    )
    canvas = painted_backdrop(source, focal, layout, placement.size, style.background)

    draw = ImageDraw.Draw(canvas)
    colour = _text_colour(style, layout)
    scrim = _scrim_colour(colour, style)
    texts = [(p, p.glyph_box(draw)) for p, button in placed if button is None]
    _lay_scrims(canvas, layout, placed, colour, scrim)
    logo_box = None
    if style.logo is not None and layout.logo is not None:
        logo_box = paste_logo(canvas, style.logo, layout.logo, style.background, layout.logo_align)

    labels: list[tuple[Placed, RGB, Box]] = []
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
