"""Painting the creative's backdrop: the cropped visual and its panel, the overlay's scrim,
and the logo (on a plate where it would vanish into what is behind it)."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from creatix.layout.arrange import Box, Plan
from creatix.layout.colour import BLACK, RGB, WHITE, luminance, luminance_map, ratio
from creatix.layout.saliency import fill

LOGO_CONTRAST = 3.0  # WCAG's minimum for graphics
FADE_BAND = 3  # rows per step of the scrim's fade


def painted_backdrop(
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


def gradient_scrim(
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


def paste_logo(
    canvas: Image.Image, logo: Image.Image, slot: Box, background: RGB, align: str
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
        plates = [c for c in (background, WHITE, BLACK) if ratio(ink, luminance(c)) >= 3]
        plate = plates[0] if plates else max((WHITE, BLACK), key=lambda c: ratio(ink, luminance(c)))
        plate_box = (box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad)
        ImageDraw.Draw(canvas).rounded_rectangle(plate_box, radius=pad, fill=plate)
    scaled = rgba.resize((box[2] - box[0], box[3] - box[1]), Image.Resampling.LANCZOS)
    canvas.paste(scaled, box[:2], scaled)
    return box
