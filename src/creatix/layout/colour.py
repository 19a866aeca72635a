"""WCAG relative luminance and contrast ratios, for single colours and for pixel arrays."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

RGB = tuple[int, int, int]
WHITE: RGB = (255, 255, 255)
BLACK: RGB = (0, 0, 0)


def _channel(value: float) -> float:
    c = value / 255.0
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


_LINEAR = np.array([_channel(v) for v in range(256)], dtype=np.float64)


def luminance(colour: RGB) -> float:
    r, g, b = (_LINEAR[v] for v in colour)
    return float(0.2126 * r + 0.7152 * g + 0.0722 * b)


_WEIGHTED = np.stack([_LINEAR * w for w in (0.2126, 0.7152, 0.0722)]).astype(np.float32)


def luminance_map(pixels: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """The relative luminance of every pixel of an ``(..., 3)`` uint8 array."""
    result: npt.NDArray[np.float32] = (
        _WEIGHTED[0][pixels[..., 0]] + _WEIGHTED[1][pixels[..., 1]] + _WEIGHTED[2][pixels[..., 2]]
    )
    return result


def ratio(a: float, b: float) -> float:
    """The WCAG contrast ratio of two relative luminances."""
    high, low = (a, b) if a >= b else (b, a)
    return (high + 0.05) / (low + 0.05)


def worst_ratio(text: float, lowest: float, highest: float) -> float:
    """The contrast of a text luminance against the worst pixel of a background whose
    luminances span ``lowest..highest``."""
    if lowest <= text <= highest:
        return 1.0
    return min(ratio(text, lowest), ratio(text, highest))


def contrast(a: RGB, b: RGB) -> float:
    return ratio(luminance(a), luminance(b))


def best_of(colours: list[RGB], lowest: float, highest: float) -> tuple[RGB, float]:
    """The colour with the highest worst-case contrast over a luminance range."""
    scored = [(worst_ratio(luminance(c), lowest, highest), c) for c in colours]
    score, colour = max(scored, key=lambda pair: pair[0])
    return colour, score
