"""The invisible mark for video frames (``mark.VideoMark``): drawn into Y' alone at the image
mark's strength, read by the image detector, and still read after the engine's own encode and
a re-encode at 500 kbit/s."""

from __future__ import annotations

import io
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from creatix.engines.preview_video.engine import PreviewVideoOptions, render_video
from creatix.engines.preview_video.yuv import YuvFrame, chroma_planes, half, luma_plane
from creatix.jobs.specs import VideoSpec
from creatix.media.video import FrameMarks
from creatix.provenance import mark
from creatix.provenance.credentials import development_identity
from creatix.provenance.mark import VideoMark
from creatix.provenance.verify import inspect_file
from mark_samples import preview, synthetic

PAYLOAD = bytes.fromhex("c0ffee0123456789")


def _planes(picture: Image.Image) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    size = picture.size
    frame = YuvFrame(luma_plane(picture), *chroma_planes(picture, half(size)))
    return tuple(np.array(plane) for plane in (frame.y, frame.u, frame.v))  # type: ignore[return-value]


@pytest.mark.parametrize("make", [preview, synthetic])
@pytest.mark.parametrize("size", [(1280, 720), (640, 360), (322, 182)])
def test_a_frame_is_marked_in_luma_alone_and_read_as_an_image(
    make: Callable[[int, int, int], Image.Image], size: tuple[int, int]
) -> None:
    picture = make(3, *size)
    y, u, v = _planes(picture)
    before = [plane.copy() for plane in (y, u, v)]
    FrameMarks(None, VideoMark(PAYLOAD)).mark_planes(y, u, v)
    assert np.array_equal(u, before[1])
    assert np.array_equal(v, before[2])
    change = y.astype(np.float64) - before[0]
    expected = mark.STRENGTH * mark.LIMITED_LUMA
    assert 0.8 * expected < change.std() < 1.2 * expected, change.std()
    assert abs(change.mean()) < 0.1
    shown = YuvFrame(*(Image.fromarray(plane) for plane in (y, u, v))).to_rgb()
    assert mark.detect(shown) == PAYLOAD
    assert mark.detect(picture) is None


def test_a_frame_too_small_to_carry_it_is_left_alone() -> None:
    y = np.full((120, 200), 100, dtype=np.uint8)
    VideoMark(PAYLOAD).mark_luma(y)
    assert (y == 100).all()


def test_a_payload_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(ValueError, match="8 bytes"):
        VideoMark(b"short")


def test_near_black_and_white_frames_saturate_instead_of_wrapping() -> None:
    for level in (0, 255):
        y = np.full((256, 256), level, dtype=np.uint8)
        VideoMark(PAYLOAD).mark_luma(y)
        assert np.abs(y.astype(np.int16) - level).max() <= 20


def _reencoded(source: Path, target: Path, bit_rate: int) -> None:
    """``source`` re-encoded by libx264 at ``bit_rate`` bits a second (ABR)."""
    with av.open(str(source)) as reading, av.open(str(target), mode="w", format="mp4") as writing:
        video_in = reading.streams.video[0]
        video_out = writing.add_stream("libx264", rate=video_in.average_rate or Fraction(24))
        video_out.width = video_in.codec_context.width
        video_out.height = video_in.codec_context.height
        video_out.pix_fmt = "yuv420p"
        video_out.bit_rate = bit_rate
        for decoded in reading.decode(video_in):
            frame = av.VideoFrame.from_ndarray(decoded.to_ndarray(format="yuv420p"), "yuv420p")
            frame.pts, frame.time_base = decoded.pts, decoded.time_base
            writing.mux(video_out.encode(frame))
        writing.mux(video_out.encode(None))


def test_the_mark_survives_the_engines_encode_and_a_500_kbit_re_encode(tmp_path: Path) -> None:
    spec = VideoSpec.model_validate(
        {
            "prompt": "a slow drift over the lake",
            "source_image": "bench/source.png",
            "duration_seconds": 3,
            "width": 1280,
            "height": 720,
            "fps": 24,
            "movement": "medium",
            "seed": 7,
        }
    )
    made = tmp_path / "made.mp4"
    marker = FrameMarks(None, VideoMark(PAYLOAD))
    output = render_video(spec, preview(0, 1024), made, PreviewVideoOptions(), marker=marker)
    assert output.marked
    low = tmp_path / "low.mp4"
    _reencoded(made, low, 500_000)
    assert low.stat().st_size * 8 / 3 < 600_000  # the re-encode really is about 500 kbit/s
    for path in (made, low):
        with av.open(str(path)) as container:
            frames = [frame.to_image() for frame in container.decode(video=0)]
        sampled = frames[:: len(frames) // 8]
        found = sum(mark.detect(frame) == PAYLOAD for frame in sampled)
        assert found >= len(sampled) - (0 if path is made else 1), (path.name, found)


def _video_marked_from(first_marked: int, frames: int, size: tuple[int, int]) -> bytes:
    """An H.264 MP4 of ``frames`` frames whose frames from ``first_marked`` on carry the mark."""
    picture = synthetic(11, *size)
    marked = mark.embed(picture, PAYLOAD)
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=24, options={"crf": "12"})
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for index in range(frames):
            shown = marked if index >= first_marked else picture
            container.mux(stream.encode(av.VideoFrame.from_image(shown)))
        container.mux(stream.encode())
    return out.getvalue()


def test_verification_finds_a_mark_that_only_later_frames_still_carry(tmp_path: Path) -> None:
    """As after a low-bit-rate re-encode, which starves a video's first frames most."""
    anchors = development_identity(tmp_path / "c2pa").trust_anchors_pem
    late = _video_marked_from(first_marked=30, frames=48, size=(320, 192))
    assert inspect_file(late, anchors).payload == PAYLOAD
    unmarked = _video_marked_from(first_marked=48, frames=48, size=(320, 192))
    assert inspect_file(unmarked, anchors).payload is None
