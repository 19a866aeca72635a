"""The preview video engine: real MP4 files, probed and decoded with PyAV.

Small videos (320x180, 2 s at 12 fps) keep the module fast; the 720p speed target is
``benchmarks/video_preview.py``'s.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import time
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image, ImageDraw

from creatix.engines.base import EngineError, EngineRejected, VideoEngine, VideoOutput
from creatix.engines.preview import render
from creatix.engines.preview_video import PreviewVideoEngine, PreviewVideoOptions
from creatix.engines.preview_video.audio import SAMPLE_RATE, Synth, compose
from creatix.jobs.specs import ImageSpec, VideoSpec

MODEL = "creatix-motion-preview"
WIDTH, HEIGHT, SECONDS, FPS = 320, 180, 2, 12


def _spec(**fields: Any) -> VideoSpec:
    values: dict[str, Any] = {
        "prompt": "a slow drift over the lake",
        "source_image": "uploads/acct/source.png",
        "duration_seconds": SECONDS,
        "width": WIDTH,
        "height": HEIGHT,
        "fps": FPS,
        "seed": 11,
        "movement": "medium",
    }
    values.update(fields)
    return VideoSpec.model_validate(values)


@pytest.fixture(scope="module")
def square() -> Image.Image:
    """A detailed square picture (the image preview engine's): shown as a card in 16:9."""
    spec = ImageSpec(prompt="A mountain lake at sunset", width=512, height=512, seed=3)
    return render("creatix-flash", spec)


@pytest.fixture(scope="module")
def wide() -> Image.Image:
    """A 16:9 picture: fills the frame (near ellipse over a soft far layer)."""
    spec = ImageSpec(prompt="Futuristic city skyline at night", width=640, height=360, seed=5)
    return render("creatix-flash", spec)


def _generate(spec: VideoSpec, source: Image.Image, workdir: Path, **kwargs: Any) -> VideoOutput:
    return asyncio.run(PreviewVideoEngine().generate_video(MODEL, spec, source, workdir, **kwargs))


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [
            frame.to_ndarray(format="rgb24").astype(np.int16) for frame in container.decode(video=0)
        ]


def _motion(frames: list[np.ndarray]) -> float:
    """Mean absolute change between consecutive frames, in levels."""
    return float(np.mean([np.abs(b - a).mean() for a, b in itertools.pairwise(frames)]))


def test_it_is_a_video_engine() -> None:
    engine = PreviewVideoEngine()
    assert isinstance(engine, VideoEngine)
    assert engine.name == "preview_video"
    assert engine.max_batch == 1
    assert engine.unavailable_reason(MODEL) is None


def test_video_only(square: Image.Image, tmp_path: Path) -> None:
    output = _generate(_spec(), square, tmp_path)
    assert output.path.parent == tmp_path
    assert output.path.suffix == ".mp4"
    assert (output.width, output.height) == (WIDTH, HEIGHT)
    assert output.duration_seconds == SECONDS
    assert output.has_audio is False
    with av.open(str(output.path)) as container:
        assert container.format.name.startswith("mov,mp4")
        assert container.duration is not None
        assert abs(container.duration / av.time_base - SECONDS) <= 1 / FPS
        assert len(container.streams.audio) == 0
        (video,) = container.streams.video
        assert video.codec_context.name == "h264"
        assert video.codec_context.pix_fmt == "yuv420p"
        assert (video.codec_context.width, video.codec_context.height) == (WIDTH, HEIGHT)
        decoded = list(container.decode(video=0))
    assert len(decoded) == SECONDS * FPS
    assert all((frame.width, frame.height) == (WIDTH, HEIGHT) for frame in decoded)


@pytest.mark.parametrize(
    ("generate_audio", "background_music"), [(True, False), (False, True), (True, True)]
)
def test_audio_track_exactly_when_asked(
    square: Image.Image, tmp_path: Path, generate_audio: bool, background_music: bool
) -> None:
    spec = _spec(generate_audio=generate_audio, background_music=background_music)
    output = _generate(spec, square, tmp_path)
    assert output.has_audio is True
    with av.open(str(output.path)) as container:
        assert container.duration is not None
        assert abs(container.duration / av.time_base - SECONDS) <= 1 / FPS
        (video,) = container.streams.video
        (audio,) = container.streams.audio
        assert audio.codec_context.name == "aac"
        assert audio.codec_context.sample_rate == SAMPLE_RATE
        assert audio.codec_context.channels == 2
        assert video.duration is not None
        assert audio.duration is not None
        video_seconds = float(video.duration * video.time_base)
        audio_seconds = float(audio.duration * audio.time_base)
        assert abs(video_seconds - SECONDS) <= 1 / FPS
        assert abs(audio_seconds - video_seconds) <= 1 / FPS
        samples = np.concatenate(
            [frame.to_ndarray().reshape(-1) for frame in container.decode(audio=0)]
        )
    # Not silence, and well under full scale.
    assert 0.005 < float(np.sqrt(np.mean(samples**2))) < 0.5
    assert float(np.abs(samples).max()) < 0.95


def test_music_is_rhythmic_and_ambient_is_not() -> None:
    """Background music has beats (loudness that comes and goes); the ambient pad is smooth."""

    def envelope_spread(music: bool) -> float:
        synth = Synth(compose(4, 6, music=music), 4)
        track = np.concatenate(list(synth.chunks()), axis=1)[0]
        middle = track[SAMPLE_RATE * 2 : SAMPLE_RATE * 4]  # clear of the fades
        windows = np.sqrt((middle.reshape(-1, SAMPLE_RATE // 50) ** 2).mean(axis=1))  # 20 ms
        return float(windows.std() / windows.mean())

    assert envelope_spread(music=True) > 2 * envelope_spread(music=False)


def test_audio_is_deterministic_and_chunking_does_not_matter() -> None:
    whole = Synth(compose(9, 3, music=True), 9).render_until(3 * SAMPLE_RATE)
    pieces = Synth(compose(9, 3, music=True), 9)
    parts = [pieces.render_until(end) for end in (1000, 1001, 40_000, 3 * SAMPLE_RATE)]
    assert np.array_equal(whole, np.concatenate(parts, axis=1))
    other = Synth(compose(10, 3, music=True), 10).render_until(3 * SAMPLE_RATE)
    assert not np.allclose(whole, other)


def test_thumbnail_is_the_first_frame_as_jpeg(square: Image.Image, tmp_path: Path) -> None:
    output = _generate(_spec(), square, tmp_path)
    assert output.thumbnail[:3] == b"\xff\xd8\xff"
    with Image.open(io.BytesIO(output.thumbnail)) as thumbnail:
        assert thumbnail.format == "JPEG"
        assert thumbnail.size == (WIDTH, HEIGHT)
        pixels = np.asarray(thumbnail.convert("RGB"), dtype=np.int16)
    first = _frames(output.path)[0]
    assert np.abs(pixels - first).mean() < 6  # JPEG and H.264 both lossy, each a little


def test_the_same_seed_gives_the_same_video(square: Image.Image, tmp_path: Path) -> None:
    a = _frames(_generate(_spec(), square, tmp_path / "a").path)
    b = _frames(_generate(_spec(), square, tmp_path / "b").path)
    # The pictures are the same; x264's threads on a busy machine may round a frame
    # differently by a level here and there (a different seed moves pixels by tens).
    assert np.abs(a[0] - b[0]).mean() < 0.5
    assert np.abs(a[-1] - b[-1]).mean() < 0.5


def test_seed_and_movement_change_the_motion(square: Image.Image, tmp_path: Path) -> None:
    base = _frames(_generate(_spec(), square, tmp_path / "base").path)
    other_seed = _frames(_generate(_spec(seed=12), square, tmp_path / "seed").path)
    other_movement = _frames(_generate(_spec(movement="large"), square, tmp_path / "move").path)
    late = -3
    assert np.abs(base[late] - other_seed[late]).mean() > 2
    assert np.abs(base[late] - other_movement[late]).mean() > 2


@pytest.mark.parametrize("picture", ["square", "wide"])
def test_movement_orders_the_amount_of_motion(
    picture: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    source = request.getfixturevalue(picture)
    motion = {
        movement: _motion(_frames(_generate(_spec(movement=movement), source, tmp_path).path))
        for movement in ("small", "medium", "large")
    }
    assert 0 < motion["small"] < motion["medium"] < motion["large"], motion


def test_auto_movement_is_near_medium(square: Image.Image, tmp_path: Path) -> None:
    motion = {
        movement: _motion(_frames(_generate(_spec(movement=movement), square, tmp_path).path))
        for movement in ("small", "auto", "large")
    }
    assert motion["small"] < motion["auto"] < motion["large"], motion


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"width": 321}, "width"),
        ({"height": 181}, "height"),
        ({"width": 32}, "width"),
        ({"height": 4000}, "height"),
        ({"duration_seconds": 61}, "duration_seconds"),
        ({"fps": 120}, "fps"),
    ],
)
def test_validate_rejects_what_it_cannot_make(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(EngineRejected) as caught:
        PreviewVideoEngine().validate(MODEL, _spec(**fields))
    assert caught.value.param == param
    assert caught.value.code == "unsupported_parameters"


def test_generate_rejects_an_odd_size_before_writing(square: Image.Image, tmp_path: Path) -> None:
    with pytest.raises(EngineRejected):
        _generate(_spec(width=321), square, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_options() -> None:
    engine = PreviewVideoEngine.from_options({"crf": 30, "preset": "ultrafast", "max_side": 640})
    assert engine.options == PreviewVideoOptions(crf=30, preset="ultrafast", max_side=640)
    engine.validate(MODEL, _spec(width=640, height=360))
    with pytest.raises(EngineRejected):
        engine.validate(MODEL, _spec(width=642, height=360))
    with pytest.raises(ValueError, match="unknown preview_video option"):
        PreviewVideoEngine.from_options({"crf": 30, "quality": "high"})
    with pytest.raises(ValueError, match="crf"):
        PreviewVideoEngine.from_options({"crf": 70})
    with pytest.raises(ValueError, match="preset"):
        PreviewVideoEngine.from_options({"preset": "warp"})
    with pytest.raises(ValueError, match="max_side"):
        PreviewVideoEngine.from_options({"max_side": "big"})


def test_route_params_set_the_encoding(square: Image.Image, tmp_path: Path) -> None:
    small = _generate(_spec(), square, tmp_path / "a", params={"crf": 40})
    large = _generate(_spec(), square, tmp_path / "b", params={"crf": 12})
    assert small.path.stat().st_size < large.path.stat().st_size
    with pytest.raises(EngineError, match="unknown preview_video engine_params"):
        _generate(_spec(), square, tmp_path / "c", params={"bitrate": 5})


def test_progress_every_tenth_up_to_one(square: Image.Image, tmp_path: Path) -> None:
    reports: list[float] = []
    frames_told: list[tuple[int | None, int | None]] = []

    def report(fraction: float, *, step: int | None = None, steps: int | None = None) -> None:
        reports.append(fraction)
        frames_told.append((step, steps))

    spec = _spec()
    _generate(spec, square, tmp_path, progress=report)
    assert reports == sorted(reports)
    assert reports[-1] == 1.0
    assert 9 <= len(reports) <= 13
    assert all(0 < b - a <= 0.2 for a, b in itertools.pairwise(reports))
    # Each report names the frame reached of the video's frames.
    frames = spec.duration_seconds * spec.fps
    assert {steps for _, steps in frames_told} == {frames}
    assert [step for step, _ in frames_told] == sorted(step or 0 for step, _ in frames_told)
    assert frames_told[-1] == (frames, frames)


def test_the_event_loop_keeps_running(wide: Image.Image, tmp_path: Path) -> None:
    async def scenario() -> tuple[float, list[float]]:
        ticks: list[float] = []

        async def ticker() -> None:
            while True:
                ticks.append(time.perf_counter())
                await asyncio.sleep(0.005)

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0.02)
        start = time.perf_counter()
        spec = _spec(width=640, height=360, fps=24, background_music=True)
        await PreviewVideoEngine().generate_video(MODEL, spec, wide, tmp_path)
        elapsed = time.perf_counter() - start
        task.cancel()
        return elapsed, [t for t in ticks if t >= start]

    elapsed, ticks = asyncio.run(scenario())
    gaps = np.diff(ticks)
    # Encoding in the loop's thread would leave one gap as long as the whole call; a loop
    # that is free but loaded stalls now and then, never for half of the call.
    assert len(ticks) >= 10
    assert gaps.max() < elapsed / 2, (elapsed, gaps.max())


def test_cancelling_leaves_no_file(wide: Image.Image, tmp_path: Path) -> None:
    async def scenario() -> None:
        spec = _spec(width=640, height=360, fps=24, duration_seconds=10)
        call = asyncio.create_task(PreviewVideoEngine().generate_video(MODEL, spec, wide, tmp_path))
        await asyncio.sleep(0.2)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call

    asyncio.run(scenario())
    assert list(tmp_path.iterdir()) == []


def _cutout() -> Image.Image:
    picture = Image.new("RGBA", (150, 420), (0, 0, 0, 0))
    draw = ImageDraw.Draw(picture)
    draw.ellipse((10, 10, 140, 410), fill=(40, 160, 220, 255))
    draw.rectangle((50, 150, 100, 260), fill=(250, 220, 40, 180))
    return picture


@pytest.mark.parametrize(
    "source",
    [
        pytest.param(_cutout(), id="rgba-cutout"),
        pytest.param(_cutout().convert("LA"), id="la"),
        pytest.param(_cutout().convert("P"), id="palette"),
        pytest.param(Image.new("RGB", (2000, 90), (200, 60, 60)), id="panorama"),
        pytest.param(Image.new("L", (7, 5), 128), id="tiny-grey"),
    ],
)
def test_any_source_works(source: Image.Image, tmp_path: Path) -> None:
    output = _generate(_spec(duration_seconds=1, generate_audio=True), source, tmp_path)
    frames = _frames(output.path)
    assert len(frames) == FPS
    assert frames[0].shape == (HEIGHT, WIDTH, 3)


def test_a_cutout_keeps_its_transparency(tmp_path: Path) -> None:
    """Around a cutout the (dimmed, blurred) far layer shows, not the cutout's fill colour."""
    frames = _frames(_generate(_spec(duration_seconds=1), _cutout(), tmp_path).path)
    first = frames[0]
    blue = first[HEIGHT // 2 - 40, WIDTH // 2]  # the cutout's opaque blue, in front
    assert blue[2] > 190, blue
    assert blue[0] < 70, blue
    side = first[HEIGHT // 2, 8]  # beside it: its dimmed blur
    assert side.max() < 120, side
    # The yellow patch (alpha 180) lets 30% of what is behind it through: neither the pure
    # yellow (250, 220, 40) nor the blue under it in the source.
    patch = first[HEIGHT // 2, WIDTH // 2]
    assert 150 < patch[0] < 235, patch
    assert patch[2] < 90, patch


def test_the_label_says_preview(square: Image.Image, tmp_path: Path) -> None:
    """The top-left corner carries the light PREVIEW pill in every frame."""
    frames = _frames(_generate(_spec(), square, tmp_path).path)
    for frame in (frames[0], frames[-1]):
        corner = frame[8:14, 10:40]
        assert corner.mean() > 150
