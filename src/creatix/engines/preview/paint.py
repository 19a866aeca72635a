"""Painting primitives (canvas, backdrops, glows, shapes, sky and water) and the style's finish."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from random import Random
from typing import Literal

from PIL import Image, ImageChops, ImageDraw, ImageFilter

from creatix.engines.preview.brief import Brief, Roles
from creatix.engines.preview.colour import BLACK, RGB, WHITE, clamp01, darken, lighten, mix, rgba
from creatix.engines.preview.vocabulary import Look

Box = tuple[float, float, float, float]

SOFT_SCALE = 8
"""Backdrops and glows are painted at 1/SOFT_SCALE of the image and scaled up: they are smooth."""

BAND_ROWS = 256
"""Whole-picture treatments work a band of this many rows at a time, in place: their extra
memory is a band's, not a copy of the picture (an 8192x8192 RGB image is 200 MB). A multiple
of the grain tile, so every band sees the tile at the same phase."""

VERTICAL = Image.linear_gradient("L")
_RADIAL = Image.radial_gradient("L")


@dataclass(frozen=True)
class Glow:
    """A soft light painted into the backdrop; coordinates in image pixels."""

    x: float
    y: float
    radius: float
    colour: RGB
    strength: float


@dataclass(frozen=True)
class Plan:
    """Decisions about one image taken before painting, so the scene can leave room for type."""

    size: tuple[int, int]
    text_at_top: bool


class Canvas:
    """One image being painted, with what every painter needs at hand."""

    def __init__(self, image: Image.Image, brief: Brief, rng: Random) -> None:
        self.image = image
        self.brief = brief
        self.rng = rng
        self.draw = ImageDraw.Draw(image, "RGBA")
        self.width, self.height = image.size
        self.unit = min(image.size)

    @property
    def look(self) -> Look:
        return self.brief.look

    @property
    def roles(self) -> Roles:
        return self.brief.roles


def _ramp_lut(stops: Sequence[tuple[float, RGB]]) -> list[int]:
    """A 768-entry ``point`` table mapping 0..255 through colour stops at positions 0..1."""
    channels: tuple[list[int], list[int], list[int]] = ([], [], [])
    for value in range(256):
        colour = _colour_at(stops, value / 255)
        for channel, component in zip(channels, colour, strict=True):
            channel.append(component)
    return channels[0] + channels[1] + channels[2]


def _colour_at(stops: Sequence[tuple[float, RGB]], t: float) -> RGB:
    if t <= stops[0][0]:
        return stops[0][1]
    for (pos_a, col_a), (pos_b, col_b) in itertools.pairwise(stops):
        if t <= pos_b:
            return mix(col_a, col_b, (t - pos_a) / max(pos_b - pos_a, 1e-6))
    return stops[-1][1]


def even_stops(colours: Sequence[RGB], end: float = 1.0) -> list[tuple[float, RGB]]:
    last = max(len(colours) - 1, 1)
    return [(end * i / last, c) for i, c in enumerate(colours)]


def backdrop(
    size: tuple[int, int],
    stops: Sequence[tuple[float, RGB]],
    glows: Sequence[Glow],
    look: Look,
    *,
    radial: bool = False,
) -> Image.Image:
    """A gradient through ``stops`` (top to bottom, or centre outwards) with soft glows."""
    width, height = size
    small_size = (max(8, -(-width // SOFT_SCALE)), max(8, -(-height // SOFT_SCALE)))
    if look.flat:
        banded = VERTICAL.point(lambda v: min(255, (v // 40) * 48))
        small = banded.resize(small_size, Image.Resampling.NEAREST).convert("RGB")
        return small.point(_ramp_lut(stops)).resize(size, Image.Resampling.NEAREST)
    shape = _RADIAL if radial else VERTICAL
    small = shape.resize(small_size, Image.Resampling.BILINEAR).convert("RGB")
    small = small.point(_ramp_lut(stops))
    _paint_glows(small, glows, small_size[0] / width)
    blur = max(1.0, min(small_size) * (0.05 if look.soft else 0.025))
    small = small.filter(ImageFilter.GaussianBlur(blur))
    if look.vignette:
        small = _vignette(small, look.vignette)
    return _upscale(small, size)


def _upscale(small: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Smooth to half size, then pixel-double.

    A quarter of the cost of one smooth resize to full size, and invisible on content that was
    blurred at 1/8 scale.
    """
    half = (max(1, (size[0] + 1) // 2), max(1, (size[1] + 1) // 2))
    smooth = small.resize(half, Image.Resampling.BILINEAR)
    return smooth.resize(size, Image.Resampling.NEAREST)


def _paint_glows(small: Image.Image, glows: Sequence[Glow], scale: float) -> None:
    draw = ImageDraw.Draw(small, "RGBA")
    rings = 6
    for glow in glows:
        x, y = glow.x * scale, glow.y * scale
        for ring in range(rings):
            radius = glow.radius * scale * (1 - ring / rings)
            alpha = round(255 * glow.strength / rings * (0.6 + ring / rings))
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), rgba(glow.colour, alpha))


def _vignette(image: Image.Image, strength: float) -> Image.Image:
    """Darkens toward the edges."""
    lut = [round(255 * strength * clamp01((v / 255 - 0.45) / 0.55) ** 1.6) for v in range(256)]
    mask = _RADIAL.point(lut).resize(image.size, Image.Resampling.BILINEAR)
    return Image.composite(Image.new("RGB", image.size, BLACK), image, mask)


def glow_stroke(
    draw: ImageDraw.ImageDraw,
    shape: Literal["ellipse", "rectangle", "line"],
    xy: Box,
    colour: RGB,
    width: int,
) -> None:
    """A neon tube: wide faint strokes under a thin bright core."""
    strokes = [(width * 5, 28), (width * 3, 48), (width * 2, 90), (width, 255)]
    for stroke_width, alpha in strokes:
        ink = rgba(lighten(colour, 0.45) if alpha == 255 else colour, alpha)
        if shape == "ellipse":
            draw.ellipse(xy, outline=ink, width=stroke_width)
        elif shape == "rectangle":
            draw.rectangle(xy, outline=ink, width=stroke_width)
        else:
            draw.line(xy, fill=ink, width=stroke_width)


def sphere(image: Image.Image, cx: float, cy: float, radius: float, colour: RGB) -> None:
    """A ball lit from the upper left, with a contact shadow."""
    diameter = max(2, round(radius * 2))
    shadow_h = radius * 0.22
    ImageDraw.Draw(image, "RGBA").ellipse(
        (cx - radius * 0.9, cy + radius - shadow_h, cx + radius * 1.1, cy + radius + shadow_h),
        rgba(BLACK, 60),
    )
    # The radial gradient's centre sits 35% in from the crop's top-left corner: the highlight.
    shading = _RADIAL.crop((58, 58, 258, 258)).resize(
        (diameter, diameter), Image.Resampling.BILINEAR
    )
    stops = [(0.0, lighten(colour, 0.7)), (0.35, colour), (1.0, darken(colour, 0.65))]
    ball = shading.convert("RGB").point(_ramp_lut(stops))
    mask = Image.new("L", (diameter, diameter), 0)
    ImageDraw.Draw(mask).ellipse((0, 0, diameter - 1, diameter - 1), 255)
    image.paste(ball, (round(cx - radius), round(cy - radius)), mask)


def stars(canvas: Canvas, below: float, count: int) -> None:
    rng = canvas.rng
    dot = max(1.0, canvas.unit / 700)
    for _ in range(count):
        x, y = rng.uniform(0, canvas.width), rng.uniform(0, below) * rng.random()
        radius = dot * rng.choice((0.6, 1.0, 1.0, 1.6))
        ink = rgba(WHITE, rng.randint(90, 230))
        canvas.draw.ellipse((x - radius, y - radius, x + radius, y + radius), ink)


def celestial(canvas: Canvas, centre: tuple[float, float], radius: float, colour: RGB) -> None:
    """A sun or moon: a disc in two faint halos, or a neon ring."""
    cx, cy = centre
    disc = (cx - radius, cy - radius, cx + radius, cy + radius)
    if canvas.look.glow:
        glow_stroke(canvas.draw, "ellipse", disc, colour, max(2, round(radius * 0.06)))
        return
    for scale, alpha in ((1.5, 22), (1.22, 40)):
        r = radius * scale
        canvas.draw.ellipse(
            (cx - r, cy - r, cx + r, cy + r), rgba(colour, canvas.look.alpha(alpha))
        )
    canvas.draw.ellipse(disc, rgba(colour, canvas.look.alpha(240)))


def reflect(canvas: Canvas, horizon: int) -> None:
    """Mirror what stands above the horizon into the water below it, a little darker."""
    depth = min(canvas.height - horizon, horizon)
    if depth <= 0:
        return
    image = canvas.image
    # Row horizon + i mirrors row horizon - 1 - i; a band of rows at a time.
    for start in range(0, depth, BAND_ROWS):
        rows = min(BAND_ROWS, depth - start)
        band = image.crop((0, horizon - start - rows, canvas.width, horizon - start))
        image.paste(band.transpose(Image.Transpose.FLIP_TOP_BOTTOM), (0, horizon + start))
    water = (0, horizon, canvas.width, canvas.height)
    canvas.draw.rectangle(water, rgba(canvas.roles.deep, 90))


def shimmer(
    canvas: Canvas, horizon: float, colour: RGB, count: int, *, around_x: float | None = None
) -> None:
    """Glints on water: short horizontal strokes, longer and sparser toward the viewer."""
    rng = canvas.rng
    depth = canvas.height - horizon
    line_w = max(1, round(canvas.unit * 0.003))
    for _ in range(count):
        nearness = rng.random() ** 1.6
        y = horizon + depth * nearness
        if around_x is None:
            x = rng.uniform(0, canvas.width)
        else:
            x = around_x + rng.gauss(0, canvas.width * 0.03)
        half = canvas.unit * rng.uniform(0.02, 0.12) * (0.3 + nearness)
        ink = rgba(colour, rng.randint(50, 120))
        canvas.draw.line((x - half, y, x + half, y), fill=ink, width=line_w)


# ---------------------------------------------------------------------------------------------
# Finishing: tone, grain and letterbox


def finish(image: Image.Image, brief: Brief, rng: Random) -> Image.Image:
    """Whole-picture treatments of the style, in place: toning, grain, letterbox bars."""
    look = brief.look
    if look.sepia:
        matrix = _sepia_matrix(look.sepia)
        _treat_in_bands(image, lambda band: band.convert("RGB", matrix))
    if look.grain and brief.detailed:
        noise = _grain_band(image.width, rng, look.grain)
        _treat_in_bands(
            image, lambda band: ImageChops.soft_light(band, noise.crop((0, 0, *band.size)))
        )
    if look.letterbox:
        bar = letterbox_bar(image.size)
        draw = ImageDraw.Draw(image)
        draw.rectangle((0, 0, image.width, bar), BLACK)
        draw.rectangle((0, image.height - bar, image.width, image.height), BLACK)
    return image


def _sepia_matrix(amount: float) -> tuple[float, ...]:
    sepia = ((0.393, 0.769, 0.189), (0.349, 0.686, 0.168), (0.272, 0.534, 0.131))
    rows = []
    for i, row in enumerate(sepia):
        rows.extend(
            [amount * value + (1 - amount) * (i == j) for j, value in enumerate(row)] + [0.0]
        )
    return tuple(rows)


def _treat_in_bands(image: Image.Image, treat: Callable[[Image.Image], Image.Image]) -> None:
    """Replace ``image``, a band of ``BAND_ROWS`` rows at a time, with ``treat(band)``."""
    for top in range(0, image.height, BAND_ROWS):
        box = (0, top, image.width, min(image.height, top + BAND_ROWS))
        image.paste(treat(image.crop(box)), box[:2])


GRAIN_TILE = 128


def _grain_band(width: int, rng: Random, amount: float) -> Image.Image:
    """One band of film grain: a seeded noise tile repeated (a full-size field costs more), as
    RGB for ``soft_light``; every band of the picture gets the same."""
    levels = rng.randbytes(GRAIN_TILE * GRAIN_TILE)
    tile = Image.frombytes("L", (GRAIN_TILE, GRAIN_TILE), levels).point(
        lambda v: round(128 + (v - 128) * amount / 128)
    )
    noise = Image.new("L", (width, BAND_ROWS))
    for x in range(0, width, GRAIN_TILE):
        for y in range(0, BAND_ROWS, GRAIN_TILE):
            noise.paste(tile, (x, y))
    return noise.convert("RGB")


def letterbox_bar(size: tuple[int, int]) -> int:
    return round(size[1] * (0.085 if size[0] >= size[1] else 0.05))
