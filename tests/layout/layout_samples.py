"""Key visuals, kits and copy for the layout tests, and an independent WCAG measure."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from creatix.layout import AdCopy, BrandStyle, FontFace, bundled_fonts

COPY = AdCopy(
    headline="Fresh coffee, roasted daily",
    body="Beans from small farms, at your door in two days.",
    cta="Order now",
    legal="Terms apply. See site for details.",
)


def plain_visual() -> Image.Image:
    """A mid-toned backdrop with one blue disc, off-centre."""
    image = Image.new("RGB", (1536, 1536), (200, 180, 90))
    ImageDraw.Draw(image).ellipse((900, 300, 1300, 700), fill=(30, 60, 200))
    return image


def busy_visual() -> Image.Image:
    """Bright, high-frequency noise with white and black specks everywhere: the worst case
    for text (every box holds both extremes)."""
    rng = np.random.default_rng(7)
    pixels = rng.integers(120, 256, size=(1024, 1024, 3), dtype=np.uint8)
    pixels[rng.random((1024, 1024)) < 0.02] = 0
    pixels[rng.random((1024, 1024)) < 0.05] = 255
    return Image.fromarray(pixels, "RGB")


def dark_visual() -> Image.Image:
    image = Image.new("RGB", (1600, 900), (12, 14, 22))
    ImageDraw.Draw(image).rectangle((200, 200, 500, 700), fill=(40, 40, 60))
    return image


VISUALS = {"plain": plain_visual, "busy": busy_visual, "dark": dark_visual}


def logo() -> Image.Image:
    """An opaque logo with a pattern that shows if it was squashed or moved."""
    image = Image.new("RGBA", (240, 96), (220, 30, 30, 255))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 119, 95), fill=(20, 120, 40, 255))
    draw.ellipse((150, 18, 210, 78), fill=(250, 230, 20, 255))
    return image


def style(
    *,
    text: tuple[int, int, int] = (255, 255, 255),
    background: tuple[int, int, int] = (250, 248, 240),
    primary: tuple[int, int, int] = (230, 80, 20),
    font: FontFace | None = None,
    with_logo: bool = True,
) -> BrandStyle:
    return BrandStyle(
        primary=primary,
        secondary=(20, 20, 80),
        background=background,
        text=text,
        font=font or bundled_fonts()["open-sans-bold"],
        logo=logo() if with_logo else None,
    )


def _linear(channel: np.ndarray) -> np.ndarray:
    c = channel.astype(np.float64) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def luminance(pixels: np.ndarray) -> np.ndarray:
    """WCAG 2.x relative luminance of ``(..., 3)`` sRGB pixels."""
    return (
        0.2126 * _linear(pixels[..., 0])
        + 0.7152 * _linear(pixels[..., 1])
        + 0.0722 * _linear(pixels[..., 2])
    )


def worst_contrast(text: tuple[int, ...], behind: np.ndarray) -> float:
    """The contrast of the text colour against every pixel behind it: the smallest one."""
    text_l = float(luminance(np.array(text[:3], dtype=np.uint8)))
    lum = luminance(behind.reshape(-1, 3))
    ratios = (np.maximum(lum, text_l) + 0.05) / (np.minimum(lum, text_l) + 0.05)
    return float(ratios.min())


def text_colour(
    image: np.ndarray, backdrop: np.ndarray, candidates: list[tuple[int, int, int]]
) -> tuple[int, int, int]:
    """Which candidate colour the text was drawn in: antialiased glyph pixels are blends
    ``backdrop + a * (colour - backdrop)``; the candidate that explains the changed pixels
    best (smallest residual) is the one."""
    changed = np.any(image != backdrop, axis=-1)
    drawn = image[changed].astype(np.float64)
    behind = backdrop[changed].astype(np.float64)

    def residual(colour: tuple[int, int, int]) -> float:
        towards = np.array(colour, dtype=np.float64) - behind
        norm = np.maximum((towards**2).sum(axis=1), 1e-9)
        a = np.clip(((drawn - behind) * towards).sum(axis=1) / norm, 0.0, 1.0)
        return float(np.abs(drawn - (behind + a[:, None] * towards)).mean())

    return min(candidates, key=residual)
