"""Measuring text contrast on the pixels behind it, and scrims that raise it where needed.

Contrast is the WCAG ratio of the text colour against the worst pixel in the text's box (the
lightest one under dark text, the darkest one under light text), never an average.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from creatix.layout.arrange import Box
from creatix.layout.colour import RGB, luminance, luminance_map, worst_ratio

TARGET = 4.5
SEARCH_TARGET = 4.7  # searched with a margin, then verified exactly on every pixel
CANDIDATES = 512


def clip(box: Box, size: tuple[int, int]) -> Box:
    return max(0, box[0]), max(0, box[1]), min(size[0], box[2]), min(size[1], box[3])


def pixels(image: Image.Image, box: Box) -> npt.NDArray[np.uint8]:
    return np.asarray(image.crop(clip(box, image.size)), dtype=np.uint8)[..., :3]


def measure(image: Image.Image, box: Box, text: RGB) -> float:
    """The text colour's contrast against the worst pixel of ``image`` inside ``box``."""
    lum = luminance_map(pixels(image, box))
    if lum.size == 0:
        return 21.0
    return worst_ratio(luminance(text), float(lum.min()), float(lum.max()))


def _blend(values: npt.NDArray[np.uint8], scrim: RGB, alpha: float) -> npt.NDArray[np.uint8]:
    mixed = values.astype(np.float64) * (1.0 - alpha) + np.array(scrim, np.float64) * alpha
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


def _passes(values: npt.NDArray[np.uint8], text_lum: float, target: float) -> bool:
    lum = luminance_map(values)
    return worst_ratio(text_lum, float(lum.min()), float(lum.max())) >= target


def needed_alpha(image: Image.Image, box: Box, text: RGB, scrim: RGB) -> float:
    """The least opacity of a ``scrim``-coloured layer over ``box`` that lifts the text's
    worst-case contrast to the target (1.0 when only a solid panel will do)."""
    region = pixels(image, box).reshape(-1, 3)
    if region.size == 0:
        return 0.0
    text_lum = luminance(text)
    if _passes(region, text_lum, SEARCH_TARGET):
        return 0.0
    lum = luminance_map(region)
    # The pixels that decide: those nearest the text's own luminance from the far side.
    keyed = lum if luminance(scrim) > text_lum else -lum
    count = min(CANDIDATES, keyed.size)
    candidates = region[np.argpartition(keyed, count - 1)[:count]]
    low, high = 0.0, 1.0
    for _ in range(9):
        middle = (low + high) / 2
        if _passes(_blend(candidates, scrim, middle), text_lum, SEARCH_TARGET):
            high = middle
        else:
            low = middle
    return high


def apply_scrim(image: Image.Image, box: Box, scrim: RGB, alpha: float, radius: int = 0) -> None:
    """Lay a ``scrim``-coloured layer of opacity ``alpha`` over ``box`` (rounded corners)."""
    if alpha <= 0:
        return
    box = clip(box, image.size)
    width, height = box[2] - box[0], box[3] - box[1]
    if width <= 0 or height <= 0:
        return
    level = min(255, math.ceil(alpha * 255))
    mask = Image.new("L", (width, height), 0)
    if radius > 0:
        ImageDraw.Draw(mask).rounded_rectangle(
            (0, 0, width - 1, height - 1), radius=radius, fill=level
        )
    else:
        mask.paste(level, (0, 0, width, height))
    image.paste(scrim, box, mask)
