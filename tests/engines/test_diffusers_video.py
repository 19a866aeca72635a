"""Image-to-video on the diffusers engine, on tiny random LTX-Video and Stable Video Diffusion
pipelines (and Wan 2.1 where its extra packages are installed), on the CPU, offline: the real
loading (LTX's image-to-video pipeline derived from a text-to-video folder), frame and size
rules, seeding, progress, MP4 writing (probed with PyAV), residency and error mapping."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import AsyncIterator, Callable
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("transformers")
import av
import numpy as np
import transformers
from PIL import Image

from creatix.catalog.schemas import EngineEntry, Route
from creatix.engines.base import EngineError, EngineRejected, ImageEngine, VideoEngine
from creatix.engines.diffusers import DiffusersEngine
from creatix.engines.diffusers import video as video_rules
from creatix.engines.diffusers.config import GB
from creatix.engines.registry import EngineRegistry
from creatix.jobs.specs import ImageSpec, VideoSpec
from tiny_diffusers import build_tiny_ltx, build_tiny_svd, build_tiny_wan

pytestmark = [
    pytest.mark.usefixtures("one_torch_thread"),
    pytest.mark.skipif(
        int(transformers.__version__.split(".")[0]) < 5,
        reason="the tiny T5 tokenizer needs transformers>=5",
    ),
]
STEPS = 2
FPS = 8


@pytest.fixture(scope="module")
def tiny_ltx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A text-to-video ``LTXPipeline`` folder, as ``Lightricks/LTX-Video`` ships."""
    return build_tiny_ltx(tmp_path_factory.mktemp("models") / "tiny-ltx")


@pytest.fixture(scope="module")
def tiny_svd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_svd(tmp_path_factory.mktemp("models") / "tiny-svd")


@pytest.fixture
async def engine() -> AsyncIterator[DiffusersEngine]:
    engine = DiffusersEngine.from_options({"steps": STEPS, "guidance_scale": 3.0, "device": "cpu"})
    yield engine
    await engine.close()


@pytest.fixture(scope="module")
def source() -> Image.Image:
    """A picture with something in it: a red disc on a blue ground, wider than tall."""
    image = Image.new("RGB", (96, 64), (30, 60, 200))
    pixels = np.asarray(image).copy()
    yy, xx = np.mgrid[0:64, 0:96]
    pixels[(yy - 32) ** 2 + (xx - 48) ** 2 < 20**2] = (220, 40, 30)
    return Image.fromarray(pixels)


def _spec(**fields: Any) -> VideoSpec:
    values: dict[str, Any] = {
        "prompt": "the disc rolls to the right",
        "source_image": "uploads/acct/source.png",
        "duration_seconds": 1,
        "width": 64,
        "height": 64,
        "fps": FPS,
        "seed": 7,
    }
    values.update(fields)
    return VideoSpec.model_validate(values)


def _probe(path: Path) -> tuple[str, tuple[int, int], int, float, int, list[np.ndarray]]:
    """(codec, size, frames decoded, container seconds, audio streams, decoded frames)."""
    with av.open(str(path)) as container:
        (stream,) = container.streams.video
        codec = stream.codec_context.name
        size = (stream.codec_context.width, stream.codec_context.height)
        assert container.duration is not None
        seconds = container.duration / av.time_base
        audio = len(container.streams.audio)
        frames = [
            frame.to_ndarray(format="rgb24").astype(np.int16) for frame in container.decode(video=0)
        ]
    return codec, size, len(frames), seconds, audio, frames


def _recording(engine: DiffusersEngine, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The arguments of every video pipeline call the engine makes, recorded."""
    calls: list[dict[str, Any]] = []
    arguments = engine._video_arguments

    def record(*args: Any) -> dict[str, Any]:
        made = arguments(*args)
        calls.append(made)
        return made

    monkeypatch.setattr(engine, "_video_arguments", record)
    return calls


# -- the videos ------------------------------------------------------------------------------


async def test_ltx_makes_an_h264_video_of_8k_plus_1_frames(
    engine: DiffusersEngine,
    tiny_ltx: Path,
    source: Image.Image,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert isinstance(engine, VideoEngine)
    assert isinstance(engine, ImageEngine)
    calls = _recording(engine, monkeypatch)
    reported: list[float] = []
    steps_told: list[tuple[int | None, int | None]] = []

    def report(fraction: float, *, step: int | None = None, steps: int | None = None) -> None:
        reported.append(fraction)
        steps_told.append((step, steps))

    spec = _spec(negative_prompt="blurry", cfg_scale=0.25)
    output = await engine.generate_video(str(tiny_ltx), spec, source, tmp_path, progress=report)

    # 1 s at 8 fps is 8 frames; LTX makes 8k+1: the nearest is 9, 1.125 s.
    assert output.path.parent == tmp_path
    assert output.path.suffix == ".mp4"
    assert (output.width, output.height) == (64, 64)
    assert output.duration_seconds == 9 / FPS
    assert output.has_audio is False
    codec, size, frames, seconds, audio, _ = _probe(output.path)
    assert (codec, size, frames, audio) == ("h264", (64, 64), 9, 0)
    assert abs(seconds - 9 / FPS) <= 1 / FPS
    thumbnail = Image.open(io.BytesIO(output.thumbnail))
    assert (thumbnail.format, thumbnail.size) == ("JPEG", (64, 64))

    # The text-to-video folder was animated by the image-to-video pipeline made from it.
    resident = engine.residency.get(str(tiny_ltx))
    assert resident is not None
    assert type(resident.pipeline).__name__ == "LTXPipeline"
    assert type(resident.derived["img2video"]).__name__ == "LTXImageToVideoPipeline"
    [arguments] = calls
    assert arguments["prompt"] == spec.prompt
    assert arguments["negative_prompt"] == "blurry"
    assert arguments["num_frames"] == 9
    assert arguments["num_inference_steps"] == STEPS
    assert arguments["frame_rate"] == FPS
    assert arguments["guidance_scale"] == 2.0  # 1 + (3 - 1) x 2 x 0.25
    assert (engine.calls[-1].specs, engine.calls[-1].images) == (1, 9)

    # Per denoising step up to 0.9, then the file to 1.
    assert reported[:STEPS] == [0.45, 0.9]
    # The denoising reports name their step of the pipeline's steps.
    assert steps_told[:STEPS] == [(1, STEPS), (2, STEPS)]
    assert reported == sorted(reported)
    assert reported[-1] == 1.0
    assert all(0.9 < done < 1 for done in reported[STEPS:-1])


async def test_svd_takes_no_prompt_and_moves_as_asked(
    engine: DiffusersEngine,
    tiny_svd: Path,
    source: Image.Image,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _recording(engine, monkeypatch)
    output = await engine.generate_video(
        str(tiny_svd), _spec(movement="large", cfg_scale=0.5), source, tmp_path
    )
    # SVD makes any count: 8 frames, exactly 1 s.
    assert output.duration_seconds == 1.0
    codec, size, frames, seconds, _, _ = _probe(output.path)
    assert (codec, size, frames) == ("h264", (64, 64), 8)
    assert abs(seconds - 1.0) <= 1 / FPS
    [arguments] = calls
    assert "prompt" not in arguments
    assert "negative_prompt" not in arguments
    assert arguments["motion_bucket_id"] == 200
    assert arguments["fps"] == FPS
    assert arguments["max_guidance_scale"] == 3.0  # cfg 0.5 keeps the engine's guidance
    assert arguments["min_guidance_scale"] == 1.0
    assert arguments["decode_chunk_size"] == 8


async def test_the_same_seed_gives_the_same_video(
    engine: DiffusersEngine, tiny_svd: Path, source: Image.Image, tmp_path: Path
) -> None:
    first = await engine.generate_video(str(tiny_svd), _spec(), source, tmp_path)
    again = await engine.generate_video(str(tiny_svd), _spec(), source, tmp_path)
    other = await engine.generate_video(str(tiny_svd), _spec(seed=8), source, tmp_path)
    assert len({first.path, again.path, other.path}) == 3
    frames = [_probe(output.path)[-1] for output in (first, again, other)]
    assert int(np.abs(frames[0][0] - frames[1][0]).max()) <= 1
    assert first.thumbnail == again.thumbnail
    assert float(np.abs(frames[0][0] - frames[2][0]).mean()) > 1  # seed 8 is another video


async def test_a_size_off_the_multiple_is_drawn_at_the_nearest_and_scaled(
    engine: DiffusersEngine,
    tiny_ltx: Path,
    source: Image.Image,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _recording(engine, monkeypatch)
    spec = _spec(width=80, height=48)  # LTX draws multiples of 32: 96x64
    engine.validate(str(tiny_ltx), spec)
    output = await engine.generate_video(str(tiny_ltx), spec, source, tmp_path)
    [arguments] = calls
    assert (arguments["width"], arguments["height"]) == (96, 64)
    assert arguments["image"].size == (96, 64)  # the source, cropped to the aspect and scaled
    assert (output.width, output.height) == (80, 48)
    assert _probe(output.path)[1] == (80, 48)
    assert Image.open(io.BytesIO(output.thumbnail)).size == (80, 48)


# -- rules and validation --------------------------------------------------------------------


def test_the_rules_are_read_from_the_folders(
    engine: DiffusersEngine, tiny_ltx: Path, tiny_svd: Path
) -> None:
    ltx = engine.video_rules(str(tiny_ltx))
    svd = engine.video_rules(str(tiny_svd))
    assert ltx is not None
    assert svd is not None
    assert (ltx.pipeline_class, ltx.size_multiple, ltx.frame_step) == ("LTXPipeline", 32, 8)
    assert (svd.pipeline_class, svd.size_multiple, svd.frame_step) == (
        "StableVideoDiffusionPipeline",
        8,
        1,
    )


@pytest.mark.parametrize(
    ("seconds", "fps", "step", "frames"),
    [
        (1, 8, 8, 9),
        (5, 24, 8, 121),
        (10, 24, 8, 241),
        (5, 16, 4, 81),
        (1, 2, 8, 9),
        (5, 24, 1, 120),
    ],
)
def test_frame_counts_are_the_nearest_the_pipeline_makes(
    seconds: int, fps: int, step: int, frames: int
) -> None:
    assert video_rules.frame_count(seconds, fps, step) == frames


def test_sizes_and_guidance_are_planned() -> None:
    assert video_rules.drawn_side(720, 32) == 736
    assert video_rules.drawn_side(1280, 32) == 1280
    assert video_rules.drawn_side(1080, 16) == 1088
    assert video_rules.drawn_side(10, 32) == 32
    assert video_rules.guidance(3.0, None) == 3.0
    assert video_rules.guidance(3.0, 0.5) == 3.0
    assert video_rules.guidance(3.0, 0.0) == 1.0
    assert video_rules.guidance(3.0, 1.0) == 5.0
    assert video_rules.guidance(1.0, 1.0) == 1.0  # guidance off stays off


def test_validate_rejects_what_the_model_cannot_make(
    engine: DiffusersEngine, tiny_ltx: Path, tiny_sd: Path
) -> None:
    model = str(tiny_ltx)
    engine.validate(model, _spec(width=1280, height=720, duration_seconds=5, fps=24))
    for fields, param in (
        ({"width": 63}, "width"),
        ({"height": 16}, "height"),  # below LTX's 32
        ({"generate_audio": True}, "generate_audio"),
        ({"background_music": True}, "background_music"),
    ):
        with pytest.raises(EngineRejected) as rejected:
            engine.validate(model, _spec(**fields))
        assert rejected.value.param == param, fields
    with pytest.raises(EngineRejected) as rejected:
        engine.validate(str(tiny_sd), _spec())
    assert rejected.value.param == "model"
    assert "StableDiffusionPipeline" in str(rejected.value)
    with pytest.raises(EngineRejected) as rejected:
        engine.validate(model, ImageSpec(prompt="a cat", width=64, height=64, seed=1))
    assert rejected.value.param == "model"
    engine.validate(str(tiny_sd), ImageSpec(prompt="a cat", width=64, height=64, seed=1))


def test_wan_needs_its_packages(engine: DiffusersEngine, tmp_path: Path) -> None:
    folder = tmp_path / "wan"
    folder.mkdir()
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "WanImageToVideoPipeline"}))
    rules = engine.video_rules(str(folder))
    assert rules is not None
    assert (rules.size_multiple, rules.frame_step) == (16, 4)
    missing = [name for name in ("accelerate", "ftfy") if find_spec(name) is None]
    reason = engine.unavailable_reason(str(folder))
    if missing:
        assert reason is not None
        assert all(name in reason for name in missing)
    else:
        assert reason is None


@pytest.mark.skipif(
    find_spec("accelerate") is None or find_spec("ftfy") is None,
    reason="diffusers loads Wan only with accelerate, and runs it only with ftfy",
)
async def test_wan_makes_4k_plus_1_frames(
    engine: DiffusersEngine, source: Image.Image, tmp_path: Path
) -> None:
    model = str(build_tiny_wan(tmp_path / "tiny-wan"))
    assert engine.unavailable_reason(model) is None
    output = await engine.generate_video(model, _spec(width=64, height=48), source, tmp_path)
    assert output.duration_seconds == 9 / FPS
    codec, size, frames, _, _, _ = _probe(output.path)
    assert (codec, size, frames) == ("h264", (64, 48), 9)


# -- failures --------------------------------------------------------------------------------


async def test_a_corrupt_model_fails_to_load_and_is_not_retried(
    engine: DiffusersEngine, tiny_ltx: Path, source: Image.Image, tmp_path: Path
) -> None:
    corrupt = Path(shutil.copytree(tiny_ltx, tmp_path / "corrupt"))
    weights = corrupt / "transformer" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    assert engine.unavailable_reason(str(corrupt)) is None  # it looks like a pipeline folder
    engine.validate(str(corrupt), _spec())
    with pytest.raises(EngineError) as failed:
        await engine.generate_video(str(corrupt), _spec(), source, tmp_path / "work")
    assert failed.value.code == "model_load_failed"
    assert not failed.value.retryable
    assert str(tmp_path) not in str(failed.value)
    assert engine.residency.resident() == []
    assert not (tmp_path / "work").exists() or not any((tmp_path / "work").iterdir())


async def test_pipeline_failures_are_mapped(
    engine: DiffusersEngine,
    tiny_ltx: Path,
    source: Image.Image,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    work = tmp_path / "work"
    first = await engine.generate_video(str(tiny_ltx), _spec(), source, work)
    resident = engine.residency.get(str(tiny_ltx))
    assert resident is not None
    pipeline_class = type(resident.derived["img2video"])

    def failing(message: str) -> Callable[..., Any]:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError(message)

        return call

    with monkeypatch.context() as patch:
        patch.setattr(pipeline_class, "__call__", failing("CUDA out of memory. Tried 9 GiB"))
        with pytest.raises(EngineError) as failed:
            await engine.generate_video(str(tiny_ltx), _spec(), source, work)
        assert failed.value.code == "out_of_memory"
        assert not failed.value.retryable
        assert "9 frames at 64x64" in str(failed.value)
        patch.setattr(pipeline_class, "__call__", failing("something odd in the scheduler"))
        with pytest.raises(EngineError) as failed:
            await engine.generate_video(str(tiny_ltx), _spec(), source, work)
        assert failed.value.code == "engine_error"
        assert failed.value.retryable
        assert "something odd in the scheduler" in str(failed.value)
    output = await engine.generate_video(str(tiny_ltx), _spec(), source, work)
    assert output.duration_seconds == 9 / FPS
    # The failed calls left no file.
    assert sorted(path.name for path in work.iterdir()) == sorted(
        [first.path.name, output.path.name]
    )


async def test_weights_removed_after_submit_fail_the_job(
    engine: DiffusersEngine, source: Image.Image, tmp_path: Path
) -> None:
    with pytest.raises(EngineError) as failed:
        await engine.generate_video(str(tmp_path / "gone"), _spec(), source, tmp_path)
    assert failed.value.code == "model_load_failed"


# -- residency -------------------------------------------------------------------------------


async def test_video_and_image_pipelines_share_the_budget(
    tiny_ltx: Path, tiny_sd: Path, source: Image.Image, tmp_path: Path
) -> None:
    image_spec = ImageSpec(prompt="a red bicycle", width=64, height=64, seed=1)
    probe = DiffusersEngine.from_options({"steps": 1, "device": "cpu"})
    await probe.generate(str(tiny_sd), [image_spec])
    await probe.generate_video(str(tiny_ltx), _spec(), source, tmp_path)
    assert probe.residency.resident() == [str(tiny_sd), str(tiny_ltx)]
    sd_bytes = probe.residency.get(str(tiny_sd)).nbytes  # type: ignore[union-attr]
    ltx_bytes = probe.residency.get(str(tiny_ltx)).nbytes  # type: ignore[union-attr]
    assert probe.residency.resident_bytes == sd_bytes + ltx_bytes
    await probe.close()

    # Room for either of them, not both.
    budget = (max(sd_bytes, ltx_bytes) + min(sd_bytes, ltx_bytes) / 2) / GB
    engine = DiffusersEngine.from_options({"steps": 1, "device": "cpu", "vram_budget_gb": budget})
    try:
        await engine.generate(str(tiny_sd), [image_spec])
        await engine.generate_video(str(tiny_ltx), _spec(), source, tmp_path)
        assert engine.residency.resident() == [str(tiny_ltx)]  # the image model made room
        await engine.generate(str(tiny_sd), [image_spec])
        assert engine.residency.resident() == [str(tiny_sd)]
    finally:
        await engine.close()


def test_the_registry_serves_videos_from_a_diffusers_engine(tiny_ltx: Path) -> None:
    registry = EngineRegistry(
        {"video": EngineEntry(type="diffusers", options={"device": "cpu", "steps": 2})}
    )
    route = registry.resolve(Route(engine="video", engine_model=str(tiny_ltx)))
    engine = route.engine
    assert isinstance(engine, DiffusersEngine)
    assert route.video_engine is engine
    assert route.image_engine is engine
    route.video_engine.validate(str(tiny_ltx), _spec())
