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

from creatix.media.video import mark_video, sampled_frames
from creatix.media.watermark import mark_in_place, watermark_box

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
    marked = mark_video(source, target, mark_in_place)
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
        mark_video(source, target, mark_in_place)
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
