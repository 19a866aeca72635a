"""An input image in the picture: the client's image on a framed card in the scene's free rows.

The card keeps the image's aspect ratio and sits centred across the picture, in the larger of
the two stretches the headline leaves free (above or below it), clear of the PREVIEW label,
the letterbox bars and the watermark. When neither stretch is roomy enough (a thumbnail, a
very wide banner) the card takes the whole height and the headline is set over it, on its
scrim. The card is drawn after the style's finish, so the image's colours reach the output
unchanged, and nothing here draws from the RNG: the rest of the picture comes out exactly as
it would without the card.
"""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFilter, ImageOps

from creatix.engines.preview.brief import Brief
from creatix.engines.preview.colour import BLACK, lighten, rgba
from creatix.engines.preview.paint import Box, Plan, letterbox_bar
from creatix.engines.preview.typography import label_bottom, type_band
from creatix.media.watermark import watermark_box

CARD_WIDTH_SHARE = 0.78
"""The card is at most this share of the picture's width."""
MIN_BAND_SHARE = 0.35
"""A free stretch shorter than this share of the usable height is too cramped for the card."""
MAX_INPUT_SIDE = 4096
"""Inputs are reduced to this before composing: no output is larger."""


def prepare_input(source: Image.Image, max_side: int = MAX_INPUT_SIDE) -> Image.Image:
    """The input in RGB or RGBA, at most ``max_side`` a side, upright (EXIF orientation)."""
    image = source
    if image.mode not in ("RGB", "RGBA"):
        has_alpha = image.mode in ("LA", "PA", "La") or (
            image.mode == "P" and "transparency" in image.info
        )
        image = image.convert("RGBA" if has_alpha else "RGB")
    longest = max(image.size)
    if longest > max_side:
        scale = max_side / longest
        fitted = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(fitted, Image.Resampling.LANCZOS, reducing_gap=3.0)
    # A copy when nothing is to be turned: the caller's image is never drawn on.
    return ImageOps.exif_transpose(image)


def card_area(size: tuple[int, int], brief: Brief, plan: Plan) -> Box:
    """The box the card is fitted into."""
    width, height = size
    unit = min(size)
    margin = unit * 0.06
    bar = letterbox_bar(size) if brief.look.letterbox else 0
    upper = max(label_bottom(size), bar) + margin * 0.5
    lower = min(height - bar - margin * 0.5, watermark_box(width, height)[1] - margin * 0.4)
    if lower - upper < unit * 0.25:  # a thumbnail: the label and the mark fill it
        upper, lower = bar + margin * 0.5, height - bar - margin * 0.5
    type_top, type_bottom = type_band(size, brief, plan)
    gap = margin * 0.5
    if type_top - upper > lower - type_bottom:
        top, bottom = upper, type_top - gap
    else:
        top, bottom = type_bottom + gap, lower
    if bottom - top < (lower - upper) * MIN_BAND_SHARE:
        top, bottom = upper, lower
    side = width * (1 - CARD_WIDTH_SHARE) / 2
    return side, top, width - side, bottom


def compose_input(image: Image.Image, source: Image.Image, area: Box, brief: Brief) -> None:
    """Draw ``source`` (from ``prepare_input``) on a framed card fitted into ``area``."""
    if source.mode not in ("RGB", "RGBA"):
        source = prepare_input(source)
    left, top, right, bottom = area
    unit = min(image.size)
    pad = max(2, round(unit * 0.016))
    room_w, room_h = max(1.0, right - left - 2 * pad), max(1.0, bottom - top - 2 * pad)
    scale = min(room_w / source.width, room_h / source.height)
    fitted = (max(1, round(source.width * scale)), max(1, round(source.height * scale)))
    picture = source.resize(fitted, Image.Resampling.LANCZOS, reducing_gap=3.0)
    card_w, card_h = fitted[0] + 2 * pad, fitted[1] + 2 * pad
    x = round((left + right - card_w) / 2)
    y = round((top + bottom - card_h) / 2)
    card = (x, y, x + card_w - 1, y + card_h - 1)
    _shadow(image, card, unit)
    frame = lighten(brief.roles.light, 0.8)
    radius = 0 if brief.look.flat else pad * 0.8
    ImageDraw.Draw(image, "RGBA").rounded_rectangle(card, radius=radius, fill=rgba(frame, 255))
    mask = picture.getchannel("A") if picture.mode == "RGBA" else None
    image.paste(picture.convert("RGB"), (x + pad, y + pad), mask)


def _shadow(image: Image.Image, card: tuple[int, int, int, int], unit: int) -> None:
    """A soft shadow under the card, a little below it."""
    blur = max(1.0, unit * 0.015)
    drop = round(unit * 0.01)
    spread = round(blur * 3)
    x0, y0, x1, y1 = card
    region = (
        max(0, x0 - spread),
        max(0, y0 - spread + drop),
        min(image.width, x1 + spread + 1),
        min(image.height, y1 + spread + drop + 1),
    )
    if region[2] <= region[0] or region[3] <= region[1]:
        return
    size = (region[2] - region[0], region[3] - region[1])
    mask = Image.new("L", size, 0)
    shape = (x0 - region[0], y0 + drop - region[1], x1 - region[0], y1 + drop - region[1])
    ImageDraw.Draw(mask).rectangle(shape, fill=120)
    mask = mask.filter(ImageFilter.GaussianBlur(blur))
    image.paste(Image.new("RGB", size, BLACK), region[:2], mask)
