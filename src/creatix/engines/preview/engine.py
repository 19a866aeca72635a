"""The engine: ``render`` paints one image of a spec; ``PreviewEngine`` serves batches."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from PIL import Image

from creatix.engines.base import EngineError, EngineParams, EngineRejected, ProgressCallback
from creatix.engines.preview.brief import image_rng, prompt_digest, read_brief
from creatix.engines.preview.input import card_area, compose_input, prepare_input
from creatix.engines.preview.paint import Plan, finish
from creatix.engines.preview.scenes import SCENE_PAINTERS, text_at_top
from creatix.engines.preview.typography import draw_preview_label, draw_typography
from creatix.jobs.specs import ImageSpec
from creatix.kit.ids import new_id

MIN_SIDE = 64
MAX_SIDE = 8192
DELAY_TICKS = 10
SHARED_BATCH_PIXELS = 4 * 1024 * 1024
"""A job of at most this many pixels (n x width x height: four 1024x1024 images, one
2048x2048) shares its model's batch; a larger one is claimed alone. A batch's images are all
in memory at once, so a batch holds at most ``max_batch`` x 4 MP (about 130 MB in Pillow's
4 bytes a pixel), or one large job (four 8192x8192 images: 1 GB)."""


def render(
    model: str, spec: ImageSpec, index: int = 0, input_image: Image.Image | None = None
) -> Image.Image:
    """Image ``index`` of ``spec``: an RGB image of exactly ``spec.width x spec.height``.

    ``input_image`` (from ``prepare_input``) is drawn into the picture on a framed card.
    """
    brief = read_brief(model, spec)
    rng = image_rng(prompt_digest(model, spec), spec.seed, index)
    plan = Plan(size=(spec.width, spec.height), text_at_top=text_at_top(brief.scene, rng))
    image = SCENE_PAINTERS[brief.scene](plan, brief, rng)
    image = finish(image, brief, rng)
    if input_image is not None:
        compose_input(image, input_image, card_area(plan.size, brief, plan), brief)
    draw_typography(image, brief, plan, rng)
    draw_preview_label(image)
    return image


def render_batch(
    model: str,
    specs: Sequence[ImageSpec],
    input_images: Sequence[Image.Image | None] | None = None,
    progress: ProgressCallback | None = None,
    *,
    steps_before: int = 0,
) -> list[list[Image.Image]]:
    """Each spec's images. ``progress`` is told of each image painted, as one step of the
    ``steps_before`` (the delay's ticks, already reported) and the batch's images."""
    sources = list(input_images) if input_images is not None else [None] * len(specs)
    if len(sources) != len(specs):
        raise EngineError(f"{len(sources)} input images were given for {len(specs)} specs.")
    steps = steps_before + sum(spec.n for spec in specs)
    step = steps_before
    batch = []
    for spec, source in zip(specs, sources, strict=True):
        # The card is never larger than the picture: reduce a big input once, not per image.
        bound = max(spec.width, spec.height)
        prepared = prepare_input(source, bound) if source is not None else None
        images = []
        for i in range(spec.n):
            images.append(render(model, spec, i, prepared))
            step += 1
            if progress is not None:
                progress(step / steps, step=step, steps=steps)
        batch.append(images)
    return batch


class PreviewEngine:
    """Built in, offline, deterministic and fast; the engine of fresh installs and CI."""

    name = "preview"
    max_batch = 8

    def __init__(self, delay_seconds: float = 0.0) -> None:
        if delay_seconds < 0:
            raise ValueError("delay_seconds must not be negative")
        self.delay_seconds = delay_seconds

    def batch_key(self, model: str, spec: ImageSpec) -> str:
        if spec.n * spec.width * spec.height > SHARED_BATCH_PIXELS:
            return f"preview:{model}:{new_id('alone')}"
        return f"preview:{model}"

    def unavailable_reason(self, model: str) -> str | None:
        return None

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
        progress: ProgressCallback | None = None,
        params: EngineParams | None = None,
    ) -> list[list[Image.Image]]:
        ticks = DELAY_TICKS if self.delay_seconds else 0
        if ticks:
            await self._wait(progress, ticks + sum(spec.n for spec in specs))
        return await asyncio.to_thread(
            render_batch, model, specs, input_images, progress, steps_before=ticks
        )

    async def _wait(self, progress: ProgressCallback | None, steps: int) -> None:
        """The configured delay, in ticks that report progress as a real engine's steps do:
        the first ``DELAY_TICKS`` of ``steps`` (painting each image is one of the rest)."""
        for tick in range(1, DELAY_TICKS + 1):
            await asyncio.sleep(self.delay_seconds / DELAY_TICKS)
            if progress is not None:
                progress(tick / steps, step=tick, steps=steps)

    async def close(self) -> None:
        return None
