"""The engine protocol.

An engine turns canonical specs into outputs and knows nothing of HTTP, credits, storage or
the database. The worker groups queued jobs whose ``batch_key`` is equal (computed at submit
and stored on the job row) and hands up to ``max_batch`` of them to one ``generate`` call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray
from PIL.Image import Image

from creatix.jobs.specs import ImageSpec, TextResult, TextSpec, VideoSpec

EngineParams = Mapping[str, str | int | float | bool]


class ProgressCallback(Protocol):
    """Told how far a ``generate`` call is: the ``fraction`` (0..1) done so far and, where the
    engine counts them, the ``step`` it reached of its ``steps`` (denoising steps, frames,
    rendering stages), both from 1. May be called from any thread."""

    def __call__(
        self, fraction: float, *, step: int | None = None, steps: int | None = None
    ) -> None: ...


class EngineError(Exception):
    """An engine could not produce its output. ``retryable`` says whether trying the job again
    later may help; ``fallback`` whether another route of the model may serve it now."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "engine_error",
        retryable: bool = False,
        fallback: bool = False,
    ):
        super().__init__(message)
        self.code = code
        self.retryable = retryable
        self.fallback = fallback


class EngineRejected(EngineError):
    """The spec is outside what this engine or model can do; the client should change it."""

    def __init__(self, message: str, *, param: str | None = None):
        super().__init__(message, code="unsupported_parameters", retryable=False)
        self.param = param


@runtime_checkable
class ImageEngine(Protocol):
    name: str
    """The engine's kind, named in listings, response headers and file metadata."""
    max_batch: int
    """Images per call."""

    def batch_key(self, model: str, spec: ImageSpec) -> str:
        """Specs with equal keys may share one ``generate`` call."""
        ...

    def unavailable_reason(self, model: str) -> str | None:
        """Why this engine cannot serve ``model`` now (its weights are missing, say), or None."""
        ...

    def validate(self, model: str, spec: ImageSpec) -> None:
        """Raise ``EngineRejected`` for a spec this engine cannot serve; called at submit."""
        ...

    async def generate(
        self,
        model: str,
        specs: Sequence[ImageSpec],
        input_images: Sequence[Image | None] | None = None,
        progress: ProgressCallback | None = None,
        params: EngineParams | None = None,
    ) -> Sequence[Sequence[Image]]:
        """One list of ``spec.n`` images for each spec, in order.

        ``input_images`` holds, for each spec, the decoded image its ``input_image`` names
        (None where it names none); the worker loads them, engines never touch storage.
        ``progress``, when given, is told how far the call is (per denoising step, say).
        ``params`` are the catalog route's fixed parameters for this model (an upstream
        provider's own request fields, say).
        """
        ...

    async def close(self) -> None: ...


class FrameMarker(Protocol):
    """The marks the job core gives every frame of a video (the catalog's visible mark, the
    invisible mark), built by the worker. An engine that encodes frames itself draws it into
    each frame just before encoding it, so the video is encoded once; one video at a time."""

    def mark_planes(
        self, luma: NDArray[np.uint8], blue: NDArray[np.uint8], red: NDArray[np.uint8]
    ) -> None:
        """Draw into one frame's 4:2:0 planes as H.264 takes them (Y' at full size, Cb and
        Cr at half; BT.709, limited range): 2-D uint8 arrays, written in place."""
        ...


@dataclass(frozen=True)
class VideoOutput:
    """A video an engine wrote: the MP4 file (in the work directory it was given; the worker
    streams it to storage and removes it) and a JPEG thumbnail of its first frame."""

    path: Path
    thumbnail: bytes
    width: int
    height: int
    duration_seconds: float
    has_audio: bool
    marked: bool = False
    """Whether every frame (and the thumbnail) carries the ``FrameMarker`` the engine was
    given: True only from an engine that drew it before its encode. The worker marks a video
    that is not (decoding and encoding it again) and never marks one that is."""


@runtime_checkable
class VideoEngine(Protocol):
    """Animates an image into a video."""

    name: str

    def unavailable_reason(self, model: str) -> str | None: ...

    def validate(self, model: str, spec: VideoSpec) -> None:
        """Raise ``EngineRejected`` for a spec this engine cannot serve; called at submit."""
        ...

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
        """A video of ``spec`` starting from ``source`` (decoded by the worker), written
        under ``workdir`` (never held whole in memory). An engine that encodes the frames
        itself draws ``marker`` into each before encoding it and says so
        (``VideoOutput.marked``); one that gets a finished video (an upstream provider)
        ignores it."""
        ...

    async def close(self) -> None: ...


@runtime_checkable
class TextEngine(Protocol):
    """Answers conversations. An engine instance may be an ``ImageEngine`` too (an upstream
    provider that does both); the worker runs text jobs one per call."""

    name: str

    def unavailable_reason(self, model: str) -> str | None: ...

    async def generate_text(
        self, model: str, spec: TextSpec, params: EngineParams | None = None
    ) -> TextResult:
        """The answer to ``spec.messages``, honouring ``spec.config`` where the engine can.
        With ``response_mime_type: application/json`` and a schema, the engine should aim at
        an instance of it (the job core checks, and asks once more if it is not)."""
        ...

    async def close(self) -> None: ...


class PullError(Exception):
    """Weights could not be fetched; the message says why and what to do, in a user's words."""


@runtime_checkable
class PullsWeights(Protocol):
    """An engine whose models' weights live on disk and can be fetched ahead of serving."""

    def pull(self, model: str) -> Path:
        """Fetch ``model``'s weights to where this engine finds them, and return that folder.

        Raises ``PullError`` with a message for a person when they cannot be fetched.
        """
        ...
