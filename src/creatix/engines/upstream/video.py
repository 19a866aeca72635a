"""Image-to-video through upstream providers: what a provider module implements
(``VideoProvider``), and what every provider's video goes through after it (``fetch_video``).

A provider module turns one ``VideoRequest`` into the URL of an MP4 its model made (or a
``data:`` URI of one). The file is then streamed into the job's work directory through the
provider's own HTTP client (its retries, and its rule that only the provider's host sees the
key), probed with PyAV, and its first frame becomes the thumbnail.

Providers render a few fixed shapes (Kling: 16:9, 9:16, 1:1) at their own resolutions, so a
provider's video may not have the asked width and height. It is kept as it is, and the
``VideoOutput`` reports its real size: re-encoding a provider's video to fit is not done (it
would cost a decode and an encode of every frame, and lose quality, for a size the provider's
model did not make).
"""

from __future__ import annotations

import asyncio
import io
import logging
import uuid
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import av
from av.container import InputContainer
from av.video.stream import VideoStream
from PIL import Image

from creatix.engines.base import EngineParams, ProgressCallback, VideoOutput
from creatix.engines.upstream.errors import ProviderOutage
from creatix.jobs.specs import VideoSpec

log = logging.getLogger(__name__)

THUMBNAIL_QUALITY = 85
AspectRatio = Literal["16:9", "9:16", "1:1"]


@dataclass(frozen=True)
class VideoRequest:
    """One video to make, as a provider module gets it."""

    model: str
    """The provider's own model name (the route's ``engine_model``)."""
    spec: VideoSpec
    source: bytes
    """The image to animate, as PNG."""
    params: EngineParams = field(default_factory=dict)
    """The catalog route's fixed fields for this provider, sent as they are (they win over
    what the provider module derives from the spec)."""
    progress: ProgressCallback | None = None


@runtime_checkable
class VideoProvider(Protocol):
    """A provider with image-to-video models (``fal``, ``replicate``)."""

    name: str

    def unavailable_reason(self) -> str | None: ...

    async def videos(self, request: VideoRequest) -> str:
        """The URL (or ``data:`` URI) of the MP4 the provider's model made of ``request``."""
        ...

    async def download_to(self, url: str, path: Path) -> int:
        """The file at a URL ``videos`` gave, streamed to ``path`` through the provider's
        HTTP client (``ProviderHttp.download_to``); its size in bytes."""
        ...

    async def close(self) -> None: ...


def aspect_ratio(width: int, height: int) -> AspectRatio:
    """The provider shape nearest ``width``×``height``: 16:9 from 4:3 up, 9:16 from 3:4 down,
    1:1 between (4:3 is as near 16:9 as 1:1; a landscape stays a landscape)."""
    ratio = Fraction(width, height)
    if ratio >= Fraction(4, 3):
        return "16:9"
    if ratio <= Fraction(3, 4):
        return "9:16"
    return "1:1"


async def fetch_video(provider: VideoProvider, url: str, workdir: Path) -> VideoOutput:
    """The provider's video at ``url``, streamed into ``workdir`` and probed; a file that does
    not decode is a ``ProviderOutage`` (another route may serve)."""
    path = workdir / f"{provider.name}-video-{uuid.uuid4().hex}.mp4"
    size = await provider.download_to(url, path)
    try:
        return await asyncio.to_thread(probe_video, path)
    except ProviderOutage:
        log.warning(
            "provider returned an unreadable video",
            extra={"provider": provider.name, "bytes": size},
        )
        await asyncio.to_thread(path.unlink, True)
        raise


def probe_video(path: Path) -> VideoOutput:
    """``path``'s size, duration and audio, and a JPEG of its first frame (blocking)."""
    try:
        container = av.open(str(path), mode="r")
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise _unreadable() from exc
    try:
        return _probed(path, container)
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise _unreadable() from exc
    finally:
        container.close()


def _probed(path: Path, container: InputContainer) -> VideoOutput:
    if not container.streams.video:
        raise _unreadable()
    stream = container.streams.video[0]
    first = next(container.decode(stream), None)
    if first is None:
        raise _unreadable()
    buffer = io.BytesIO()
    picture = Image.fromarray(first.to_ndarray(format="rgb24"))
    picture.save(buffer, "JPEG", quality=THUMBNAIL_QUALITY)
    return VideoOutput(
        path=path,
        thumbnail=buffer.getvalue(),
        width=first.width,
        height=first.height,
        duration_seconds=_duration(container, stream),
        has_audio=bool(container.streams.audio),
    )


def _duration(container: InputContainer, stream: VideoStream) -> float:
    """The video stream's duration; else the file's; else its frames at its rate; else 0."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    rate = stream.average_rate
    if stream.frames and rate:
        return float(stream.frames / rate)
    return 0.0


def _unreadable() -> ProviderOutage:
    return ProviderOutage("The model's provider returned an unreadable video.")
