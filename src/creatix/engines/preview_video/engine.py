"""The engine: ``render_video`` writes one spec's MP4; ``PreviewVideoEngine`` serves it.

Options (the catalog entry's ``options``; an unknown one is an error):

``crf``
    x264's constant rate factor, 0..51 (lower is better and bigger; default 23).
``preset``
    x264's speed preset, ``ultrafast`` .. ``veryslow`` (default ``veryfast``).
``max_side``
    The largest width or height served (default 1920; at most 4096).
``max_duration_seconds``, ``max_fps``
    The longest clip (default 60 s) and the highest frame rate (default 60) served.
``threads``
    x264's threads; 0 (the default) lets it pick.

A route's ``engine_params`` may set ``crf`` and ``preset`` for its model.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from PIL import Image

from creatix.engines.base import (
    EngineError,
    EngineParams,
    EngineRejected,
    FrameMarker,
    ProgressCallback,
    VideoOutput,
)
from creatix.engines.options import OptionValue, check_known, int_option
from creatix.engines.preview_video.audio import SAMPLE_RATE, Synth, compose
from creatix.engines.preview_video.encode import PRESETS, Mp4Writer
from creatix.engines.preview_video.layers import build_scene
from creatix.engines.preview_video.motion import plan_path
from creatix.engines.preview_video.yuv import YuvFrame, planes
from creatix.jobs.specs import VideoSpec

log = logging.getLogger(__name__)


MIN_SIDE = 64
LARGEST_SIDE = 4096
PROGRESS_STEPS = 10
THUMBNAIL_QUALITY = 85
ROUTE_PARAMS = frozenset({"crf", "preset"})


@dataclass(frozen=True)
class PreviewVideoOptions:
    crf: int = 23
    preset: str = "veryfast"
    max_side: int = 1920
    max_duration_seconds: int = 60
    max_fps: int = 60
    threads: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.crf <= 51:
            raise ValueError(f"crf must be in 0..51; got {self.crf}")
        if self.preset not in PRESETS:
            raise ValueError(f"preset must be one of {', '.join(PRESETS)}; got {self.preset!r}")
        if not MIN_SIDE <= self.max_side <= LARGEST_SIDE:
            raise ValueError(f"max_side must be in {MIN_SIDE}..{LARGEST_SIDE}; got {self.max_side}")
        if self.max_duration_seconds < 1:
            raise ValueError("max_duration_seconds must be at least 1")
        if self.max_fps < 1:
            raise ValueError("max_fps must be at least 1")
        if self.threads < 0:
            raise ValueError("threads must not be negative")

    @classmethod
    def parse(cls, options: Mapping[str, OptionValue]) -> PreviewVideoOptions:
        """The catalog entry's options, checked; an unknown option is an error (a typo)."""
        check_known(options, cls.__dataclass_fields__, "preview_video")
        defaults = cls()
        return cls(
            crf=int_option(options, "crf", defaults.crf),
            preset=str(options.get("preset", defaults.preset)),
            max_side=int_option(options, "max_side", defaults.max_side),
            max_duration_seconds=int_option(
                options, "max_duration_seconds", defaults.max_duration_seconds
            ),
            max_fps=int_option(options, "max_fps", defaults.max_fps),
            threads=int_option(options, "threads", defaults.threads),
        )


class Stopped(Exception):
    """The call was cancelled: the render stopped between frames."""


def render_video(
    spec: VideoSpec,
    source: Image.Image,
    path: Path,
    options: PreviewVideoOptions,
    *,
    progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
    marker: FrameMarker | None = None,
) -> VideoOutput:
    """Write ``spec``'s video of ``source`` to ``path`` (blocking; run it in a thread).

    Frame ``i`` of ``n`` shows the camera path at ``i / (n - 1)``; audio is made in step with
    the frames, so neither the frames nor the track are ever held whole. ``marker`` is drawn
    into each frame's planes just before it is encoded (the thumbnail shows the marked first
    frame). On any failure (or ``stop``) the partial file is removed.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return _render(spec, source, path, options, progress=progress, stop=stop, marker=marker)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _render(
    spec: VideoSpec,
    source: Image.Image,
    path: Path,
    options: PreviewVideoOptions,
    *,
    progress: ProgressCallback | None,
    stop: threading.Event | None,
    marker: FrameMarker | None,
) -> VideoOutput:
    size = (spec.width, spec.height)
    frames = spec.duration_seconds * spec.fps
    scene = build_scene(
        source, size, plan_path(size, spec.seed, spec.movement, spec.duration_seconds)
    )
    has_audio = spec.generate_audio or spec.background_music
    synth = (
        Synth(compose(spec.seed, spec.duration_seconds, music=spec.background_music), spec.seed)
        if has_audio
        else None
    )
    step = max(1, frames // PROGRESS_STEPS)
    thumbnail = b""
    with Mp4Writer(
        path,
        size,
        spec.fps,
        crf=options.crf,
        preset=options.preset,
        audio=has_audio,
        threads=options.threads,
    ) as writer:
        for index in range(frames):
            if stop is not None and stop.is_set():
                raise Stopped
            frame = scene.frame(index / (frames - 1) if frames > 1 else 0.0)
            packed = frame.to_ndarray()
            if marker is not None:
                marker.mark_planes(*planes(packed, size))
            if index == 0:
                thumbnail = jpeg(YuvFrame.from_ndarray(packed, size).to_rgb())
            writer.add_packed(packed)
            if synth is not None:
                writer.add_audio(synth.render_until((index + 1) * SAMPLE_RATE // spec.fps))
            done = index + 1
            if progress is not None and (done % step == 0 or done == frames):
                # The encoder's flush and the file's index are still to come: not quite 1.
                progress(min(0.99, done / frames), step=done, steps=frames)
    if progress is not None:
        progress(1.0, step=frames, steps=frames)
    return VideoOutput(
        path=path,
        thumbnail=thumbnail,
        width=spec.width,
        height=spec.height,
        duration_seconds=frames / spec.fps,
        has_audio=has_audio,
        marked=marker is not None,
    )


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=THUMBNAIL_QUALITY)
    return buffer.getvalue()


class PreviewVideoEngine:
    """Animates an image offline with cheap camera moves: a Ken Burns zoom and pan, with a
    parallax between a sharp near layer and a soft far one, labelled PREVIEW, over a
    synthesized soundtrack when asked. Deterministic from the seed; no model, no network."""

    name = "preview_video"
    max_batch = 1

    def __init__(self, options: PreviewVideoOptions | None = None) -> None:
        self.options = options or PreviewVideoOptions()

    @classmethod
    def from_options(cls, options: Mapping[str, OptionValue]) -> PreviewVideoEngine:
        return cls(PreviewVideoOptions.parse(options))

    def unavailable_reason(self, model: str) -> str | None:
        return None

    def validate(self, model: str, spec: VideoSpec) -> None:
        limit = self.options.max_side
        for side_name, side in (("width", spec.width), ("height", spec.height)):
            if not MIN_SIDE <= side <= limit:
                raise EngineRejected(
                    f"{side_name} {side} is outside {MIN_SIDE}..{limit} pixels", param=side_name
                )
            if side % 2:
                raise EngineRejected(
                    f"{side_name} {side} is odd; H.264 video needs even sides", param=side_name
                )
        if spec.duration_seconds > self.options.max_duration_seconds:
            raise EngineRejected(
                f"duration {spec.duration_seconds} s is longer than "
                f"{self.options.max_duration_seconds} s",
                param="duration_seconds",
            )
        if spec.fps > self.options.max_fps:
            raise EngineRejected(f"fps {spec.fps} is above {self.options.max_fps}", param="fps")

    async def generate_video(
        self,
        model: str,
        spec: VideoSpec,
        source: Image.Image,
        workdir: Path,
        *,
        progress: ProgressCallback | None = None,
        params: EngineParams | None = None,
        marker: FrameMarker | None = None,
    ) -> VideoOutput:
        self.validate(model, spec)
        options = self._with_params(params)
        path = workdir / f"preview-video-{uuid.uuid4().hex}.mp4"
        stop = threading.Event()
        work = asyncio.ensure_future(
            asyncio.to_thread(
                render_video,
                spec,
                source,
                path,
                options,
                progress=progress,
                stop=stop,
                marker=marker,
            )
        )
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError:
            # The thread cannot be interrupted: tell it to stop at the next frame and wait for
            # it, so that the partial file is closed and removed before the call ends.
            stop.set()
            with contextlib.suppress(Exception):
                await work
            raise
        except Exception as error:
            log.exception("preview video failed", extra={"model": model})
            raise EngineError(f"The preview video could not be made: {error}") from error

    def _with_params(self, params: EngineParams | None) -> PreviewVideoOptions:
        """The engine's options with a route's ``crf`` and ``preset``, checked."""
        if not params:
            return self.options
        unknown = sorted(set(params) - ROUTE_PARAMS)
        if unknown:
            raise EngineError(
                f"unknown preview_video engine_params {', '.join(unknown)}; "
                f"known: {', '.join(sorted(ROUTE_PARAMS))}"
            )
        try:
            return replace(
                self.options,
                crf=int_option(params, "crf", self.options.crf),
                preset=str(params.get("preset", self.options.preset)),
            )
        except ValueError as error:
            raise EngineError(f"bad preview_video engine_params: {error}") from error

    async def close(self) -> None:
        return None
