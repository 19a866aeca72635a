"""The sizing rules: a size name is a pixel budget, an aspect ratio shapes it; a resolution
is a long side.

``dimensions``: ``side x side`` pixels are spread over the ratio ``W:H`` and both sides are
rounded to the nearest multiple of 64, the granularity latent-diffusion models want.

``long_side_dimensions``: for models priced by a resolution (gpt-image-2's 1k, 2k, 4k), the
resolution is the long side, exactly; the short side follows the ratio and is rounded to the
nearest multiple of 64 (4096 at 16:9 -> 4096x2304, 1024 at 3:2 -> 1024x704).

``video_size``: a video of an image keeps the image's aspect ratio, its short side the
resolution's (720p: 720), both sides even.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Literal

SizeName = Literal["512x512", "1024x1024", "2048x2048"]
"""The size names requests may send (Creatix v1's ``size``)."""
AspectRatioName = Literal["1:1", "16:9", "9:16", "4:3", "3:4", "1:4", "4:1"]
"""The aspect ratios requests may send; ``ASPECT_RATIOS`` lists them."""

SIZE_SIDES: dict[str, int] = {"512x512": 512, "1024x1024": 1024, "2048x2048": 2048}
ASPECT_RATIOS: tuple[str, ...] = ("1:1", "16:9", "9:16", "4:3", "3:4", "1:4", "4:1")

PIXEL_STEP = 64


def parse_size(size: str) -> int:
    """The side of a named size (``"1024x1024"`` -> 1024)."""
    try:
        return SIZE_SIDES[size]
    except KeyError:
        known = ", ".join(SIZE_SIDES)
        raise ValueError(f"unknown size {size!r}; expected one of {known}") from None


def parse_aspect_ratio(aspect_ratio: str) -> tuple[float, float]:
    """``"16:9"`` -> ``(16.0, 9.0)``; both parts must be positive finite numbers."""
    parts = aspect_ratio.split(":")
    if len(parts) != 2:
        raise ValueError(f"aspect ratio {aspect_ratio!r} is not of the form W:H")
    try:
        ratio_w, ratio_h = float(parts[0]), float(parts[1])
    except ValueError:
        raise ValueError(f"aspect ratio {aspect_ratio!r} is not of the form W:H") from None
    if not all(math.isfinite(x) and x > 0 for x in (ratio_w, ratio_h)):
        raise ValueError(f"aspect ratio {aspect_ratio!r} must have two positive parts")
    return ratio_w, ratio_h


def dimensions(side: int, aspect_ratio: str) -> tuple[int, int]:
    """(width, height) in pixels for a budget of ``side * side`` shaped by ``aspect_ratio``."""
    if side <= 0:
        raise ValueError(f"size side must be positive, got {side}")
    ratio_w, ratio_h = parse_aspect_ratio(aspect_ratio)
    width = side * math.sqrt(ratio_w / ratio_h)
    height = side * math.sqrt(ratio_h / ratio_w)
    return _round_to_step(width), _round_to_step(height)


def long_side_dimensions(long_side: int, aspect_ratio: str) -> tuple[int, int]:
    """(width, height) whose longer side is ``long_side`` and whose shape is ``aspect_ratio``."""
    if long_side <= 0:
        raise ValueError(f"long side must be positive, got {long_side}")
    ratio_w, ratio_h = parse_aspect_ratio(aspect_ratio)
    short = min(
        long_side, _round_to_step(long_side * min(ratio_w, ratio_h) / max(ratio_w, ratio_h))
    )
    return (long_side, short) if ratio_w >= ratio_h else (short, long_side)


def _round_to_step(length: float) -> int:
    # floor(x + 0.5) rather than round(): banker's rounding would send ties both ways.
    steps = math.floor(length / PIXEL_STEP + 0.5)
    return max(1, steps) * PIXEL_STEP


def _even(length: Fraction) -> int:
    """``length`` rounded to the nearest even number (halves up), at least 2."""
    return max(2, 2 * math.floor(length / 2 + Fraction(1, 2)))


def video_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """The (width, height) of a video of a ``width``×``height`` image: the image's aspect
    ratio with its short side ``short_side``, both sides even."""
    if width >= height:
        return _even(Fraction(short_side * width, height)), short_side
    return short_side, _even(Fraction(short_side * height, width))
