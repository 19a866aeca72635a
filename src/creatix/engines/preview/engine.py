"""The engine: ``render`` paints one image of a spec; ``PreviewEngine`` serves batches."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from PIL import Image

from creatix.engines.base import EngineRejected
from creatix.engines.preview.brief import image_rng, prompt_digest, read_brief
from creatix.engines.preview.paint import Plan, finish
from creatix.engines.preview.scenes import SCENE_PAINTERS, text_at_top
from creatix.engines.preview.typography import draw_preview_label, draw_typography
from creatix.jobs.specs import ImageSpec

MIN_SIDE = 64
MAX_SIDE = 4096


def render(model: str, spec: ImageSpec, index: int = 0) -> Image.Image:
    """Image ``index`` of ``spec``: an RGB image of exactly ``spec.width x spec.height``."""
    brief = read_brief(model, spec)
    rng = image_rng(prompt_digest(model, spec), spec.seed, index)
    plan = Plan(size=(spec.width, spec.height), text_at_top=text_at_top(brief.scene, rng))
    image = SCENE_PAINTERS[brief.scene](plan, brief, rng)
    image = finish(image, brief, rng)
    draw_typography(image, brief, plan, rng)
    draw_preview_label(image)
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

    async def generate(
        self,
        model: str,
        specs: Sequence[ImageSpec],
        input_images: Sequence[Image.Image | None] | None = None,
    ) -> list[list[Image.Image]]:
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        return await asyncio.to_thread(render_batch, model, specs)

    async def close(self) -> None:
        return None
