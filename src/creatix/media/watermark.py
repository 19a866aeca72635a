"""The visible watermark: a dark rounded plate reading "Creatix" in the bottom-right corner.

The plate is a pure function of the image size, so it is rendered once per size and cached;
applying it composites only the plate's box, never the whole image.
"""

from __future__ import annotations

import math
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

MARK_TEXT = "Creatix"
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


def watermark_box(width: int, height: int) -> tuple[int, int, int, int]:
    """The (left, top, right, bottom) box the watermark covers in a ``width x height`` image."""
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    plate_h = max(MIN_PLATE_HEIGHT, round(math.sqrt(width * height) * PLATE_HEIGHT_PER_SCALE))
    plate_h = min(
        plate_h, int(width * MAX_WIDTH_SHARE / PLATE_ASPECT), int(height * MAX_HEIGHT_SHARE)
    )
    plate_h = max(plate_h, 1)
    plate_w = max(1, round(plate_h * PLATE_ASPECT))
    margin = round(plate_h * MARGIN_PER_PLATE_HEIGHT)
    right, bottom = width - margin, height - margin
    return right - plate_w, bottom - plate_h, right, bottom


def apply_watermark(image: Image.Image) -> Image.Image:
    """A new RGB copy of ``image`` with the mark drawn inside ``watermark_box``."""
    marked = image.convert("RGB") if image.mode != "RGB" else image.copy()
    mark_in_place(marked)
    return marked


def mark_in_place(image: Image.Image) -> None:
    """Draw the mark into the RGB ``image`` itself: for an image nothing else holds, what
    ``apply_watermark`` does without a copy of the picture (200 MB at 8192x8192)."""
    if image.mode != "RGB":
        raise ValueError(f"mark_in_place takes an RGB image, not {image.mode}")
    left, top, right, bottom = watermark_box(*image.size)
    overlay = _overlay(right - left, bottom - top)
    region = image.crop((left, top, right, bottom)).convert("RGBA")
    image.paste(Image.alpha_composite(region, overlay).convert("RGB"), (left, top))


@lru_cache(maxsize=32)
def _overlay(plate_w: int, plate_h: int) -> Image.Image:
    """The RGBA plate with its text; treat as read-only (it is shared through the cache)."""
    big = Image.new("L", (plate_w * SUPERSAMPLE, plate_h * SUPERSAMPLE), 0)
    radius = plate_h * SUPERSAMPLE * 0.3
    ImageDraw.Draw(big).rounded_rectangle(
        (0, 0, big.width - 1, big.height - 1), radius=radius, fill=PLATE_COLOR[3]
    )
    overlay = Image.new("RGBA", (plate_w, plate_h), (*PLATE_COLOR[:3], 0))
    overlay.putalpha(big.resize((plate_w, plate_h), Image.Resampling.BOX))
    _draw_text(overlay)
    return overlay


def _draw_text(overlay: Image.Image) -> None:
    plate_w, plate_h = overlay.size
    font_size = max(6, round(plate_h * FONT_PER_PLATE_HEIGHT))
    font = ImageFont.load_default(size=font_size)
    text_w = font.getlength(MARK_TEXT)
    if text_w > plate_w * 0.82:
        font = ImageFont.load_default(size=max(6, int(font_size * plate_w * 0.82 / text_w)))
    ImageDraw.Draw(overlay).text(
        (plate_w / 2, plate_h / 2), MARK_TEXT, font=font, fill=TEXT_COLOR, anchor="mm"
    )
