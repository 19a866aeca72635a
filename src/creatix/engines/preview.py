"""The preview engine: offline, deterministic, fast, and honest about what it is.

It draws a composition from the prompt — a palette from its colour words, simple motifs for
the nouns it knows (mountains, sun, water, city, product), a few of its words as a headline —
shaped by size, seed, style and quality, and labels every image PREVIEW. It is what a fresh
install and CI run, and what integrators develop against.
"""

from __future__ import annotations

import asyncio
import colorsys
import functools
import hashlib
import random
import re
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

from creatix.engines.base import EngineRejected
from creatix.jobs.specs import ImageSpec

RGB = tuple[int, int, int]

COLOUR_WORDS: dict[str, RGB] = {
    "red": (214, 40, 57),
    "crimson": (170, 20, 50),
    "scarlet": (230, 40, 30),
    "orange": (247, 127, 0),
    "amber": (255, 176, 0),
    "yellow": (252, 211, 35),
    "gold": (212, 175, 55),
    "golden": (222, 170, 60),
    "lemon": (250, 230, 80),
    "green": (46, 160, 67),
    "lime": (160, 220, 50),
    "emerald": (0, 150, 110),
    "olive": (120, 130, 50),
    "forest": (34, 90, 50),
    "pine": (30, 80, 60),
    "teal": (0, 128, 128),
    "cyan": (0, 200, 220),
    "turquoise": (64, 224, 208),
    "blue": (30, 90, 200),
    "navy": (20, 30, 90),
    "azure": (60, 140, 240),
    "ocean": (0, 105, 148),
    "sea": (20, 120, 160),
    "sky": (120, 180, 240),
    "purple": (120, 60, 170),
    "violet": (140, 80, 220),
    "lavender": (180, 160, 230),
    "magenta": (220, 30, 160),
    "pink": (240, 130, 170),
    "rose": (230, 90, 120),
    "brown": (120, 80, 45),
    "wood": (150, 105, 60),
    "beige": (225, 205, 170),
    "black": (20, 20, 24),
    "night": (15, 20, 45),
    "dark": (35, 35, 45),
    "white": (245, 245, 242),
    "marble": (232, 230, 226),
    "silver": (190, 195, 205),
    "grey": (128, 128, 135),
    "gray": (128, 128, 135),
    "neon": (255, 40, 200),
    "sunset": (250, 110, 60),
    "sunrise": (255, 160, 90),
    "fire": (240, 80, 20),
    "snow": (240, 245, 250),
    "sand": (220, 195, 140),
    "mint": (150, 230, 190),
    "coral": (255, 120, 100),
    "peach": (255, 190, 150),
    "tropical": (0, 190, 150),
}
STOP_WORDS = frozenset(
    {"a", "an", "the", "of", "on", "in", "at", "with", "and", "or", "for", "to", "by", "from"}
    | {"into", "over", "under", "near", "its", "his", "her", "their", "is", "are", "be", "this"}
    | {"that", "very"}
)
MOTIFS = {
    "mountain": "mountains",
    "mountains": "mountains",
    "landscape": "mountains",
    "sun": "sun",
    "sunset": "sun",
    "sunrise": "sun",
    "moon": "sun",
    "lake": "water",
    "ocean": "water",
    "sea": "water",
    "beach": "water",
    "river": "water",
    "city": "city",
    "skyline": "city",
    "cyberpunk": "city",
    "street": "city",
    "product": "product",
    "bottle": "product",
    "perfume": "product",
    "sneaker": "product",
    "shoe": "product",
    "package": "product",
    "cup": "product",
}


def _words(text: str) -> list[str]:
    return re.findall(r"[a-zA-Z][a-zA-Z'-]*", text.lower())


def _rng(model: str, spec: ImageSpec, index: int) -> random.Random:
    key = "|".join(
        (
            model,
            str(spec.seed),
            str(index),
            spec.prompt,
            spec.negative_prompt or "",
            spec.style or "",
            spec.quality,
        )
    )
    return random.Random(int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big"))


def palette(spec: ImageSpec, rng: random.Random) -> list[RGB]:
    """Colours named in the prompt (not those in the negative prompt), topped up from the seed."""
    excluded = {COLOUR_WORDS[w] for w in _words(spec.negative_prompt or "") if w in COLOUR_WORDS}
    named = [COLOUR_WORDS[w] for w in _words(spec.prompt) if w in COLOUR_WORDS]
    colours = list(dict.fromkeys(c for c in named if c not in excluded))
    hue = rng.random()
    while len(colours) < 4:
        hue = (hue + 0.17 + rng.random() * 0.2) % 1.0
        r, g, b = colorsys.hsv_to_rgb(hue, 0.45 + rng.random() * 0.4, 0.55 + rng.random() * 0.4)
        candidate = (int(r * 255), int(g * 255), int(b * 255))
        if all(_distance(candidate, e) > 120 for e in excluded):
            colours.append(candidate)
    return _styled(colours, spec.style)


def _distance(a: RGB, b: RGB) -> float:
    return float(sum((x - y) ** 2 for x, y in zip(a, b, strict=True)) ** 0.5)


def _adjust(colour: RGB, saturation: float, value: float, warm: int = 0) -> RGB:
    h, s, v = colorsys.rgb_to_hsv(*(c / 255 for c in colour))
    r, g, b = colorsys.hsv_to_rgb(h, min(1.0, s * saturation), min(1.0, v * value))
    return (min(255, int(r * 255) + warm), int(g * 255), max(0, int(b * 255) - warm))


def _styled(colours: list[RGB], style: str | None) -> list[RGB]:
    treatments = {
        "neon": (1.6, 1.1, 0),
        "vivid": (1.4, 1.05, 0),
        "natural": (0.7, 0.95, 0),
        "vintage": (0.55, 0.9, 25),
        "minimalist": (0.5, 1.1, 0),
        "watercolor": (0.65, 1.1, 0),
        "cinematic": (1.1, 0.8, 10),
        "photographic": (0.9, 1.0, 0),
    }
    if style not in treatments:
        return colours
    saturation, value, warm = treatments[style]
    return [_adjust(c, saturation, value, warm) for c in colours]


@functools.lru_cache(maxsize=64)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _background(width: int, height: int, top: RGB, bottom: RGB) -> Image.Image:
    mask = Image.linear_gradient("L").resize((width, height), Image.Resampling.BILINEAR)
    return Image.composite(
        Image.new("RGB", (width, height), bottom), Image.new("RGB", (width, height), top), mask
    )


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return (
        int(a[0] + (b[0] - a[0]) * t),
        int(a[1] + (b[1] - a[1]) * t),
        int(a[2] + (b[2] - a[2]) * t),
    )


def _draw_motif(
    draw: ImageDraw.ImageDraw,
    motif: str,
    size: tuple[int, int],
    colours: list[RGB],
    rng: random.Random,
) -> None:
    w, h = size
    if motif == "sun":
        r = int(min(w, h) * rng.uniform(0.1, 0.18))
        cx, cy = int(w * rng.uniform(0.25, 0.75)), int(h * rng.uniform(0.22, 0.45))
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=_mix(colours[0], (255, 240, 200), 0.4))
    elif motif == "mountains":
        for layer in range(3):
            base = h * (0.62 + layer * 0.1)
            peaks = [(0, h), (0, int(base))]
            x = 0
            while x < w:
                x += int(w * rng.uniform(0.12, 0.3))
                peaks.append((x, int(base - h * rng.uniform(0.08, 0.3))))
                x += int(w * rng.uniform(0.08, 0.2))
                peaks.append((x, int(base)))
            peaks.append((w, h))
            draw.polygon(peaks, fill=_mix(colours[2], (20, 25, 35), 0.25 + layer * 0.2))
    elif motif == "water":
        top = int(h * rng.uniform(0.7, 0.8))
        draw.rectangle((0, top, w, h), fill=_mix(colours[1], (20, 60, 110), 0.45))
        for i in range(6):
            y = top + int((h - top) * (i + 0.5) / 6)
            draw.line(
                (int(w * rng.random() * 0.5), y, int(w * (0.5 + rng.random() * 0.5)), y),
                fill=_mix(colours[1], (255, 255, 255), 0.35),
                width=max(1, h // 300),
            )
    elif motif == "city":
        x = 0
        while x < w:
            bw = int(w * rng.uniform(0.05, 0.11))
            top = int(h * rng.uniform(0.35, 0.7))
            draw.rectangle((x, top, x + bw, h), fill=_mix(colours[3], (10, 10, 25), 0.6))
            for wy in range(top + h // 60, h, max(4, h // 40)):
                if rng.random() < 0.5:
                    draw.rectangle(
                        (x + bw // 4, wy, x + bw // 4 + max(2, bw // 6), wy + h // 120),
                        fill=_mix(colours[0], (255, 235, 160), 0.5),
                    )
            x += bw + int(w * 0.01)
    elif motif == "product":
        pw, ph = int(w * 0.22), int(h * 0.42)
        left, top = (w - pw) // 2, int(h * 0.3)
        draw.ellipse(
            (left - pw // 2, top + ph - h // 30, left + pw + pw // 2, top + ph + h // 30),
            fill=_mix(colours[1], (0, 0, 0), 0.35),
        )
        draw.rounded_rectangle(
            (left, top, left + pw, top + ph),
            radius=max(2, pw // 6),
            fill=colours[2],
            outline=_mix(colours[2], (255, 255, 255), 0.5),
            width=max(1, w // 256),
        )


def _draw_shapes(
    draw: ImageDraw.ImageDraw,
    size: tuple[int, int],
    colours: list[RGB],
    rng: random.Random,
    count: int,
    *,
    flat: bool,
) -> None:
    w, h = size
    for _ in range(count):
        colour = _mix(rng.choice(colours), (255, 255, 255), 0 if flat else rng.uniform(0, 0.3))
        r = int(min(w, h) * rng.uniform(0.03, 0.14))
        cx, cy = int(w * rng.random()), int(h * rng.random())
        if rng.random() < 0.5:
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
        else:
            draw.rounded_rectangle(
                (cx - r, cy - r // 2, cx + r, cy + r // 2),
                radius=0 if flat else r // 4,
                fill=colour,
            )


def _headline(spec: ImageSpec) -> str:
    words = [w for w in _words(spec.prompt) if w not in STOP_WORDS]
    return " ".join(words[:3]).upper() or "CREATIX"


def _draw_text(image: Image.Image, spec: ImageSpec, rng: random.Random) -> None:
    w, h = image.size
    draw = ImageDraw.Draw(image)
    text = _headline(spec)
    size = max(10, h // 9)
    text_width = draw.textlength(text, font=_font(size))
    if text_width > w * 0.86:
        size = max(8, int(size * w * 0.86 / text_width))
    font = _font(size)
    text_width = draw.textlength(text, font=font)
    x = int((w - text_width) * rng.uniform(0.15, 0.5))
    y = int(h * rng.uniform(0.08, 0.2))
    shadow = max(1, size // 20)
    draw.text((x + shadow, y + shadow), text, font=font, fill=(0, 0, 0))
    draw.text((x, y), text, font=font, fill=(250, 250, 250))
    label = _font(max(9, min(w, h) // 40))
    draw.text((max(4, w // 100), max(4, h // 100)), "PREVIEW", font=label, fill=(255, 255, 255))


def _finish(image: Image.Image, spec: ImageSpec) -> Image.Image:
    w, h = image.size
    if spec.style == "watercolor":
        small = image.resize((max(1, w // 4), max(1, h // 4)), Image.Resampling.BILINEAR)
        image = small.filter(ImageFilter.GaussianBlur(2)).resize((w, h), Image.Resampling.BICUBIC)
    elif spec.style == "vintage":
        image = ImageEnhance.Contrast(image).enhance(0.8)
    if spec.style == "cinematic":
        bar = h // 10
        ImageDraw.Draw(image).rectangle((0, 0, w, bar), fill=(0, 0, 0))
        ImageDraw.Draw(image).rectangle((0, h - bar, w, h), fill=(0, 0, 0))
    return image


def render(model: str, spec: ImageSpec, index: int) -> Image.Image:
    """Image ``index`` of ``spec``: a pure function of its arguments."""
    rng = _rng(model, spec, index)
    colours = palette(spec, rng)
    size = (spec.width, spec.height)
    if spec.style == "neon":
        image = _background(*size, (10, 5, 30), _mix(colours[0], (0, 0, 0), 0.6))
    elif spec.style == "minimalist":
        image = _background(*size, (245, 244, 240), _mix(colours[0], (255, 255, 255), 0.7))
    else:
        image = _background(*size, colours[0], colours[1])
    draw = ImageDraw.Draw(image)
    motifs = list(dict.fromkeys(MOTIFS[w] for w in _words(spec.prompt) if w in MOTIFS))
    count = 3 if spec.style == "minimalist" else rng.randint(5, 9)
    if spec.quality == "hd":
        count *= 2
    _draw_shapes(
        draw,
        size,
        colours,
        rng,
        count if not motifs else count // 2,
        flat=spec.style == "flat-illustration",
    )
    for motif in motifs:
        _draw_motif(draw, motif, size, colours, rng)
    image = _finish(image, spec)
    _draw_text(image, spec, rng)
    return image


class PreviewEngine:
    name = "preview"
    max_batch = 8
    min_side = 64
    max_side = 4096

    def __init__(self, delay_seconds: float = 0.0) -> None:
        self.delay_seconds = delay_seconds

    def batch_key(self, model: str, spec: ImageSpec) -> str:
        return f"preview:{model}"

    def validate(self, model: str, spec: ImageSpec) -> None:
        for side in (spec.width, spec.height):
            if not self.min_side <= side <= self.max_side:
                raise EngineRejected(
                    f"The preview engine draws {self.min_side} to {self.max_side} pixels a "
                    f"side; {spec.width}x{spec.height} is outside that.",
                    param="size",
                )

    async def generate(self, model: str, specs: Sequence[ImageSpec]) -> list[list[Image.Image]]:
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        return await asyncio.to_thread(
            lambda: [[render(model, spec, i) for i in range(spec.n)] for spec in specs]
        )

    async def close(self) -> None:
        return None
