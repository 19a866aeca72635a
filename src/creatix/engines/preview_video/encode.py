"""Writing the MP4 with PyAV: H.264 (libx264, yuv420p, BT.709 limited range, as the frames are
drawn) and, optionally, AAC stereo.

Frames go to the encoder as they are made and packets to the file as the encoder gives them;
x264 runs its own threads (which do not hold the GIL). The file is written with ``faststart``
(the index first), so a player can start it before it has it all.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np
from av.audio.stream import AudioStream
from av.container import OutputContainer
from av.video.reformatter import ColorPrimaries, ColorRange, Colorspace, ColorTrc
from av.video.stream import VideoStream
from numpy.typing import NDArray

from creatix.engines.preview_video.audio import CHANNELS, SAMPLE_RATE
from creatix.engines.preview_video.yuv import YuvFrame

AUDIO_BIT_RATE = 128_000
PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
)


class Mp4Writer:
    """An MP4 file being written: ``add_frame`` and ``add_audio`` in any interleaving (each
    stream's own order), then ``close`` (or ``abort``, which leaves a file to delete)."""

    def __init__(
        self,
        path: Path,
        size: tuple[int, int],
        fps: int,
        *,
        crf: int,
        preset: str,
        audio: bool,
        threads: int = 0,
    ) -> None:
        self.path = path
        self.fps = fps
        self.frames = 0
        self.samples = 0
        self._container: OutputContainer = av.open(
            str(path), mode="w", format="mp4", options={"movflags": "+faststart"}
        )
        try:
            self._video = self._add_video(size, fps, crf, preset, threads)
            self._audio = self._add_audio() if audio else None
        except BaseException:
            self._container.close()
            raise

    def _add_video(
        self, size: tuple[int, int], fps: int, crf: int, preset: str, threads: int
    ) -> VideoStream:
        stream = self._container.add_stream(
            "libx264", rate=fps, options={"crf": str(crf), "preset": preset}
        )
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        context = stream.codec_context
        context.thread_count = threads  # 0: x264 picks (one per core, and lookahead)
        context.colorspace = int(Colorspace.ITU709)
        context.color_primaries = int(ColorPrimaries.BT709)
        context.color_trc = int(ColorTrc.BT709)
        context.color_range = int(ColorRange.MPEG)
        return stream

    def _add_audio(self) -> AudioStream:
        stream = self._container.add_stream("aac", rate=SAMPLE_RATE)
        stream.layout = "stereo"
        stream.bit_rate = AUDIO_BIT_RATE
        return stream

    def add_frame(self, picture: YuvFrame) -> None:
        """The next video frame, of the stream's size."""
        self.add_packed(picture.to_ndarray())

    def add_packed(self, packed: NDArray[np.uint8]) -> None:
        """The next video frame as a packed yuv420p array (``YuvFrame.to_ndarray``'s shape)."""
        frame = av.VideoFrame.from_ndarray(packed, format="yuv420p")
        frame.pts = self.frames
        frame.time_base = Fraction(1, self.fps)
        self.frames += 1
        self._container.mux(self._video.encode(frame))

    def add_audio(self, samples: np.ndarray) -> None:
        """The next samples: a (2, n) float32 array in -1..1 at ``SAMPLE_RATE``."""
        if self._audio is None:
            raise RuntimeError("this file has no audio stream")
        if samples.shape[1] == 0:
            return
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples, dtype=np.float32).reshape(CHANNELS, -1),
            format="fltp",
            layout="stereo",
        )
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self.samples
        frame.time_base = Fraction(1, SAMPLE_RATE)
        self.samples += samples.shape[1]
        self._container.mux(self._audio.encode(frame))

    def close(self) -> None:
        """Flush the encoders and finish the file."""
        try:
            self._container.mux(self._video.encode(None))
            if self._audio is not None:
                self._container.mux(self._audio.encode(None))
        finally:
            self._container.close()

    def abort(self) -> None:
        """Stop without flushing; the (incomplete) file is the caller's to remove."""
        self._container.close()

    def __enter__(self) -> Mp4Writer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()
