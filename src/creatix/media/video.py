"""The marks of a video's frames (the visible mark of the catalog's policy, the invisible
mark), drawn into the frames' Y'CbCr planes, and marking a finished video whatever engine
made it.

``FrameMarks`` is what the worker hands an engine that encodes frames itself (the preview
video engine, the diffusers pipelines): the engine draws it into each frame before its one
encode. A video that comes finished (an upstream provider's download) goes through
``mark_video``: every frame decoded, marked and encoded again as H.264 (libx264, yuv420p),
an audio stream copied untouched.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction
from itertools import islice
from pathlib import Path
from typing import Protocol

import av
import numpy as np
from av.video.codeccontext import VideoCodecContext
from numpy.typing import NDArray
from PIL import Image

from creatix.catalog.schemas import VisibleMarkStyle
from creatix.media.watermark import watermark_overlay

CRF = 18
"""Close to visually lossless: the engine's encoding already cost what it cost."""
PRESET = "veryfast"
THUMBNAIL_QUALITY = 85

Plane = NDArray[np.uint8]

# BT.709 Y'CbCr, limited range: Y' 16..235, Cb and Cr 16..240 around 128.
_LUMA = np.array([0.2126, 0.7152, 0.0722])
_BLUE = np.array([-0.2126, -0.7152, 0.9278]) / 1.8556
_RED = np.array([0.7874, -0.7152, -0.0722]) / 1.5748
_LUMA_RANGE = 219 / 255
_CHROMA_RANGE = 224 / 255


class LumaMark(Protocol):
    """A mark drawn into a frame's Y' plane alone (the invisible mark:
    ``provenance.mark.VideoMark``)."""

    def mark_luma(self, luma: Plane) -> None: ...


class YuvPlate:
    """The visible mark of ``style`` for frames of one size, as it blends into 4:2:0 planes:
    the same plate ``watermark.mark_in_place`` composites in RGB (blending is linear, so it
    is the same in Y'CbCr), over a box widened to even pixels so that chroma samples line up.
    Made once per video; per frame it touches the box alone, in integers."""

    def __init__(self, width: int, height: int, style: VisibleMarkStyle) -> None:
        (left, top, right, bottom), overlay = watermark_overlay(width, height, style)
        self.left, self.top = left - left % 2, top - top % 2
        self.right, self.bottom = min(width, right + right % 2), min(height, bottom + bottom % 2)
        canvas = Image.new("RGBA", (self.right - self.left, self.bottom - self.top))
        canvas.paste(overlay, (left - self.left, top - self.top))
        pixels = np.asarray(canvas, dtype=np.float64)
        alpha = pixels[..., 3] / 255
        rgb = pixels[..., :3]
        luma = 16 + (rgb @ _LUMA) * _LUMA_RANGE
        self._luma = _blend(alpha, alpha * luma)
        quarter = _halved(alpha)
        self._blue = _blend(quarter, _halved(alpha * (128 + (rgb @ _BLUE) * _CHROMA_RANGE)))
        self._red = _blend(quarter, _halved(alpha * (128 + (rgb @ _RED) * _CHROMA_RANGE)))

    def draw(self, luma: Plane, blue: Plane, red: Plane) -> None:
        _apply(luma[self.top : self.bottom, self.left : self.right], self._luma)
        rows = slice(self.top // 2, (self.bottom + 1) // 2)
        cols = slice(self.left // 2, (self.right + 1) // 2)
        _apply(blue[rows, cols], self._blue)
        _apply(red[rows, cols], self._red)


def _halved(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """Means of 2x2 blocks (a last odd row or column is its own block)."""
    rows, cols = values.shape
    padded = np.pad(values, ((0, rows % 2), (0, cols % 2)), mode="edge")
    halved: NDArray[np.float64] = padded.reshape(
        padded.shape[0] // 2, 2, padded.shape[1] // 2, 2
    ).mean(axis=(1, 3))
    return halved


def _blend(alpha: NDArray[np.float64], premultiplied: NDArray[np.float64]) -> NDArray[np.int32]:
    """Keep (in 255ths) and the premultiplied colour (times 255), stacked."""
    keep = np.rint((1 - alpha) * 255)
    add = np.rint(premultiplied * 255) + 127
    return np.stack([keep, add]).astype(np.int32)


def _apply(region: Plane, blend: NDArray[np.int32]) -> None:
    keep, add = blend[0], blend[1]
    region[...] = (region.astype(np.int32) * keep + add) // 255


class FrameMarks:
    """The marks the job core gives every frame of one video: the visible mark of the
    catalog's policy (None: none) and the invisible mark (None: none). Drawn in that order,
    as on an image. What depends on the frame size alone is made on the first frame; one
    video at a time (not thread-safe)."""

    def __init__(self, visible: VisibleMarkStyle | None, invisible: LumaMark | None) -> None:
        self.visible = visible
        self.invisible = invisible
        self._plate: YuvPlate | None = None
        self._plate_size: tuple[int, int] | None = None

    def mark_planes(self, luma: Plane, blue: Plane, red: Plane) -> None:
        """Draw the marks into one 4:2:0 frame's planes (BT.709, limited range), in place."""
        if self.visible is not None:
            height, width = luma.shape
            if self._plate is None or self._plate_size != (width, height):
                self._plate = YuvPlate(width, height, self.visible)
                self._plate_size = (width, height)
            self._plate.draw(luma, blue, red)
        if self.invisible is not None:
            self.invisible.mark_luma(luma)


def packed_planes(packed: Plane, width: int, height: int) -> tuple[Plane, Plane, Plane]:
    """Views of the Y', Cb and Cr planes of a packed yuv420p array (PyAV's ``to_ndarray``
    shape: ``height * 3 / 2`` rows of ``width``; both sides even)."""
    flat = packed.reshape(-1)
    luma = width * height
    quarter = luma // 4
    return (
        flat[:luma].reshape(height, width),
        flat[luma : luma + quarter].reshape(height // 2, width // 2),
        flat[luma + quarter : luma + 2 * quarter].reshape(height // 2, width // 2),
    )


def frame_planes(frame: av.VideoFrame) -> tuple[Plane, Plane, Plane]:
    """Writable views of a yuv420p frame's own planes (without their row padding)."""
    views = []
    for plane in frame.planes:
        data = np.frombuffer(memoryview(plane), dtype=np.uint8).reshape(-1, plane.line_size)
        views.append(data[: plane.height, : plane.width])
    luma, blue, red = views
    return luma, blue, red


@dataclass(frozen=True)
class MarkedVideo:
    frames: int
    thumbnail: bytes
    """A JPEG of the first marked frame."""


def mark_video(source: Path, target: Path, marker: FrameMarks) -> MarkedVideo:
    """Write ``source`` to ``target`` with ``marker`` drawn into every frame (blocking: run
    it in a thread). The frame rate, size, timestamps, colour range and tags are kept (the
    frames are marked in Y'CbCr, never converted to RGB); audio is copied. On any failure the
    partial ``target`` is removed."""
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
            _copy_colour_tags(video_in.codec_context, video_out.codec_context)
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
                    frame = _own_yuv420(decoded)
                    marker.mark_planes(*frame_planes(frame))
                    if frames == 0:
                        thumbnail = _jpeg(Image.fromarray(frame.to_ndarray(format="rgb24")))
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


def _own_yuv420(decoded: av.VideoFrame) -> av.VideoFrame:
    """A yuv420p copy of a decoded frame that is the caller's to write into (the decoder's
    own buffers may still serve as references for frames to come)."""
    # The same range out as in (a full-range yuvj420p source stays full range, as its tags
    # say): only the layout changes, never the levels.
    converted = decoded.reformat(
        format="yuv420p",
        src_color_range=decoded.color_range,
        dst_color_range=decoded.color_range,
    )
    frame = av.VideoFrame(decoded.width, decoded.height, "yuv420p")
    for mine, theirs in zip(frame_planes(frame), frame_planes(converted), strict=True):
        mine[...] = theirs
    frame.pts = decoded.pts
    frame.time_base = decoded.time_base
    frame.colorspace = decoded.colorspace
    frame.color_range = decoded.color_range
    return frame


def _copy_colour_tags(reading: VideoCodecContext, writing: VideoCodecContext) -> None:
    """The source's colour tags, as they are (unspecified stays unspecified): the marked
    frames keep the source's Y'CbCr levels, so a player must read them as it read the
    source's (the engines' videos say BT.709, limited range)."""
    writing.colorspace = reading.colorspace
    writing.color_primaries = reading.color_primaries
    writing.color_trc = reading.color_trc
    writing.color_range = reading.color_range


def _jpeg(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=THUMBNAIL_QUALITY)
    return buffer.getvalue()


def sampled_frames(source: Path, count: int) -> list[Image.Image]:
    """``count`` frames spread evenly over the video (its first and last among them), as RGB
    pictures: what the content policy checks of a video (blocking: run it in a thread)."""
    with av.open(str(source)) as container:
        frames = spread_frames(container, container.streams.video[0], count)
        return [Image.fromarray(frame.to_ndarray(format="rgb24")) for frame in frames]


def spread_frames(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    count: int,
    *,
    scan_limit: int | None = None,
) -> list[av.VideoFrame]:
    """``count`` frames spread evenly from the first to the last of the stream, or of its
    first ``scan_limit`` frames (a file from outside: what it decodes stays bounded; a frame
    count the container overstates costs only decoding)."""
    total = stream.frames or 0
    if scan_limit is not None:
        total = min(total or scan_limit, scan_limit)
    elif total <= 0:  # the container does not say: count by decoding
        total = sum(1 for _ in container.decode(stream))
        container.seek(0)
    wanted = {round(i * (total - 1) / max(count - 1, 1)) for i in range(count)} if total else set()
    decoded = enumerate(islice(container.decode(stream), total))
    return [frame for index, frame in decoded if index in wanted]
