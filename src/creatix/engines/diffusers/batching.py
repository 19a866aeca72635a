"""Specs to one pipeline call and back: one item per image, each with its own seed.

Image ``i`` of a spec is drawn from ``spec.seed + i`` with its own generator, so a request
gets the same images whether it runs alone or batched with others.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageOps

from creatix.jobs.specs import ImageSpec

WHITE = (255, 255, 255)


@dataclass(frozen=True)
class Item:
    """One image to draw."""

    spec_index: int
    prompt: str
    negative_prompt: str | None
    seed: int
    width: int
    height: int
    input_image: Image.Image | None = None


def batch_key(
    model: str, spec: ImageSpec, *, steps: int, guidance_scale: float, strength: float
) -> str:
    """Equal for specs one pipeline call can serve. Readable where short; the model (often a
    long path) and the engine parameters are folded into a digest to bound the key's length."""
    image_to_image = spec.input_image is not None
    mode = "img2img" if image_to_image else "txt2img"
    fields = {
        "model": model,
        "steps": steps,
        "guidance_scale": guidance_scale,
        "strength": strength if image_to_image else None,
        "engine_params": spec.engine_params,
    }
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]
    return f"{mode}:{spec.width}x{spec.height}:s{steps}:g{guidance_scale:g}:{digest}"


def flatten(specs: Sequence[ImageSpec], input_images: Sequence[Image.Image | None]) -> list[Item]:
    """Every image of every spec, in order."""
    items: list[Item] = []
    for index, (spec, source) in enumerate(zip(specs, input_images, strict=True)):
        prepared = fit_input(source, spec.width, spec.height) if source is not None else None
        items.extend(
            Item(
                spec_index=index,
                prompt=spec.prompt,
                negative_prompt=spec.negative_prompt,
                seed=spec.seed + i,
                width=spec.width,
                height=spec.height,
                input_image=prepared,
            )
            for i in range(spec.n)
        )
    return items


def calls(items: Sequence[Item], max_images: int) -> list[list[Item]]:
    """The items grouped into pipeline calls: one shape and mode per call, at most
    ``max_images`` each. A batch with one batch key is one call when it fits."""
    groups: dict[tuple[int, int, bool], list[Item]] = {}
    for item in items:
        groups.setdefault((item.width, item.height, item.input_image is not None), []).append(item)
    return [
        group[start : start + max_images]
        for group in groups.values()
        for start in range(0, len(group), max_images)
    ]


def split(
    specs: Sequence[ImageSpec], drawn: Sequence[tuple[Item, Image.Image]]
) -> list[list[Image.Image]]:
    """The drawn images back per spec, in the order of each spec's seeds."""
    per_spec: list[list[tuple[int, Image.Image]]] = [[] for _ in specs]
    for item, image in drawn:
        per_spec[item.spec_index].append((item.seed, image))
    return [[image for _, image in sorted(images, key=lambda p: p[0])] for images in per_spec]


def fit_input(image: Image.Image, width: int, height: int) -> Image.Image:
    """An input image as the pipeline wants it: RGB (transparency over white), cropped to the
    output's aspect ratio and scaled to its size."""
    if image.mode in ("RGBA", "LA", "PA", "P"):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, WHITE)
        flat.paste(rgba, mask=rgba.getchannel("A"))
        image = flat
    else:
        image = image.convert("RGB")
    return ImageOps.fit(image, (width, height), Image.Resampling.LANCZOS)
