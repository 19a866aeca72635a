"""The preview engine: a deterministic, offline, fast composition drawn from the prompt.

It reads the prompt for colour words (the palette), subject words (the scene and its motifs)
and its first words (the headline), then paints a poster-like placeholder with cheap Pillow
operations: a gradient backdrop whose glows are drawn and blurred at 1/8 scale, crisp shapes
drawn with alpha at full scale, and the headline set as type. The prompt, model, style and
quality fix the palette and the scene; the seed (and the image's index) only moves the
composition. A small "PREVIEW" label, top-left, says what the picture is.
"""

from __future__ import annotations

import asyncio
import colorsys
import hashlib
import itertools
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from random import Random
from typing import Literal

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont, ImageStat

from creatix.engines.base import EngineRejected
from creatix.jobs.specs import ImageSpec
from creatix.media.watermark import watermark_box

RGB = tuple[int, int, int]
RGBA = tuple[int, int, int, int]
Box = tuple[float, float, float, float]
Scene = Literal["landscape", "city", "product", "portrait", "abstract"]
Font = ImageFont.FreeTypeFont

MIN_SIDE = 64
MAX_SIDE = 4096
SOFT_SCALE = 8
"""Backdrops and glows are painted at 1/SOFT_SCALE of the image and scaled up: they are smooth."""
PREVIEW_LABEL = "PREVIEW"

BLACK: RGB = (0, 0, 0)
WHITE: RGB = (255, 255, 255)
WARM_LIGHT: RGB = (255, 214, 150)

# ---------------------------------------------------------------------------------------------
# Vocabulary

COLOR_WORDS: dict[str, tuple[RGB, ...]] = {
    "red": ((200, 38, 46),),
    "crimson": ((158, 18, 48),),
    "scarlet": ((226, 44, 32),),
    "maroon": ((110, 24, 36),),
    "orange": ((242, 128, 36),),
    "amber": ((250, 176, 40),),
    "yellow": ((246, 212, 56),),
    "gold": ((214, 172, 62),),
    "golden": ((226, 176, 72),),
    "green": ((52, 156, 84),),
    "emerald": ((18, 136, 96),),
    "olive": ((120, 128, 56),),
    "mint": ((160, 226, 196),),
    "teal": ((16, 128, 132),),
    "turquoise": ((48, 200, 196),),
    "cyan": ((36, 212, 232),),
    "blue": ((38, 92, 204),),
    "azure": ((64, 150, 236),),
    "navy": ((22, 36, 96),),
    "indigo": ((64, 44, 150),),
    "purple": ((122, 58, 176),),
    "violet": ((146, 84, 214),),
    "lavender": ((186, 164, 226),),
    "magenta": ((214, 36, 156),),
    "pink": ((240, 128, 172),),
    "rose": ((226, 104, 130),),
    "coral": ((248, 122, 100),),
    "peach": ((252, 186, 150),),
    "brown": ((122, 80, 48),),
    "copper": ((184, 104, 60),),
    "bronze": ((168, 120, 58),),
    "beige": ((222, 204, 172),),
    "cream": ((244, 234, 208),),
    "ivory": ((248, 244, 228),),
    "white": ((244, 244, 240),),
    "silver": ((190, 194, 202),),
    "gray": ((128, 130, 138),),
    "grey": ((128, 130, 138),),
    "charcoal": ((52, 54, 60),),
    "black": ((18, 18, 22),),
    # Mood words name a small palette each.
    "sunset": ((250, 140, 60), (236, 90, 110), (118, 60, 140), (40, 36, 90)),
    "sunrise": ((255, 196, 120), (246, 130, 120), (150, 150, 210)),
    "dawn": ((255, 206, 160), (230, 150, 170), (120, 130, 190)),
    "dusk": ((236, 120, 96), (108, 64, 132), (28, 30, 72)),
    "night": ((14, 20, 52), (52, 40, 110), (120, 140, 220)),
    "neon": ((255, 40, 180), (40, 230, 255), (150, 60, 255)),
    "cyberpunk": ((255, 44, 160), (0, 220, 240), (70, 20, 120)),
    "ocean": ((10, 70, 130), (20, 150, 180), (150, 220, 230)),
    "sea": ((10, 70, 130), (20, 150, 180), (150, 220, 230)),
    "forest": ((24, 74, 44), (60, 120, 60), (160, 190, 120)),
    "autumn": ((196, 86, 30), (226, 150, 50), (120, 56, 34)),
    "winter": ((226, 236, 246), (150, 180, 214), (70, 96, 140)),
    "snow": ((240, 244, 250), (180, 200, 224)),
    "ice": ((200, 232, 246), (110, 170, 210)),
    "fire": ((250, 200, 60), (240, 100, 30), (160, 30, 20)),
    "desert": ((232, 196, 140), (208, 140, 80), (150, 90, 60)),
    "marble": ((238, 236, 232), (200, 198, 196), (150, 150, 154)),
    "pastel": ((250, 200, 210), (190, 230, 210), (200, 200, 240)),
    "luxury": ((24, 22, 26), (206, 168, 90), (242, 232, 210)),
    "spring": ((150, 210, 110), (250, 190, 210), (255, 240, 160)),
    "tropical": ((0, 170, 160), (255, 200, 60), (250, 110, 90)),
    "sky": ((120, 180, 240), (200, 228, 250)),
}

MOTIF_WORDS: dict[str, frozenset[str]] = {
    "mountain": frozenset({"mountain", "hill", "peak", "alps", "volcano", "cliff", "valley"}),
    "water": frozenset(
        {"lake", "sea", "ocean", "river", "water", "beach", "bay", "pond", "reflection", "shore"}
    ),
    "sun": frozenset({"sun", "sunset", "sunrise", "dawn", "dusk", "sunlight", "sunny"}),
    "moon": frozenset({"moon", "moonlight", "moonlit"}),
    "night": frozenset({"night", "midnight", "starry", "star", "neon", "cyberpunk", "moon"}),
    "trees": frozenset({"tree", "pine", "forest", "wood", "woods", "jungle", "palm"}),
    "city": frozenset(
        {"city", "skyline", "building", "street", "urban", "downtown", "tower", "skyscraper"}
        | {"metropolis", "cyberpunk", "town"}
    ),
    "product": frozenset(
        {"product", "bottle", "perfume", "cosmetic", "serum", "jar", "lotion", "fragrance"}
        | {"packshot", "box", "package", "packaging", "gift", "cream", "skincare"}
    ),
    "box": frozenset({"box", "package", "packaging", "gift"}),
    "portrait": frozenset(
        {"portrait", "person", "woman", "man", "girl", "boy", "face", "people", "headshot"}
        | {"character", "selfie", "model"}
    ),
    "landscape": frozenset(
        {"landscape", "field", "meadow", "desert", "countryside", "nature", "scenery", "vista"}
    ),
    "marble": frozenset({"marble"}),
    "neon": frozenset({"neon", "cyberpunk"}),
}

STOPWORDS = frozenset(
    {"a", "an", "the", "of", "with", "and", "at", "in", "on", "for", "to", "by", "from", "is"}
    | {"its", "their", "very", "into", "over", "under", "near", "some", "this", "that"}
)
MIN_CAPTION_SIZE = 10
HEADLINE_CONTENT_WORDS = 3
HEADLINE_MAX_WORDS = 4
CAPTION_WORDS = 9


@dataclass(frozen=True)
class Look:
    """How a style treats the palette and the picture."""

    saturation: float = 1.0
    brightness: float = 1.0
    pastel: float = 0.0
    """Share of white mixed into every palette colour."""
    tint: RGB = WHITE
    tint_amount: float = 0.0
    night: bool = False
    """Dark skies, stars, more lit windows."""
    flat: bool = False
    """Opaque fills and a banded backdrop instead of gradients and glows."""
    soft: bool = False
    """Thin washes and a blurrier backdrop."""
    shaded: bool = False
    """Round shapes become lit spheres."""
    glow: bool = False
    """Outlines become neon tubes."""
    letterbox: bool = False
    sparse: bool = False
    """Fewer elements, smaller type."""
    vignette: float = 0.0
    sepia: float = 0.0
    grain: float = 0.0
    """Film grain amplitude in levels; drawn at ``hd`` quality only."""
    uppercase: bool = True

    def alpha(self, value: int) -> int:
        """Flat looks paint opaque; soft looks paint thin washes."""
        if self.flat:
            return 255
        return round(value * 0.6) if self.soft else value


LOOKS: dict[str, Look] = {
    "photographic": Look(saturation=0.9, vignette=0.3, grain=14),
    "cinematic": Look(
        saturation=0.8,
        tint=(255, 168, 96),
        tint_amount=0.12,
        letterbox=True,
        vignette=0.4,
        grain=12,
    ),
    "minimalist": Look(saturation=0.45, pastel=0.35, sparse=True, uppercase=False),
    "neon": Look(saturation=1.5, brightness=1.15, night=True, glow=True),
    "vintage": Look(
        saturation=0.6, tint=(200, 160, 110), tint_amount=0.3, sepia=0.35, vignette=0.45, grain=22
    ),
    "watercolor": Look(saturation=0.8, pastel=0.4, soft=True, uppercase=False),
    "3d-render": Look(saturation=1.05, shaded=True),
    "flat-illustration": Look(saturation=1.1, flat=True),
    "vivid": Look(saturation=1.4, brightness=1.1),
    "natural": Look(saturation=0.7, tint=(120, 110, 80), tint_amount=0.1, vignette=0.15),
}
DEFAULT_LOOK = Look(vignette=0.15)


# ---------------------------------------------------------------------------------------------
# Colour arithmetic


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def _darken(colour: RGB, t: float) -> RGB:
    return _mix(colour, BLACK, t)


def _lighten(colour: RGB, t: float) -> RGB:
    return _mix(colour, WHITE, t)


def _rgba(colour: RGB, alpha: int) -> RGBA:
    return (*colour, max(0, min(255, alpha)))


def _to_hsv(colour: RGB) -> tuple[float, float, float]:
    return colorsys.rgb_to_hsv(colour[0] / 255, colour[1] / 255, colour[2] / 255)


def _from_hsv(hue: float, sat: float, val: float) -> RGB:
    r, g, b = colorsys.hsv_to_rgb(hue % 1.0, _clamp01(sat), _clamp01(val))
    return round(r * 255), round(g * 255), round(b * 255)


def _clamp01(value: float) -> float:
    return min(1.0, max(0.0, value))


def _smoothstep(t: float) -> float:
    """0 to 1 with flat ends: fades that leave no visible edge."""
    return t * t * (3 - 2 * t)


def _luminance(colour: RGB) -> float:
    return (0.2126 * colour[0] + 0.7152 * colour[1] + 0.0722 * colour[2]) / 255


def _vividness(colour: RGB) -> float:
    _, sat, val = _to_hsv(colour)
    return sat * val


def _resembles(colour: RGB, other: RGB) -> bool:
    """Whether a viewer would call both by the same colour word."""
    hue_a, sat_a, val_a = _to_hsv(colour)
    hue_b, sat_b, val_b = _to_hsv(other)
    chromatic_a, chromatic_b = sat_a * val_a > 0.18, sat_b * val_b > 0.18
    if chromatic_a and chromatic_b:
        distance = abs(hue_a - hue_b)
        return min(distance, 1 - distance) < 0.06
    if not chromatic_a and not chromatic_b:
        return abs(val_a - val_b) < 0.22
    return False


# ---------------------------------------------------------------------------------------------
# Reading the prompt


@dataclass(frozen=True)
class Roles:
    """The palette by job: ``ramp`` runs dark to light, ``accent`` is the most vivid colour."""

    ramp: tuple[RGB, ...]
    accent: RGB

    @property
    def deep(self) -> RGB:
        return self.ramp[0]

    @property
    def mid(self) -> RGB:
        return self.ramp[len(self.ramp) // 2]

    @property
    def light(self) -> RGB:
        return self.ramp[-1]


@dataclass(frozen=True)
class Brief:
    """Everything the picture takes from (model, spec) except the seed."""

    palette: tuple[RGB, ...]
    roles: Roles
    scene: Scene
    motifs: frozenset[str]
    headline: str
    caption: str
    product_word: str
    look: Look
    detailed: bool
    night: bool


def _words(text: str) -> list[str]:
    return re.findall(r"[0-9A-Za-z\u00c0-\u024f][0-9A-Za-z\u00c0-\u024f'&-]*", text)


def _stem(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def _lookup_forms(words: Iterable[str]) -> list[str]:
    forms: list[str] = []
    for word in words:
        lower = word.lower()
        forms.append(lower)
        if _stem(lower) != lower:
            forms.append(_stem(lower))
    return forms


def prompt_digest(model: str, spec: ImageSpec) -> bytes:
    """What fixes the look: everything that is not the seed, the size or the file format."""
    fields = (model, spec.prompt, spec.negative_prompt or "", spec.style or "", spec.quality)
    return hashlib.sha256("\x1f".join(fields).encode()).digest()


def read_brief(model: str, spec: ImageSpec) -> Brief:
    # The fallback palette follows the prompt alone, so a prompt keeps its colours across styles.
    prompt_hash = hashlib.sha256(f"{spec.prompt}\x1f{spec.negative_prompt or ''}".encode())
    palette_rng = Random(int.from_bytes(prompt_hash.digest(), "big"))
    look = LOOKS.get(spec.style or "", DEFAULT_LOOK)
    prompt_words = _words(spec.prompt)
    forms = _lookup_forms(prompt_words)
    excluded = [
        c for w in _lookup_forms(_words(spec.negative_prompt or "")) for c in COLOR_WORDS.get(w, ())
    ]
    palette = tuple(_treat(c, look) for c in _palette(forms, excluded, palette_rng))
    motifs = frozenset(m for m, words in MOTIF_WORDS.items() if words.intersection(forms))
    headline, caption = _headline(prompt_words)
    product_words = [w for w in forms if w in MOTIF_WORDS["product"] and w != "product"]
    return Brief(
        palette=palette,
        roles=_roles(palette),
        scene=_scene(motifs),
        motifs=motifs,
        headline=headline.upper() if look.uppercase else headline,
        caption=caption,
        product_word=(product_words[0] if product_words else "").upper(),
        look=look,
        detailed=spec.quality == "hd",
        night=look.night or "night" in motifs,
    )


def _scene(motifs: frozenset[str]) -> Scene:
    subjects: tuple[Scene, ...] = ("product", "portrait", "city")
    for scene in subjects:
        if scene in motifs:
            return scene
    if motifs & {"mountain", "water", "sun", "moon", "trees", "landscape"}:
        return "landscape"
    return "abstract"


def _headline(words: Sequence[str]) -> tuple[str, str]:
    """The first few content words, and (smaller) the words after them."""
    start = 0
    while start < len(words) and words[start].lower() in STOPWORDS:
        start += 1
    end, content = start, 0
    while (
        end < len(words) and content < HEADLINE_CONTENT_WORDS and end - start < HEADLINE_MAX_WORDS
    ):
        content += words[end].lower() not in STOPWORDS
        end += 1
    while end > start + 1 and words[end - 1].lower() in STOPWORDS:
        end -= 1
    headline = " ".join(words[start:end]) or "Untitled"
    caption = " ".join(words[end : end + CAPTION_WORDS]).lower()
    return headline, caption


def _palette(forms: Sequence[str], excluded: Sequence[RGB], rng: Random) -> list[RGB]:
    named: list[RGB] = []
    for form in forms:
        for colour in COLOR_WORDS.get(form, ()):
            if colour not in named and not any(_resembles(colour, x) for x in excluded):
                named.append(colour)
    colours = named[:6] or _hash_palette(rng, excluded)
    return _complete(colours, rng, excluded)


def _hash_palette(rng: Random, excluded: Sequence[RGB]) -> list[RGB]:
    base_hue = rng.random()
    scheme = rng.choice(
        [(0.0, 0.08, -0.08), (0.0, 0.5, 0.06), (0.0, 0.33, 0.66), (0.0, 0.42, 0.58)]
    )
    colours: list[RGB] = []
    for offset in scheme:
        hue, sat, val = base_hue + offset, rng.uniform(0.45, 0.8), rng.uniform(0.55, 0.95)
        colour = _from_hsv(hue, sat, val)
        for _ in range(4):
            if not any(_resembles(colour, x) for x in excluded):
                break
            hue += 0.25
            colour = _from_hsv(hue, sat, val)
        colours.append(colour)
    return colours


def _complete(colours: list[RGB], rng: Random, excluded: Sequence[RGB]) -> list[RGB]:
    """At least four colours, with a dark and a light end, in the named colours' family."""
    base = colours[0]
    hue, sat, val = _to_hsv(base)
    candidates = [
        _from_hsv(hue + rng.uniform(-0.03, 0.03), sat * 0.9, val * 0.38),
        _lighten(base, 0.55),
        _from_hsv(hue + rng.choice((-0.07, 0.07)), sat * rng.uniform(0.8, 1.0), val),
    ]
    completed = list(colours)
    for candidate in candidates:
        if len(completed) >= 4:
            break
        if not any(_resembles(candidate, x) for x in excluded):
            completed.append(candidate)
    while len(completed) < 4:
        completed.append(_darken(completed[-1], 0.3))
    return completed


def _treat(colour: RGB, look: Look) -> RGB:
    hue, sat, val = _to_hsv(colour)
    treated = _from_hsv(hue, sat * look.saturation, val * look.brightness)
    treated = _mix(treated, look.tint, look.tint_amount)
    return _lighten(treated, look.pastel)


def _roles(palette: Sequence[RGB]) -> Roles:
    return Roles(ramp=tuple(sorted(palette, key=_luminance)), accent=max(palette, key=_vividness))


# ---------------------------------------------------------------------------------------------
# Painting primitives

_VERTICAL = Image.linear_gradient("L")
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
            return _mix(col_a, col_b, (t - pos_a) / max(pos_b - pos_a, 1e-6))
    return stops[-1][1]


def _even_stops(colours: Sequence[RGB], end: float = 1.0) -> list[tuple[float, RGB]]:
    last = max(len(colours) - 1, 1)
    return [(end * i / last, c) for i, c in enumerate(colours)]


def _backdrop(
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
        banded = _VERTICAL.point(lambda v: min(255, (v // 40) * 48))
        small = banded.resize(small_size, Image.Resampling.NEAREST).convert("RGB")
        return small.point(_ramp_lut(stops)).resize(size, Image.Resampling.NEAREST)
    shape = _RADIAL if radial else _VERTICAL
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
            draw.ellipse(
                (x - radius, y - radius, x + radius, y + radius), _rgba(glow.colour, alpha)
            )


def _vignette(image: Image.Image, strength: float) -> Image.Image:
    """Darkens toward the edges."""
    lut = [round(255 * strength * _clamp01((v / 255 - 0.45) / 0.55) ** 1.6) for v in range(256)]
    mask = _RADIAL.point(lut).resize(image.size, Image.Resampling.BILINEAR)
    return Image.composite(Image.new("RGB", image.size, BLACK), image, mask)


def _glow_stroke(
    draw: ImageDraw.ImageDraw,
    shape: Literal["ellipse", "rectangle", "line"],
    xy: Box,
    colour: RGB,
    width: int,
) -> None:
    """A neon tube: wide faint strokes under a thin bright core."""
    strokes = [(width * 5, 28), (width * 3, 48), (width * 2, 90), (width, 255)]
    for stroke_width, alpha in strokes:
        ink = _rgba(_lighten(colour, 0.45) if alpha == 255 else colour, alpha)
        if shape == "ellipse":
            draw.ellipse(xy, outline=ink, width=stroke_width)
        elif shape == "rectangle":
            draw.rectangle(xy, outline=ink, width=stroke_width)
        else:
            draw.line(xy, fill=ink, width=stroke_width)


def _sphere(image: Image.Image, cx: float, cy: float, radius: float, colour: RGB) -> None:
    """A ball lit from the upper left, with a contact shadow."""
    diameter = max(2, round(radius * 2))
    shadow_h = radius * 0.22
    ImageDraw.Draw(image, "RGBA").ellipse(
        (cx - radius * 0.9, cy + radius - shadow_h, cx + radius * 1.1, cy + radius + shadow_h),
        _rgba(BLACK, 60),
    )
    # The radial gradient's centre sits 35% in from the crop's top-left corner: the highlight.
    shading = _RADIAL.crop((58, 58, 258, 258)).resize(
        (diameter, diameter), Image.Resampling.BILINEAR
    )
    stops = [(0.0, _lighten(colour, 0.7)), (0.35, colour), (1.0, _darken(colour, 0.65))]
    ball = shading.convert("RGB").point(_ramp_lut(stops))
    mask = Image.new("L", (diameter, diameter), 0)
    ImageDraw.Draw(mask).ellipse((0, 0, diameter - 1, diameter - 1), 255)
    image.paste(ball, (round(cx - radius), round(cy - radius)), mask)


def _ridge(
    rng: Random, width: int, foot: float, amplitude: float, *, peaks: int, points: int, craggy: bool
) -> list[tuple[float, float]]:
    """A skyline of tent-shaped peaks roughened by a few sine waves."""
    tents = [
        (rng.uniform(0.05, 0.95), rng.uniform(0.55, 1.0), rng.uniform(0.16, 0.42))
        for _ in range(peaks)
    ]
    waves = [
        (rng.uniform(6, 20), rng.uniform(0, math.tau), rng.uniform(0.02, 0.06)) for _ in range(3)
    ]
    if craggy:
        waves += [
            (rng.uniform(40, 90), rng.uniform(0, math.tau), rng.uniform(0.008, 0.02))
            for _ in range(3)
        ]
    outline = []
    for k in range(points + 1):
        t = k / points
        shape = max([0.12] + [peak * max(0.0, 1 - abs(t - c) / half) for c, peak, half in tents])
        shape += sum(a * math.sin(f * t + p) for f, p, a in waves)
        outline.append((t * width, foot - amplitude * max(0.0, shape)))
    return outline


def _stars(canvas: Canvas, below: float, count: int) -> None:
    rng = canvas.rng
    dot = max(1.0, canvas.unit / 700)
    for _ in range(count):
        x, y = rng.uniform(0, canvas.width), rng.uniform(0, below) * rng.random()
        radius = dot * rng.choice((0.6, 1.0, 1.0, 1.6))
        ink = _rgba(WHITE, rng.randint(90, 230))
        canvas.draw.ellipse((x - radius, y - radius, x + radius, y + radius), ink)


def _celestial(canvas: Canvas, centre: tuple[float, float], radius: float, colour: RGB) -> None:
    """A sun or moon: a disc in two faint halos, or a neon ring."""
    cx, cy = centre
    disc = (cx - radius, cy - radius, cx + radius, cy + radius)
    if canvas.look.glow:
        _glow_stroke(canvas.draw, "ellipse", disc, colour, max(2, round(radius * 0.06)))
        return
    for scale, alpha in ((1.5, 22), (1.22, 40)):
        r = radius * scale
        canvas.draw.ellipse(
            (cx - r, cy - r, cx + r, cy + r), _rgba(colour, canvas.look.alpha(alpha))
        )
    canvas.draw.ellipse(disc, _rgba(colour, canvas.look.alpha(240)))


def _reflect(canvas: Canvas, horizon: int) -> None:
    """Mirror what stands above the horizon into the water below it, a little darker."""
    depth = canvas.height - horizon
    if depth <= 0 or horizon <= 0:
        return
    band = canvas.image.crop((0, max(0, horizon - depth), canvas.width, horizon))
    canvas.image.paste(band.transpose(Image.Transpose.FLIP_TOP_BOTTOM), (0, horizon))
    water = (0, horizon, canvas.width, canvas.height)
    canvas.draw.rectangle(water, _rgba(canvas.roles.deep, 90))


def _shimmer(
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
        ink = _rgba(colour, rng.randint(50, 120))
        canvas.draw.line((x - half, y, x + half, y), fill=ink, width=line_w)


def _pine(draw: ImageDraw.ImageDraw, x: float, base: float, height: float, colour: RGB) -> None:
    trunk = height * 0.035
    draw.rectangle((x - trunk, base - height * 0.2, x + trunk, base), colour)
    for tier in range(4):
        apex = base - height + tier * height * 0.2
        half = height * (0.1 + 0.06 * tier)
        skirt = apex + height * 0.38
        draw.polygon([(x, apex), (x - half, skirt), (x + half, skirt)], colour)


# ---------------------------------------------------------------------------------------------
# Scenes


def _sky_stops(brief: Brief, horizon_share: float) -> list[tuple[float, RGB]]:
    """Dark overhead to light at the horizon, through the palette; night skies stay dark."""
    ramp = list(brief.roles.ramp)
    if brief.night:
        ramp = [_darken(c, 0.75 - 0.5 * i / max(len(ramp) - 1, 1)) for i, c in enumerate(ramp)]
        ramp[-1] = _mix(ramp[-1], brief.roles.accent, 0.45)
    else:
        ramp[0] = _darken(ramp[0], 0.1)
    stops = _even_stops(ramp, horizon_share)
    return [*stops, (1.0, _darken(ramp[-1], 0.3))]


def _haze(brief: Brief) -> RGB:
    """The sky's colour just above the horizon: what distance fades things toward."""
    return _sky_stops(brief, 1.0)[-2][1]


def _paint_landscape(plan: Plan, brief: Brief, rng: Random) -> Image.Image:
    """Sky, a sun or moon, layered ridges; a mirroring lake and a pine bank when asked for."""
    size = plan.size
    width, height = size
    unit = min(size)
    horizon = height * rng.uniform(0.58, 0.7)
    water = "water" in brief.motifs
    low_sun = "sun" in brief.motifs and not brief.night
    has_light = bool({"sun", "moon"} & brief.motifs) or rng.random() < 0.6
    light_r = unit * rng.uniform(0.06, 0.1)
    light_x = width * rng.uniform(0.18, 0.82)
    if low_sun:
        light_y = horizon - light_r * rng.uniform(-0.1, 1.6)
    else:
        light_y = height * rng.uniform(0.12, 0.32)
    light_colour = _lighten(
        WHITE if brief.night else _mix(brief.roles.light, WARM_LIGHT, 0.5), 0.35
    )
    glows = [Glow(width / 2, horizon, width * 0.7, brief.roles.accent, 0.18)]
    if has_light:
        glows.append(Glow(light_x, light_y, light_r * 4.5, light_colour, 0.55))
    image = _backdrop(size, _sky_stops(brief, horizon / height), glows, brief.look)
    canvas = Canvas(image, brief, rng)
    if brief.night:
        _stars(canvas, horizon * 0.85, 160 if brief.detailed else 70)
    if has_light:
        _celestial(canvas, (light_x, light_y), light_r, light_colour)
    _mountains(canvas, horizon, water=water)
    if water:
        _reflect(canvas, round(horizon))
        glints = 36 if brief.detailed else 14
        _shimmer(canvas, horizon, _lighten(brief.roles.light, 0.5), glints)
        if has_light:
            _shimmer(canvas, horizon, light_colour, 12, around_x=light_x)
    if "trees" in brief.motifs and not brief.look.sparse:
        _forest_edge(canvas, away_from_x=light_x)
    return image


def _mountains(canvas: Canvas, horizon: float, *, water: bool) -> None:
    """Two or three ridges, hazier with distance; low hills where no mountain was asked for."""
    brief, rng = canvas.brief, canvas.rng
    tall = "mountain" in brief.motifs
    layers = 3 if (tall or brief.detailed) and not brief.look.sparse else 2
    haze = _haze(brief)
    base = _darken(brief.roles.deep, 0.65 if brief.night else 0.35)
    bottom = horizon + 1 if water else canvas.height
    relief = min(canvas.height, canvas.width * 1.2)  # a narrow picture gets no needle peaks
    for layer in range(layers):
        depth = layer / (layers - 1)
        share = rng.uniform(0.16, 0.3) if tall else rng.uniform(0.04, 0.09)
        ridge = _ridge(
            rng,
            canvas.width,
            horizon if water else horizon + canvas.height * 0.06 * depth,
            relief * share * (1 - 0.35 * depth),
            peaks=rng.randint(1, 3) if tall else 2,
            points=160 if brief.detailed else 48,
            craggy=tall and brief.detailed,
        )
        colour = _mix(haze, base, 0.35 + 0.65 * depth)
        canvas.draw.polygon([(-1, bottom), *ridge, (canvas.width + 1, bottom)], _rgba(colour, 255))


def _forest_edge(canvas: Canvas, *, away_from_x: float) -> None:
    """A dark bank with pines, on the side away from the light."""
    rng, width, height = canvas.rng, canvas.width, canvas.height
    colour = _darken(canvas.roles.deep, 0.75)
    reach = width * rng.uniform(0.3, 0.48)
    bank_top = height * rng.uniform(0.88, 0.93)
    edge_x, far_x = (0.0, reach) if away_from_x > width / 2 else (float(width), width - reach)
    canvas.draw.polygon([(edge_x, height), (edge_x, bank_top), (far_x, height)], colour)
    for _ in range(rng.randint(5, 8) + (4 if canvas.brief.detailed else 0)):
        offset = rng.random() ** 1.4
        x = edge_x + (far_x - edge_x) * offset * 0.85
        tree_h = canvas.unit * rng.uniform(0.16, 0.34) * (1.15 - offset * 0.6)
        ground = bank_top + (height - bank_top) * offset + canvas.unit * 0.01
        _pine(canvas.draw, x, ground, tree_h, colour)


def _paint_city(plan: Plan, brief: Brief, rng: Random) -> Image.Image:
    """Two rows of towers against a glowing horizon; lit windows, neon, a street or a river."""
    size = plan.size
    width, height = size
    unit = min(size)
    roles = brief.roles
    street = height * rng.uniform(0.76, 0.84)
    glows = [Glow(width * rng.uniform(0.3, 0.7), street, width * 0.7, roles.accent, 0.4)]
    moon = (width * rng.uniform(0.15, 0.85), height * rng.uniform(0.1, 0.28))
    moon_r = unit * rng.uniform(0.04, 0.07)
    moon_colour = _lighten(roles.light, 0.6)
    show_moon = bool({"moon", "sun"} & brief.motifs) or rng.random() < 0.5
    if show_moon:
        glows.append(Glow(*moon, moon_r * 4, moon_colour, 0.4))
    image = _backdrop(size, _sky_stops(brief, street / height), glows, brief.look)
    canvas = Canvas(image, brief, rng)
    if brief.night:
        _stars(canvas, street * 0.6, 80 if brief.detailed else 30)
    if show_moon:
        _celestial(canvas, moon, moon_r, moon_colour)
    far_colour = _mix(_haze(brief), roles.deep, 0.5)
    _skyline(canvas, street, far_colour, (0.14, 0.34), windows=False)
    towers = _skyline(canvas, street, _darken(roles.deep, 0.6), (0.16, 0.42), windows=True)
    if brief.look.glow or "neon" in brief.motifs:
        _neon_signs(canvas, towers)
    if "water" in brief.motifs:
        _reflect(canvas, round(street))
        _shimmer(canvas, street, roles.accent, 30 if brief.detailed else 14)
    else:
        _street(canvas, street)
    return image


def _skyline(
    canvas: Canvas,
    street: float,
    colour: RGB,
    height_range: tuple[float, float],
    *,
    windows: bool,
) -> list[Box]:
    """Towers edge to edge along the street; returns their boxes."""
    rng, unit = canvas.rng, canvas.unit
    towers: list[Box] = []
    x = -rng.uniform(0, unit * 0.05)
    while x < canvas.width:
        tower_w = unit * rng.uniform(0.06, 0.14)
        box = (x, street - canvas.height * rng.uniform(*height_range), x + tower_w, street + 1)
        canvas.draw.rectangle(box, colour)
        _roof(canvas, box, colour)
        if windows:
            _windows(canvas, box)
        towers.append(box)
        x += tower_w + unit * rng.choice((0.0, 0.0, 0.01, 0.025))
    return towers


def _roof(canvas: Canvas, box: Box, colour: RGB) -> None:
    """Most roofs are flat; some carry a mast or a setback."""
    rng, unit = canvas.rng, canvas.unit
    left, top, right, _ = box
    roll = rng.random()
    if roll < 0.2:
        mid = (left + right) / 2
        mast = (mid, top, mid, top - unit * rng.uniform(0.04, 0.09))
        canvas.draw.line(mast, colour, max(1, round(unit * 0.004)))
    elif roll < 0.4:
        inset = (right - left) * 0.2
        setback = (left + inset, top - unit * rng.uniform(0.02, 0.05), right - inset, top)
        canvas.draw.rectangle(setback, colour)


def _windows(canvas: Canvas, box: Box) -> None:
    brief, rng = canvas.brief, canvas.rng
    left, top, right, bottom = box
    cell = max(4.0, canvas.unit * (0.014 if brief.detailed else 0.022))
    lit_share = 0.32 if brief.night else 0.12
    lit_colours = (brief.roles.accent, _lighten(brief.roles.light, 0.3), WARM_LIGHT)
    cols = int((right - left - cell * 0.5) // cell)
    rows = int((bottom - top - cell) // cell)
    for col in range(cols):
        for row in range(rows):
            if rng.random() < lit_share:
                x = left + cell * 0.5 + col * cell
                y = top + cell * 0.7 + row * cell
                ink = _rgba(rng.choice(lit_colours), 220)
                canvas.draw.rectangle((x, y, x + cell * 0.5, y + cell * 0.6), ink)


def _neon_signs(canvas: Canvas, towers: Sequence[Box]) -> None:
    rng = canvas.rng
    colours = (canvas.roles.accent, *canvas.brief.palette)
    for left, top, right, bottom in rng.sample(list(towers), k=min(len(towers), rng.randint(3, 5))):
        tower_w = right - left
        x = left + tower_w * rng.uniform(0.15, 0.45)
        y = top + (bottom - top) * rng.uniform(0.08, 0.4)
        if rng.random() < 0.5:
            sign: Box = (x, y, x + tower_w * 0.25, y + tower_w * rng.uniform(0.6, 1.2))
        else:
            sign = (left + tower_w * 0.1, y, right - tower_w * 0.1, y + tower_w * 0.22)
        tube = max(1, round(tower_w * 0.025))
        _glow_stroke(canvas.draw, "rectangle", sign, rng.choice(colours), tube)


def _street(canvas: Canvas, street: float) -> None:
    """Dark tarmac streaked by passing lights."""
    rng, width, height = canvas.rng, canvas.width, canvas.height
    canvas.draw.rectangle((0, street, width, height), _rgba(_darken(canvas.roles.deep, 0.7), 255))
    lane_w = max(1, round(canvas.unit * 0.004))
    for _ in range(10 if canvas.brief.detailed else 5):
        y = street + (height - street) * rng.uniform(0.15, 0.9)
        x = rng.uniform(0, width)
        colour = rng.choice((WARM_LIGHT, canvas.roles.accent, (255, 70, 60)))
        streak = (x, y, x + width * rng.uniform(0.05, 0.25), y)
        canvas.draw.line(streak, _rgba(colour, 150), lane_w)


def _paint_product(plan: Plan, brief: Brief, rng: Random) -> Image.Image:
    """A packshot: a spotlit backdrop, a table, the product (bottle or box), a few props."""
    size = plan.size
    width, height = size
    unit = min(size)
    roles, look = brief.roles, brief.look
    floor_y = height * rng.uniform(0.64, 0.72)
    centre_x = width * rng.choice((0.5, 0.4, 0.6)) + width * rng.uniform(-0.03, 0.03)
    stops = [
        (0.0, _darken(roles.mid, 0.3)),
        (floor_y / height, _lighten(roles.light, 0.2)),
        (1.0, roles.mid),
    ]
    spot = Glow(centre_x, floor_y - height * 0.2, unit * 0.5, _lighten(roles.light, 0.6), 0.6)
    canvas = Canvas(_backdrop(size, stops, [spot], look), brief, rng)
    _table(canvas, floor_y)
    product_h = min(height * rng.uniform(0.3, 0.38), width * 0.7)
    base_y = floor_y + (height - floor_y) * 0.25
    if not look.sparse and rng.random() < 0.5:
        base_y = _pedestal(canvas, centre_x, base_y, product_h)
    if not look.sparse:
        _props(canvas, floor_y, centre_x, product_h)
    if "box" in brief.motifs:
        _box(canvas, centre_x, base_y, product_h)
    else:
        _bottle(canvas, centre_x, base_y, product_h)
    return canvas.image


def _table(canvas: Canvas, floor_y: float) -> None:
    roles, look, width, height = canvas.roles, canvas.look, canvas.width, canvas.height
    marble = "marble" in canvas.brief.motifs
    top_colour = _lighten(roles.light, 0.6) if marble else _mix(roles.mid, roles.deep, 0.35)
    canvas.draw.rectangle((0, floor_y, width, height), _rgba(top_colour, look.alpha(235)))
    near_half = (0, (floor_y + height) / 2, width, height)
    canvas.draw.rectangle(near_half, _shadow_ink(look, top_colour, 24))
    edge_w = max(1, round(canvas.unit * 0.002))
    canvas.draw.line((0, floor_y, width, floor_y), _rgba(WHITE, 90), edge_w)
    if marble:
        _marble_veins(canvas, floor_y, 14 if canvas.brief.detailed else 6)


def _marble_veins(canvas: Canvas, floor_y: float, count: int) -> None:
    rng, width, height = canvas.rng, canvas.width, canvas.height
    vein_w = max(1, round(canvas.unit * 0.0025))
    for _ in range(count):
        x, y = rng.uniform(-0.2, 1.0) * width, rng.uniform(floor_y, height)
        points = [(x, y)]
        for _ in range(12):
            x += width * rng.uniform(0.02, 0.08)
            y += height * rng.uniform(-0.015, 0.02)
            points.append((x, y))
        ink = _rgba((120, 120, 126), rng.randint(40, 90))
        canvas.draw.line(points, ink, vein_w, joint="curve")


def _shadow_ink(look: Look, ground: RGB, alpha: int) -> RGBA:
    """Translucent black, or for flat looks the ground's own colour, darkened and opaque."""
    return _rgba(_darken(ground, 0.25), 255) if look.flat else _rgba(BLACK, look.alpha(alpha))


def _pedestal(canvas: Canvas, cx: float, base_y: float, product_h: float) -> float:
    """A cylinder standing on the table; returns the height of its top surface."""
    half, lid = product_h * 0.42, product_h * 0.07
    top = base_y - product_h * 0.2
    side = _mix(canvas.roles.light, canvas.roles.mid, 0.4)
    draw = canvas.draw
    draw.ellipse((cx - half, base_y - lid, cx + half, base_y + lid), _rgba(_darken(side, 0.3), 255))
    draw.rectangle((cx - half, top, cx + half, base_y), _rgba(side, 255))
    draw.ellipse((cx - half, top - lid, cx + half, top + lid), _rgba(_lighten(side, 0.35), 255))
    return top


def _bottle(canvas: Canvas, cx: float, base_y: float, product_h: float) -> None:
    """A flacon: tinted glass body with a highlight and a label, a neck, a cap."""
    brief, draw = canvas.brief, canvas.draw
    roles, look = brief.roles, brief.look
    body_w = product_h * canvas.rng.uniform(0.42, 0.56)
    body_top = base_y - product_h * 0.72
    left, right = cx - body_w / 2, cx + body_w / 2
    shadow = (
        left - body_w * 0.1,
        base_y - product_h * 0.04,
        right + body_w * 0.1,
        base_y + product_h * 0.04,
    )
    draw.ellipse(shadow, _shadow_ink(look, roles.mid, 70))
    body_ink = _rgba(roles.accent, look.alpha(225))
    draw.rounded_rectangle((left, body_top, right, base_y), radius=body_w * 0.18, fill=body_ink)
    neck_w, cap_w = body_w * 0.26, body_w * 0.44
    neck_top = body_top - product_h * 0.08
    neck_ink = _rgba(_lighten(roles.accent, 0.3), look.alpha(230))
    draw.rectangle((cx - neck_w / 2, neck_top, cx + neck_w / 2, body_top), neck_ink)
    dark_glass = _resembles(roles.accent, BLACK)
    cap_colour = COLOR_WORDS["gold"][0] if dark_glass else _darken(roles.deep, 0.3)
    cap = (cx - cap_w / 2, neck_top - product_h * 0.18, cx + cap_w / 2, neck_top)
    draw.rounded_rectangle(cap, radius=cap_w * 0.12, fill=_rgba(cap_colour, 255))
    shine_x = left + body_w * 0.12
    shine = (
        shine_x,
        body_top + product_h * 0.06,
        shine_x + body_w * 0.08,
        base_y - product_h * 0.08,
    )
    draw.rounded_rectangle(shine, radius=body_w * 0.04, fill=_rgba(WHITE, look.alpha(110)))
    label = (
        left + body_w * 0.2,
        body_top + product_h * 0.3,
        right - body_w * 0.2,
        body_top + product_h * 0.46,
    )
    draw.rectangle(label, _rgba(_lighten(roles.light, 0.5), look.alpha(210)))
    if brief.product_word:
        word_w, word_h = (label[2] - label[0]) * 0.8, (label[3] - label[1]) * 0.45
        font = _fitted_font(brief.product_word, word_w, word_h)
        centre = ((label[0] + label[2]) / 2, (label[1] + label[3]) / 2)
        ink = _rgba(_darken(roles.deep, 0.4), 255)
        draw.text(centre, brief.product_word, fill=ink, font=font, anchor="mm")


def _box(canvas: Canvas, cx: float, base_y: float, product_h: float) -> None:
    """A package seen from a corner: a lit top, a mid left face, a dark right face."""
    accent, draw = canvas.roles.accent, canvas.draw
    half, depth, tall = product_h * 0.45, product_h * 0.2, product_h * 0.6
    front = (cx, base_y)
    left = (cx - half, base_y - depth)
    right = (cx + half * 0.8, base_y - depth * 0.9)
    back = (left[0] + right[0] - front[0], left[1] + right[1] - front[1])

    def lifted(point: tuple[float, float]) -> tuple[float, float]:
        return point[0], point[1] - tall

    draw.polygon([front, left, lifted(left), lifted(front)], _rgba(accent, 255))
    draw.polygon([front, right, lifted(right), lifted(front)], _rgba(_darken(accent, 0.35), 255))
    top = [lifted(front), lifted(left), lifted(back), lifted(right)]
    draw.polygon(top, _rgba(_lighten(accent, 0.3), 255))


def _props(canvas: Canvas, floor_y: float, centre_x: float, product_h: float) -> None:
    """Two or three balls on the table beside the product."""
    rng = canvas.rng
    for _ in range(rng.randint(2, 3)):
        radius = product_h * rng.uniform(0.06, 0.12)
        x = centre_x + rng.choice((-1, 1)) * product_h * rng.uniform(0.5, 0.9)
        y = floor_y + (canvas.height - floor_y) * rng.uniform(0.3, 0.6) - radius
        colour = rng.choice(canvas.brief.palette)
        if canvas.look.flat:
            canvas.draw.ellipse(
                (x - radius, y - radius, x + radius, y + radius), _rgba(colour, 255)
            )
        else:
            _sphere(canvas.image, x, y, radius, colour)


def _paint_portrait(plan: Plan, brief: Brief, rng: Random) -> Image.Image:
    """A head-and-shoulders silhouette, rim-lit, before out-of-focus lights."""
    size = plan.size
    width, height = size
    unit = min(size)
    roles = brief.roles
    cx = width * rng.choice((0.5, 0.38, 0.62))
    head_r = unit * rng.uniform(0.1, 0.12)
    head_y = height * rng.uniform(0.3, 0.36)
    bokeh = [
        Glow(
            rng.uniform(0, width),
            rng.uniform(0, height * 0.8),
            unit * rng.uniform(0.03, 0.09),
            rng.choice((roles.light, roles.accent)),
            rng.uniform(0.3, 0.7),
        )
        for _ in range(rng.randint(8, 14) + (8 if brief.detailed else 0))
    ]
    halo = Glow(cx, head_y, head_r * 3.2, _lighten(roles.light, 0.3), 0.55)
    stops = [(0.0, _darken(roles.mid, 0.15)), (1.0, _darken(roles.deep, 0.2))]
    image = _backdrop(size, stops, [*bokeh, halo], brief.look, radial=True)
    draw = ImageDraw.Draw(image, "RGBA")
    rim = _rgba(_lighten(roles.accent, 0.45), 255)
    figure = _rgba(_darken(roles.deep, 0.55), 255)
    shift = unit * 0.008 * rng.choice((-1, 1))
    for x, ink in ((cx + shift, rim), (cx, figure)):
        torso = (x - head_r * 2.3, head_y + head_r * 1.6, x + head_r * 2.3, height + head_r)
        neck = (x - head_r * 0.38, head_y + head_r * 0.6, x + head_r * 0.38, head_y + head_r * 1.8)
        head = (x - head_r * 0.82, head_y - head_r, x + head_r * 0.82, head_y + head_r)
        draw.rounded_rectangle(torso, radius=head_r * 1.2, fill=ink)
        draw.rectangle(neck, ink)
        draw.ellipse(head, ink)
    return image


def _paint_abstract(plan: Plan, brief: Brief, rng: Random) -> Image.Image:
    """A poster of shapes on thirds: one large focal shape, smaller ones around it."""
    size = plan.size
    width, height = size
    unit = min(size)
    roles = brief.roles
    radial = rng.random() < 0.5
    ramp = list(reversed(roles.ramp)) if radial else list(roles.ramp)
    glows = [
        Glow(
            rng.uniform(0, width),
            rng.uniform(0, height),
            unit * rng.uniform(0.3, 0.6),
            roles.accent,
            0.35,
        )
        for _ in range(2)
    ]
    canvas = Canvas(
        _backdrop(size, _even_stops(ramp), glows, brief.look, radial=radial), brief, rng
    )
    anchors = [(1 / 3, 0.6), (2 / 3, 0.62), (0.5, 0.72), (0.25, 0.8), (0.75, 0.48)]
    if not plan.text_at_top:
        anchors = [(x, 1 - y) for x, y in anchors]
    rng.shuffle(anchors)
    colours = [c for c in brief.palette if c != roles.deep] or list(brief.palette)
    count = 3 if brief.look.sparse else 5 + (3 if brief.detailed else 0)
    for i in range(count):
        ax, ay = anchors[i % len(anchors)]
        centre = (width * (ax + rng.uniform(-0.08, 0.08)), height * (ay + rng.uniform(-0.08, 0.08)))
        radius = unit * (rng.uniform(0.2, 0.3) if i == 0 else rng.uniform(0.05, 0.15))
        _abstract_shape(canvas, centre, radius, colours[i % len(colours)])
    if brief.detailed:
        _dot_grid(canvas, anchors[-1], _lighten(roles.light, 0.4))
    return canvas.image


def _abstract_shape(
    canvas: Canvas, centre: tuple[float, float], radius: float, colour: RGB
) -> None:
    look, draw = canvas.look, canvas.draw
    x, y = centre
    box = (x - radius, y - radius, x + radius, y + radius)
    stroke = max(2, round(radius * 0.12))
    kind = canvas.rng.choice(("disc", "ring", "block", "band", "arc", "triangle"))
    if look.shaded and kind in ("disc", "ring", "arc"):
        _sphere(canvas.image, x, y, radius, colour)
    elif look.glow and kind in ("ring", "arc", "block"):
        outline: Literal["ellipse", "rectangle"] = "rectangle" if kind == "block" else "ellipse"
        _glow_stroke(draw, outline, box, colour, max(1, stroke // 3))
    elif kind == "disc":
        draw.ellipse(box, _rgba(colour, look.alpha(215)))
    elif kind == "ring":
        draw.ellipse(box, outline=_rgba(colour, look.alpha(230)), width=stroke)
    elif kind == "block":
        block = (x - radius, y - radius * 0.6, x + radius, y + radius * 0.6)
        draw.rounded_rectangle(block, radius=radius * 0.2, fill=_rgba(colour, look.alpha(200)))
    elif kind == "band":
        tilt, half = radius * canvas.rng.uniform(-1.5, 1.5), radius * 0.3
        band = [
            (0, y - half + tilt),
            (canvas.width, y - half - tilt),
            (canvas.width, y + half - tilt),
            (0, y + half + tilt),
        ]
        draw.polygon(band, _rgba(colour, look.alpha(150)))
    elif kind == "arc":
        start = canvas.rng.choice((0, 90, 180, 270))
        draw.arc(box, start, start + 180, fill=_rgba(colour, look.alpha(240)), width=stroke * 2)
    else:
        triangle = [(x, y - radius), (x - radius, y + radius * 0.8), (x + radius, y + radius * 0.8)]
        draw.polygon(triangle, _rgba(colour, look.alpha(210)))


def _dot_grid(canvas: Canvas, anchor: tuple[float, float], colour: RGB) -> None:
    """A small grid of dots: the kind of detail a designer adds last."""
    step = canvas.unit * 0.028
    dot = max(1.0, canvas.unit * 0.004)
    left = canvas.width * anchor[0] - step * 2
    top = canvas.height * anchor[1] - step * 2
    for col in range(5):
        for row in range(5):
            x, y = left + col * step, top + row * step
            canvas.draw.ellipse((x - dot, y - dot, x + dot, y + dot), _rgba(colour, 200))


SCENE_TEXT_ZONES: dict[Scene, Literal["top", "bottom", "any"]] = {
    "landscape": "any",
    "city": "top",
    "product": "top",
    "portrait": "bottom",
    "abstract": "any",
}
"""Where the headline may go without covering the scene's subject."""

SCENE_PAINTERS: dict[Scene, Callable[[Plan, Brief, Random], Image.Image]] = {
    "landscape": _paint_landscape,
    "city": _paint_city,
    "product": _paint_product,
    "portrait": _paint_portrait,
    "abstract": _paint_abstract,
}


# ---------------------------------------------------------------------------------------------
# Finishing: tone, type and label


def _finish(image: Image.Image, brief: Brief, rng: Random) -> Image.Image:
    """Whole-picture treatments of the style: toning, grain, letterbox bars."""
    look = brief.look
    if look.sepia:
        image = image.convert("RGB", _sepia_matrix(look.sepia))
    if look.grain and brief.detailed:
        image = _grain(image, rng, look.grain)
    if look.letterbox:
        bar = _letterbox_bar(image.size)
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


def _grain(image: Image.Image, rng: Random, amount: float) -> Image.Image:
    """Film grain from one seeded noise tile, repeated (a full-size noise field costs more)."""
    tile_side = 128
    levels = rng.randbytes(tile_side * tile_side)
    tile = Image.frombytes("L", (tile_side, tile_side), levels).point(
        lambda v: round(128 + (v - 128) * amount / 128)
    )
    noise = Image.new("L", image.size)
    for x in range(0, image.width, tile_side):
        for y in range(0, image.height, tile_side):
            noise.paste(tile, (x, y))
    return ImageChops.soft_light(image, noise.convert("RGB"))


def _letterbox_bar(size: tuple[int, int]) -> int:
    return round(size[1] * (0.085 if size[0] >= size[1] else 0.05))


@lru_cache(maxsize=64)
def _font(size: int) -> Font:
    font = ImageFont.load_default(size=max(1, size))
    if not isinstance(font, ImageFont.FreeTypeFont):
        raise RuntimeError("Pillow was built without FreeType; the preview engine needs it")
    return font


def _fitted_font(text: str, max_width: float, max_size: float) -> Font:
    size = max(1, int(max_size))
    length = _font(size).getlength(text)
    if length > max_width:
        size = max(1, int(size * max_width / length))
    return _font(size)


def _label_box(size: tuple[int, int]) -> tuple[Box, Font]:
    unit = min(size)
    font = _fitted_font(PREVIEW_LABEL, size[0] * 0.4, max(9, unit * 0.024))
    margin = round(unit * 0.03)
    text_w = font.getlength(PREVIEW_LABEL)
    pad = font.size * 0.6
    return (margin, margin, margin + text_w + 2 * pad, margin + font.size + pad), font


def _draw_preview_label(image: Image.Image) -> None:
    box, font = _label_box(image.size)
    draw = ImageDraw.Draw(image, "RGBA")
    draw.rounded_rectangle(box, radius=(box[3] - box[1]) / 2, fill=(255, 255, 255, 200))
    centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
    draw.text(centre, PREVIEW_LABEL, fill=(20, 20, 26, 255), font=font, anchor="mm")


@dataclass(frozen=True)
class TypeBlock:
    """The headline, its accent rule and the caption, measured for one image."""

    lines: list[str]
    font: Font
    caption: str
    caption_font: Font
    rule_h: float

    @property
    def line_h(self) -> float:
        return self.font.size * 1.12

    @property
    def height(self) -> float:
        caption_h = self.caption_font.size * 1.3 if self.caption else 0.0
        return self.line_h * len(self.lines) + self.rule_h + self.font.size * 0.5 + caption_h


def _draw_typography(image: Image.Image, brief: Brief, plan: Plan, rng: Random) -> None:
    width, _ = image.size
    unit = min(image.size)
    margin = unit * 0.06
    block = _type_block(brief, width - 2 * margin, unit)
    top = _typography_top(image.size, block.height, margin, brief.look, plan.text_at_top)
    centred = rng.random() < 0.35
    anchor_x = width / 2 if centred else margin
    anchor = "ma" if centred else "la"
    ink, shadow = _ink_for(image, (margin, top, width - margin, top + block.height))
    _scrim(image, top, block.height, margin, dark=ink[0] > 128)
    draw = ImageDraw.Draw(image, "RGBA")
    offset = max(1.0, block.font.size * 0.04)
    weight = block.font.size // 40
    for i, line in enumerate(block.lines):
        y = top + i * block.line_h
        draw.text((anchor_x + offset, y + offset), line, shadow, block.font, anchor)
        draw.text(
            (anchor_x, y), line, ink, block.font, anchor, stroke_width=weight, stroke_fill=ink
        )
    rule_y = top + block.line_h * len(block.lines) + block.font.size * 0.15
    rule_w = unit * 0.1
    rule_x = anchor_x - rule_w / 2 if centred else anchor_x
    rule_colour = ink[:3] if brief.look.flat else brief.roles.accent
    draw.rectangle(
        (rule_x, rule_y, rule_x + rule_w, rule_y + block.rule_h), _rgba(rule_colour, 255)
    )
    if block.caption:
        caption_y = rule_y + block.rule_h + block.font.size * 0.3
        draw.text((anchor_x, caption_y), block.caption, ink, block.caption_font, anchor)


def _type_block(brief: Brief, max_width: float, unit: int) -> TypeBlock:
    largest = unit * (0.062 if brief.look.sparse else 0.082)
    lines, font = _headline_lines(brief.headline, max_width, largest)
    natural_caption = round(max(font.size * 0.4, unit * 0.026))
    caption_font = _font(max(MIN_CAPTION_SIZE, natural_caption))
    # On thumbnails a legible caption would outgrow the headline: leave it out.
    caption = brief.caption if natural_caption >= MIN_CAPTION_SIZE * 0.7 else ""
    return TypeBlock(
        lines=lines,
        font=font,
        caption=_truncate(caption, caption_font, max_width),
        caption_font=caption_font,
        rule_h=max(2.0, unit * 0.005),
    )


def _headline_lines(headline: str, max_width: float, largest: float) -> tuple[list[str], Font]:
    """One line if it fits large enough, else two lines, shrunk until the widest fits."""
    font = _font(round(largest))
    if font.getlength(headline) <= max_width:
        return [headline], font
    words = headline.split()
    lines = [headline]
    if len(words) > 1:
        split = min(
            range(1, len(words)),
            key=lambda k: abs(len(" ".join(words[:k])) - len(" ".join(words[k:]))),
        )
        lines = [" ".join(words[:split]), " ".join(words[split:])]
    widest = max(font.getlength(line) for line in lines)
    if widest > max_width:
        font = _font(max(6, int(font.size * max_width / widest)))
    return lines, font


def _truncate(text: str, font: Font, max_width: float) -> str:
    if not text or font.getlength(text) <= max_width:
        return text
    words = text.split()
    while words and font.getlength(" ".join(words) + "…") > max_width:
        words.pop()
    return " ".join(words) + "…" if words else ""


def _typography_top(
    size: tuple[int, int], block_h: float, margin: float, look: Look, at_top: bool
) -> float:
    """Under the PREVIEW label, or low but clear of the watermark box (if the block fits)."""
    width, height = size
    label_bottom = _label_box(size)[0][3]
    bar = _letterbox_bar(size) if look.letterbox else 0
    upper = max(label_bottom, bar) + margin * 0.5
    lowest = min(height - bar - margin * 0.5, watermark_box(width, height)[1] - margin * 0.4)
    lower = lowest - block_h
    return upper if at_top or lower < upper else lower


def _text_at_top(scene: Scene, rng: Random) -> bool:
    zone = SCENE_TEXT_ZONES[scene]
    return zone == "top" or (zone == "any" and rng.random() < 0.5)


def _scrim(image: Image.Image, top: float, block_h: float, margin: float, *, dark: bool) -> None:
    """A soft shade behind the type, deepest at the image edge the type sits against."""
    height = image.height
    at_top = top < height / 2
    start = 0 if at_top else max(0, round(top - margin * 1.5))
    end = min(height, round(top + block_h + margin * 1.5)) if at_top else height
    if end - start < 2:
        return
    strength = 0.5 if dark else 0.35
    lut = [round(255 * strength * _smoothstep(min(1.0, v / 255 * 1.5))) for v in range(256)]
    column = _VERTICAL.crop((0, 0, 1, 256)).point(lut)
    if at_top:
        column = column.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    mask = column.resize((1, end - start), Image.Resampling.BILINEAR)
    mask = mask.resize((image.width, end - start), Image.Resampling.NEAREST)
    shade = Image.new("RGB", mask.size, BLACK if dark else WHITE)
    # Pasting an image through a mask is about twice as fast as pasting a colour through it.
    image.paste(shade, (0, start), mask)


def _ink_for(image: Image.Image, box: Box) -> tuple[RGBA, RGBA]:
    """Light type on dark ground, dark type on light ground; with a soft opposite shadow."""
    left, top, right, bottom = (round(v) for v in box)
    region = image.crop((left, top, max(right, left + 1), max(bottom, top + 1))).resize(
        (8, 8), Image.Resampling.BOX
    )
    brightness = ImageStat.Stat(region.convert("L")).mean[0]
    if brightness > 150:
        return (24, 24, 30, 255), (255, 255, 255, 90)
    return (250, 250, 248, 255), (0, 0, 0, 110)


# ---------------------------------------------------------------------------------------------
# The engine


def image_rng(digest: bytes, seed: int, index: int) -> Random:
    """The composition's randomness for image ``index`` of a spec: seed-, not process-, bound."""
    material = digest + seed.to_bytes(4, "big") + index.to_bytes(4, "big")
    return Random(int.from_bytes(hashlib.sha256(material).digest(), "big"))


def render(model: str, spec: ImageSpec, index: int = 0) -> Image.Image:
    """Image ``index`` of ``spec``: an RGB image of exactly ``spec.width x spec.height``."""
    brief = read_brief(model, spec)
    rng = image_rng(prompt_digest(model, spec), spec.seed, index)
    plan = Plan(size=(spec.width, spec.height), text_at_top=_text_at_top(brief.scene, rng))
    image = SCENE_PAINTERS[brief.scene](plan, brief, rng)
    image = _finish(image, brief, rng)
    _draw_typography(image, brief, plan, rng)
    _draw_preview_label(image)
    return image


def render_batch(model: str, specs: Sequence[ImageSpec]) -> list[list[Image.Image]]:
    return [[render(model, spec, i) for i in range(spec.n)] for spec in specs]


class PreviewEngine:
    """Built in, offline, deterministic and fast; the engine of fresh installs and CI."""

    name = "preview"
    max_batch = 8

    def __init__(self, delay_seconds: float = 0.0) -> None:
        if delay_seconds < 0:
            raise ValueError("delay_seconds must not be negative")
        self.delay_seconds = delay_seconds

    def batch_key(self, model: str, spec: ImageSpec) -> str:
        return f"preview:{model}"

    def validate(self, model: str, spec: ImageSpec) -> None:
        for side_name, side in (("width", spec.width), ("height", spec.height)):
            if not MIN_SIDE <= side <= MAX_SIDE:
                raise EngineRejected(
                    f"{side_name} {side} is outside {MIN_SIDE}..{MAX_SIDE} pixels", param="size"
                )

    async def generate(self, model: str, specs: Sequence[ImageSpec]) -> list[list[Image.Image]]:
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        return await asyncio.to_thread(render_batch, model, specs)

    async def close(self) -> None:
        return None
