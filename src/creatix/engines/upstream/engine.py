"""``UpstreamEngine``: an ``ImageEngine`` whose pictures an upstream provider makes, a
``TextEngine`` whose answers it writes when the provider can chat (``text.TextProvider``), and
a ``VideoEngine`` whose videos it makes when the provider animates images
(``video.VideoProvider``).

A provider module (``openai.py``, ``fal.py``, ``replicate.py``, ``gemini.py``) speaks one
provider's protocol and hands back encoded image files; this module checks them, fits them to
the asked size, and keeps everything else (HTTP, retries, errors) in ``http.py``.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from PIL import Image as PILImage
from PIL import ImageOps, UnidentifiedImageError
from PIL.Image import Image

from creatix.engines.base import (
    EngineError,
    EngineParams,
    EngineRejected,
    FrameMarker,
    ProgressCallback,
    VideoOutput,
)
from creatix.engines.upstream.errors import ProviderOutage
from creatix.engines.upstream.text import TextProvider, chat_request
from creatix.engines.upstream.video import VideoProvider, VideoRequest, fetch_video
from creatix.jobs.specs import ImageSpec, TextResult, TextSpec, VideoSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImageRequest:
    """One spec, as a provider module gets it."""

    model: str
    """The provider's own model name (the route's ``engine_model``)."""
    spec: ImageSpec
    input_image: bytes | None = None
    """The reference image, as PNG."""
    params: EngineParams = field(default_factory=dict)
    """The catalog route's fixed fields for this provider, sent as they are (they win over
    what the provider module derives from the spec)."""
    progress: ProgressCallback | None = None


class ImageProvider(Protocol):
    name: str
    """The provider's kind: ``openai``, ``fal``, ``replicate``, ``gemini``."""

    def unavailable_reason(self) -> str | None:
        """Why no call can be made (no key configured), or None."""
        ...

    async def images(self, request: ImageRequest) -> list[bytes]:
        """``request.spec.n`` encoded images (PNG, JPEG or WebP)."""
        ...

    async def close(self) -> None: ...


class UpstreamEngine:
    """Each spec is one provider call (one job per ``generate``: a provider failure fails only
    its own job); the worker runs as many at once as the engine's ``concurrency``."""

    max_batch = 1

    def __init__(self, provider: ImageProvider, *, concurrency: int = 16) -> None:
        self.provider = provider
        self.name = provider.name
        self.concurrency = concurrency

    def batch_key(self, model: str, spec: ImageSpec) -> str:
        return f"{self.name}:{model}"

    def unavailable_reason(self, model: str) -> str | None:
        return self.provider.unavailable_reason()

    def validate(self, model: str, spec: ImageSpec | VideoSpec) -> None:
        """Only the model name: what a provider's model takes is the provider's to say."""
        if not model:
            raise EngineRejected("This model names no provider model.", param="model")

    async def generate(
        self,
        model: str,
        specs: Sequence[ImageSpec],
        input_images: Sequence[Image | None] | None = None,
        progress: ProgressCallback | None = None,
        params: EngineParams | None = None,
    ) -> list[list[Image]]:
        sources = list(input_images) if input_images is not None else [None] * len(specs)
        outputs = []
        for spec, source in zip(specs, sources, strict=True):
            reference = await asyncio.to_thread(_png, source) if source is not None else None
            request = ImageRequest(
                model=model,
                spec=spec,
                input_image=reference,
                params=dict(params or {}),
                progress=progress,
            )
            files = await self.provider.images(request)
            outputs.append(await asyncio.to_thread(_fitted_images, files, spec))
        return outputs

    async def generate_text(
        self, model: str, spec: TextSpec, params: EngineParams | None = None
    ) -> TextResult:
        """One provider chat call; a provider that cannot chat (fal, Replicate) has no text
        models. Token counts the provider does not report are 0."""
        if not isinstance(self.provider, TextProvider):
            raise EngineError("This provider has no text models.", code="unsupported_model")
        result = await self.provider.chat(chat_request(model, spec, params))
        return TextResult(
            text=result.text,
            input_tokens=result.input_tokens or 0,
            output_tokens=result.output_tokens or 0,
        )

    async def generate_video(
        self,
        model: str,
        spec: VideoSpec,
        source: Image,
        workdir: Path,
        *,
        progress: ProgressCallback | None = None,
        params: EngineParams | None = None,
        marker: FrameMarker | None = None,
    ) -> VideoOutput:
        """One provider video call; its MP4 streamed into ``workdir`` and probed
        (``video.fetch_video``: kept at the size the provider made it). A provider that does
        not animate images (OpenAI, Gemini) has no video models. The video comes finished:
        ``marker`` is not drawn here (the worker marks the frames after)."""
        if not isinstance(self.provider, VideoProvider):
            raise EngineError("This provider has no video models.", code="unsupported_model")
        request = VideoRequest(
            model=model,
            spec=spec,
            source=await asyncio.to_thread(_png, source),
            params=dict(params or {}),
            progress=progress,
        )
        url = await self.provider.videos(request)
        return await fetch_video(self.provider, url, workdir)

    async def close(self) -> None:
        await self.provider.close()


def _png(image: Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _fitted_images(files: Sequence[bytes], spec: ImageSpec) -> list[Image]:
    if len(files) < spec.n:
        raise ProviderOutage(
            f"The model's provider returned {len(files)} images where {spec.n} were asked."
        )
    return [_fitted(data, spec.width, spec.height) for data in files[: spec.n]]


def _fitted(data: bytes, width: int, height: int) -> Image:
    """The provider's image at exactly the asked size: providers render a few fixed shapes,
    so it is scaled to cover the asked size and centre-cropped."""
    try:
        with PILImage.open(io.BytesIO(data)) as opened:
            image = opened.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        log.warning("provider returned an unreadable image", extra={"bytes": len(data)})
        raise ProviderOutage("The model's provider returned an unreadable image.") from exc
    if image.size == (width, height):
        return image
    return ImageOps.fit(image, (width, height), PILImage.Resampling.LANCZOS)
