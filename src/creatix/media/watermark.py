"""The visible watermark: by default a dark rounded plate reading "Creatix" in the
bottom-right corner; the catalog's ``visible_marks`` may name other text, an operator's logo,
another corner, size or opacity (``VisibleMarkStyle``), and which outputs carry it at all.

The plate is a pure function of the image size and the style, so it is rendered once per
size and cached; applying it composites only the plate's box, never the whole image.
"""

from __future__ import annotations

import math
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from creatix.catalog.schemas import VisibleMarkStyle

MARK_TEXT = "Creatix"
DEFAULT_STYLE = VisibleMarkStyle()
PLATE_COLOR = (16, 18, 24, 168)
TEXT_COLOR = (255, 255, 255, 240)

PLATE_HEIGHT_PER_SCALE = 0.045
"""Plate height as a share of sqrt(width * height): grows with the image, not with one side."""
PLATE_ASPECT = 3.1
MIN_PLATE_HEIGHT = 18
MAX_WIDTH_SHARE = 0.42
MAX_HEIGHT_SHARE = 0.16
MARGIN_PER_PLATE_HEIGHT = 0.55
FONT_PER_PLATE_HEIGHT = 0.56
SUPERSAMPLE = 4
"""Corners are drawn this many times larger, then scaled down, for smooth edges."""


def watermark_box(
    width: int, height: int, style: VisibleMarkStyle = DEFAULT_STYLE
) -> tuple[int, int, int, int]:
    """The (left, top, right, bottom) box the watermark covers in a ``width x height`` image."""
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    aspect = _aspect(style)
    plate_h = max(MIN_PLATE_HEIGHT, round(math.sqrt(width * height) * style.size))
    plate_h = min(plate_h, int(width * MAX_WIDTH_SHARE / aspect), int(height * MAX_HEIGHT_SHARE))
    plate_h = max(plate_h, 1)
    plate_w = max(1, min(width, round(plate_h * aspect)))
    margin = round(plate_h * MARGIN_PER_PLATE_HEIGHT)
    left = margin if style.corner.endswith("left") else width - margin - plate_w
    top = margin if style.corner.startswith("top") else height - margin - plate_h
    left, top = max(0, left), max(0, top)
    return left, top, left + plate_w, top + plate_h


def apply_watermark(image: Image.Image, style: VisibleMarkStyle = DEFAULT_STYLE) -> Image.Image:
    """A new RGB copy of ``image`` with the mark drawn inside ``watermark_box``."""
    marked = image.convert("RGB") if image.mode != "RGB" else image.copy()
    mark_in_place(marked, style)
    return marked


def mark_in_place(image: Image.Image, style: VisibleMarkStyle = DEFAULT_STYLE) -> None:
    """Draw the mark into the RGB ``image`` itself: for an image nothing else holds, what
    ``apply_watermark`` does without a copy of the picture (200 MB at 8192x8192)."""
    if image.mode != "RGB":
        raise ValueError(f"mark_in_place takes an RGB image, not {image.mode}")
    left, top, right, bottom = watermark_box(*image.size, style)
    overlay = _overlay(right - left, bottom - top, style)
    region = image.crop((left, top, right, bottom)).convert("RGBA")
    image.paste(Image.alpha_composite(region, overlay).convert("RGB"), (left, top))


def watermark_overlay(
    width: int, height: int, style: VisibleMarkStyle = DEFAULT_STYLE
) -> tuple[tuple[int, int, int, int], Image.Image]:
    """The box the mark covers in a ``width x height`` picture and the RGBA mark that
    ``mark_in_place`` composites there: for pictures held in other planes (a video's Y'CbCr).
    The mark is shared through a cache: treat it as read-only."""
    left, top, right, bottom = watermark_box(width, height, style)
    return (left, top, right, bottom), _overlay(right - left, bottom - top, style)


def _aspect(style: VisibleMarkStyle) -> float:
    if style.logo:
        width, height = _logo(style.logo).size
        return max(0.05, width / max(1, height))
    return PLATE_ASPECT


@lru_cache(maxsize=8)
def _logo(path: str) -> Image.Image:
    """The operator's logo as RGBA (checked readable when the catalog was loaded)."""
    with Image.open(path) as picture:
        return picture.convert("RGBA")


@lru_cache(maxsize=32)
def _overlay(plate_w: int, plate_h: int, style: VisibleMarkStyle) -> Image.Image:
    """The RGBA mark; treat as read-only (it is shared through the cache)."""
    if style.logo:
        overlay = _logo(style.logo).resize((plate_w, plate_h), Image.Resampling.LANCZOS)
    else:
        overlay = _plate(plate_w, plate_h, style.text or MARK_TEXT)
    if style.opacity < 1.0:
        alpha = overlay.getchannel("A").point(lambda value: round(value * style.opacity))
        overlay = overlay.copy()
        overlay.putalpha(alpha)
    return overlay


def _plate(plate_w: int, plate_h: int, text: str) -> Image.Image:
    big = Image.new("L", (plate_w * SUPERSAMPLE, plate_h * SUPERSAMPLE), 0)
    radius = plate_h * SUPERSAMPLE * 0.3
    ImageDraw.Draw(big).rounded_rectangle(
        (0, 0, big.width - 1, big.height - 1), radius=radius, fill=PLATE_COLOR[3]
    )
    overlay = Image.new("RGBA", (plate_w, plate_h), (*PLATE_COLOR[:3], 0))
    overlay.putalpha(big.resize((plate_w, plate_h), Image.Resampling.BOX))
    _draw_text(overlay, text)
    return overlay


def _draw_text(overlay: Image.Image, text: str) -> None:
    plate_w, plate_h = overlay.size
    font_size = max(6, round(plate_h * FONT_PER_PLATE_HEIGHT))
    font = ImageFont.load_default(size=font_size)
    text_w = font.getlength(text)
    if text_w > plate_w * 0.82:
        font = ImageFont.load_default(size=max(6, int(font_size * plate_w * 0.82 / text_w)))
    ImageDraw.Draw(overlay).text(
        (plate_w / 2, plate_h / 2), text, font=font, fill=TEXT_COLOR, anchor="mm"
    )
