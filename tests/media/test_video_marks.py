"""Marking a finished MP4: every frame gets the mark, the rest of the picture and the audio
stay, and a partial file is removed on failure."""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from creatix.engines.preview_video.yuv import YuvFrame, chroma_planes, half, luma_plane
from creatix.media.video import FrameMarks, mark_video, sampled_frames
from creatix.media.watermark import DEFAULT_STYLE, mark_in_place, watermark_box
from mark_samples import synthetic

SIZE = (320, 192)
FRAMES = 12


def _white_mp4(path: Path, *, audio: bool) -> None:
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=12)
        stream.width, stream.height = SIZE
        stream.pix_fmt = "yuv420p"
        sound = container.add_stream("aac", rate=48000) if audio else None
        for index in range(FRAMES):
            frame = av.VideoFrame.from_image(Image.new("RGB", SIZE, (250, 250, 250)))
            frame.pts = index
            frame.time_base = Fraction(1, 12)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
        if sound is not None:
            samples = np.zeros((1, 48000), dtype=np.float32)
            chunk = av.AudioFrame.from_ndarray(samples, format="flt", layout="mono")
            chunk.sample_rate = 48000
            chunk.pts = 0
            container.mux(sound.encode(chunk))
            container.mux(sound.encode(None))


@pytest.mark.parametrize("audio", [False, True])
def test_every_frame_carries_the_mark_and_audio_is_kept(tmp_path: Path, audio: bool) -> None:
    source, target = tmp_path / "in.mp4", tmp_path / "out.mp4"
    _white_mp4(source, audio=audio)
    marked = mark_video(source, target, FrameMarks(DEFAULT_STYLE, None))
    assert marked.frames == FRAMES
    assert Image.open(io.BytesIO(marked.thumbnail)).size == SIZE
    left, top, right, bottom = watermark_box(*SIZE)
    with av.open(str(target)) as container:
        assert bool(container.streams.audio) is audio
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    assert len(frames) == FRAMES
    for pixels in frames:
        plate = pixels[top:bottom, left:right].astype(float).mean()
        assert plate < 170, "the dark plate is drawn"
        rest = pixels.astype(float).copy()
        rest[top - 4 : bottom + 4, left - 4 : right + 4] = 250
        assert np.abs(rest - 250).max() <= 6, "and nothing else changes"


def test_a_file_that_is_not_a_video_leaves_nothing_behind(tmp_path: Path) -> None:
    source, target = tmp_path / "in.mp4", tmp_path / "out.mp4"
    source.write_bytes(b"not a video at all")
    with pytest.raises(av.error.FFmpegError):
        mark_video(source, target, FrameMarks(DEFAULT_STYLE, None))
    assert not target.exists()


def test_sampled_frames_are_spread_over_the_video_first_and_last_included(
    tmp_path: Path,
) -> None:
    path = tmp_path / "numbered.mp4"
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=12)
        stream.width, stream.height = SIZE
        stream.pix_fmt = "yuv420p"
        for index in range(FRAMES):  # frame i is grey level 20 * i
            picture = Image.new("RGB", SIZE, (20 * index,) * 3)
            frame = av.VideoFrame.from_image(picture)
            frame.pts = index
            frame.time_base = Fraction(1, 12)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    frames = sampled_frames(path, 4)
    assert [frame.size for frame in frames] == [SIZE] * 4
    levels = [round(float(np.asarray(frame.convert("L")).mean()) / 20) for frame in frames]
    assert levels == [0, 4, 7, 11]
    assert len(sampled_frames(path, 1)) == 1


@pytest.mark.parametrize("size", [(1280, 720), (322, 182), (256, 256)])
@pytest.mark.parametrize("corner", ["bottom-right", "top-left"])
def test_the_plate_in_yuv_planes_is_the_plate_drawn_in_rgb(
    size: tuple[int, int], corner: str
) -> None:
    """Blending is linear: the plate drawn into Y'CbCr planes and shown is the plate that
    ``mark_in_place`` composites in RGB, within the rounding of the conversions."""
    style = DEFAULT_STYLE.model_copy(update={"corner": corner})
    picture = synthetic(5, *size)
    expected = picture.copy()
    mark_in_place(expected, style)
    frame = YuvFrame(luma_plane(picture), *chroma_planes(picture, half(size)))
    y, u, v = (np.array(plane) for plane in (frame.y, frame.u, frame.v))
    FrameMarks(style, None).mark_planes(y, u, v)
    shown = YuvFrame(*(Image.fromarray(plane) for plane in (y, u, v))).to_rgb()
    plain = frame.to_rgb()
    left, top, right, bottom = watermark_box(*size, style)
    box = (slice(top, bottom), slice(left, right))
    drawn = np.asarray(shown, dtype=np.float64)
    wanted = np.asarray(expected, dtype=np.float64)
    unmarked = np.asarray(plain, dtype=np.float64)
    assert np.abs(drawn - unmarked)[box].mean() > 20, "the plate is drawn"
    # Off by what the 4:2:0 round trip costs the plain picture too, and little more.
    round_trip = np.abs(unmarked - np.asarray(picture, dtype=np.float64))[box].mean()
    assert np.abs(drawn - wanted)[box].mean() < round_trip + 3
    outside = np.ones(drawn.shape[:2], dtype=bool)
    outside[max(0, top - 2) : bottom + 2, max(0, left - 2) : right + 2] = False
    assert np.array_equal(drawn[outside], unmarked[outside]), "nothing else changes"


@pytest.mark.parametrize("pixel_format", ["yuv420p", "yuvj420p"])
def test_a_source_keeps_its_levels_and_colour_tags(tmp_path: Path, pixel_format: str) -> None:
    """An untagged or full-range source (an upstream provider's) comes out as a player showed
    it before: the frames are marked in its own Y'CbCr, never converted."""
    source, target = tmp_path / "in.mp4", tmp_path / "out.mp4"
    with av.open(str(source), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=12)
        stream.width, stream.height = SIZE
        stream.pix_fmt = pixel_format
        for index in range(4):
            picture = Image.new("RGB", SIZE, (30 + 40 * index, 120, 200))
            frame = av.VideoFrame.from_image(picture).reformat(format=pixel_format)
            frame.pts = index
            frame.time_base = Fraction(1, 12)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    mark_video(source, target, FrameMarks(None, None))
    shown = []
    for path in (source, target):
        with av.open(str(path)) as container:
            context = container.streams.video[0].codec_context
            tags = (context.color_range, context.colorspace, context.color_trc)
            shown.append((tags, [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]))
    (tags_in, frames_in), (tags_out, frames_out) = shown
    assert tags_out == tags_in
    for before, after in zip(frames_in, frames_out, strict=True):
        assert np.abs(before.astype(np.int16) - after).mean() < 1.5
