"""Colours: the RGB types, a few fixed colours, and the arithmetic the painters mix them with."""

from __future__ import annotations

import colorsys

RGB = tuple[int, int, int]
RGBA = tuple[int, int, int, int]

BLACK: RGB = (0, 0, 0)
WHITE: RGB = (255, 255, 255)
WARM_LIGHT: RGB = (255, 214, 150)


def mix(a: RGB, b: RGB, t: float) -> RGB:
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def darken(colour: RGB, t: float) -> RGB:
    return mix(colour, BLACK, t)


def lighten(colour: RGB, t: float) -> RGB:
    return mix(colour, WHITE, t)


def rgba(colour: RGB, alpha: int) -> RGBA:
    return (*colour, max(0, min(255, alpha)))


def to_hsv(colour: RGB) -> tuple[float, float, float]:
    return colorsys.rgb_to_hsv(colour[0] / 255, colour[1] / 255, colour[2] / 255)


def from_hsv(hue: float, sat: float, val: float) -> RGB:
    r, g, b = colorsys.hsv_to_rgb(hue % 1.0, clamp01(sat), clamp01(val))
    return round(r * 255), round(g * 255), round(b * 255)


def clamp01(value: float) -> float:
    return min(1.0, max(0.0, value))


def smoothstep(t: float) -> float:
    """0 to 1 with flat ends: fades that leave no visible edge."""
    return t * t * (3 - 2 * t)


def luminance(colour: RGB) -> float:
    return (0.2126 * colour[0] + 0.7152 * colour[1] + 0.0722 * colour[2]) / 255


def vividness(colour: RGB) -> float:
    _, sat, val = to_hsv(colour)
    return sat * val


def resembles(colour: RGB, other: RGB) -> bool:
    """Whether a viewer would call both by the same colour word."""
    hue_a, sat_a, val_a = to_hsv(colour)
    hue_b, sat_b, val_b = to_hsv(other)
    chromatic_a, chromatic_b = sat_a * val_a > 0.18, sat_b * val_b > 0.18
    if chromatic_a and chromatic_b:
        distance = abs(hue_a - hue_b)
        return min(distance, 1 - distance) < 0.06
    if not chromatic_a and not chromatic_b:
        return abs(val_a - val_b) < 0.22
    return False
