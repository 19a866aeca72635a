"""Marking a finished video, whatever engine made it: every frame is decoded, handed to a
marker (the visible mark of the catalog's policy, the invisible mark), and encoded again as
H.264 (libx264, yuv420p, BT.709); an audio stream is copied untouched.

It runs after the engine, on the MP4 the engine wrote (the preview engine's, the diffusers
pipelines', an upstream provider's download), so every video follows one policy.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import ColorPrimaries, ColorRange, Colorspace, ColorTrc
from PIL import Image

CRF = 18
"""Close to visually lossless: the engine's encoding already cost what it cost."""
PRESET = "veryfast"
THUMBNAIL_QUALITY = 85

FrameMarker = Callable[[Image.Image], None]
"""Draws into an RGB frame in place."""


@dataclass(frozen=True)
class MarkedVideo:
    frames: int
    thumbnail: bytes
    """A JPEG of the first marked frame."""


def mark_video(source: Path, target: Path, marker: FrameMarker) -> MarkedVideo:
    """Write ``source`` to ``target`` with ``marker`` applied to every frame (blocking: run
    it in a thread). The frame rate, size and timestamps are kept; audio is copied. On any
    failure the partial ``target`` is removed."""
    thumbnail = b""
    frames = 0
    try:
        with (
            av.open(str(source)) as reading,
            av.open(
                str(target), mode="w", format="mp4", options={"movflags": "+faststart"}
            ) as writing,
        ):
            video_in = reading.streams.video[0]
            rate = video_in.average_rate or video_in.guessed_rate or Fraction(24)
            video_out = writing.add_stream(
                "libx264", rate=rate, options={"crf": str(CRF), "preset": PRESET}
            )
            video_out.width = video_in.codec_context.width
            video_out.height = video_in.codec_context.height
            video_out.pix_fmt = "yuv420p"
            context = video_out.codec_context
            context.colorspace = int(Colorspace.ITU709)
            context.color_primaries = int(ColorPrimaries.BT709)
            context.color_trc = int(ColorTrc.BT709)
            context.color_range = int(ColorRange.MPEG)
            audio_in = reading.streams.audio[0] if reading.streams.audio else None
            audio_out = writing.add_stream_from_template(audio_in) if audio_in else None
            streams = [video_in, *([audio_in] if audio_in is not None else [])]
            for packet in reading.demux(*streams):
                if packet.stream is audio_in and audio_out is not None:
                    if packet.dts is None:
                        continue
                    packet.stream = audio_out
                    writing.mux(packet)
                    continue
                for decoded in packet.decode():
                    if not isinstance(decoded, av.VideoFrame):
                        continue
                    picture = Image.fromarray(decoded.to_ndarray(format="rgb24"))
                    marker(picture)
                    if frames == 0:
                        thumbnail = _jpeg(picture)
                    frame = av.VideoFrame.from_ndarray(np.asarray(picture), format="rgb24")
                    frame.pts = decoded.pts
                    frame.time_base = decoded.time_base
                    writing.mux(video_out.encode(frame))
                    frames += 1
            writing.mux(video_out.encode(None))
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    if frames == 0:
        target.unlink(missing_ok=True)
        raise ValueError(f"{source.name} has no video frames")
    return MarkedVideo(frames=frames, thumbnail=thumbnail)


def _jpeg(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=THUMBNAIL_QUALITY)
    return buffer.getvalue()


def sampled_frames(source: Path, count: int) -> list[Image.Image]:
    """``count`` frames spread evenly over the video (its first and last among them), as RGB
    pictures: what the content policy checks of a video (blocking: run it in a thread)."""
    with av.open(str(source)) as container:
        stream = container.streams.video[0]
        total = stream.frames or 0
        if total <= 0:  # the container does not say: count by decoding
            total = sum(1 for _ in container.decode(stream))
            container.seek(0)
        wanted = (
            {round(i * (total - 1) / max(count - 1, 1)) for i in range(count)} if total else set()
        )
        return [
            Image.fromarray(frame.to_ndarray(format="rgb24"))
            for index, frame in enumerate(container.decode(stream))
            if index in wanted
        ]
