"""Pictures for the invisible watermark's tests and benchmark: the preview engine's output,
synthetic natural-ish scenes (gradients, shapes, texture, blur), and flat or dark frames."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from creatix.engines.preview import render
from creatix.jobs.specs import ImageSpec

PROMPTS = (
    "A majestic mountain landscape at sunset with a calm lake and pine trees",
    "Minimalist product photo of luxury perfume bottle on marble table",
    "Futuristic cyberpunk city skyline at night with neon lights",
    "Portrait of a woman in a red coat, soft light",
    "Quarterly growth campaign for a fintech startup",
    "A bowl of ramen on a wooden table, watercolor",
)
STYLES = (None, "photographic", "cinematic", "neon", "watercolor", "vintage")


def preview(seed: int, width: int, height: int | None = None) -> Image.Image:
    spec = ImageSpec.model_validate(
        {
            "prompt": PROMPTS[seed % len(PROMPTS)],
            "style": STYLES[(seed // len(PROMPTS)) % len(STYLES)],
            "width": width,
            "height": height or width,
            "seed": seed,
        }
    )
    return render("creatix-flash", spec)


def synthetic(seed: int, width: int, height: int | None = None) -> Image.Image:
    """A gradient sky, coloured shapes, fine noise and a soft blur: natural-ish statistics."""
    height = height or width
    rng = np.random.default_rng(seed)
    ys = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    xs = np.linspace(0, 1, width, dtype=np.float32)[None, :, None]
    top, bottom, side = (rng.uniform(0, 255, 3).astype(np.float32) for _ in range(3))
    pixels = top * (1 - ys) + bottom * ys + (side - 128) * 0.3 * xs
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(4, 14))):
        x0, x1 = sorted(rng.uniform(-0.1, 1.1, 2) * width)
        y0, y1 = sorted(rng.uniform(-0.1, 1.1, 2) * height)
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        else:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.5, 3))))
    grain = rng.normal(0, rng.uniform(1, 8), (height, width, 1)).astype(np.float32)
    pixels = np.asarray(image, dtype=np.float32) + grain
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def flat(seed: int, width: int, height: int | None = None) -> Image.Image:
    """One colour (dark half the time), sometimes with faint sensor noise."""
    height = height or width
    rng = np.random.default_rng(seed)
    level = rng.integers(0, 40, 3) if seed % 2 else rng.integers(0, 256, 3)
    pixels = np.broadcast_to(level.astype(np.float32), (height, width, 3))
    if seed % 3 == 0:
        pixels = pixels + rng.normal(0, 1.5, (height, width, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def _reloaded(image: Image.Image, fmt: str, **options: object) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def jpeg70(image: Image.Image) -> Image.Image:
    return _reloaded(image, "JPEG", quality=70)


def webp(image: Image.Image) -> Image.Image:
    return _reloaded(image, "WEBP")


def half(image: Image.Image) -> Image.Image:
    return image.resize((image.width // 2, image.height // 2))


def crop_each_side(image: Image.Image) -> Image.Image:
    """10% of the picture off: 5% from each side."""
    dx, dy = image.width // 20, image.height // 20
    return image.crop((dx, dy, image.width - dx, image.height - dy))


def crop_one_side(image: Image.Image) -> Image.Image:
    """10% of the picture off the left."""
    return image.crop((image.width // 10, 0, image.width, image.height))


def crop_corner(image: Image.Image) -> Image.Image:
    """10% off the top and 10% off the right: the shift is neither whole tiles nor symmetric."""
    return image.crop((0, image.height // 10, image.width - image.width // 10, image.height))


TRANSFORMS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "none": lambda image: image,
    "jpeg q70": jpeg70,
    "webp (q80)": webp,
    "resize 50%": half,
    "crop 5% each side": crop_each_side,
    "crop 10% one side": crop_one_side,
    "crop 10% top+right": crop_corner,
}
