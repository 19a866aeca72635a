"""The diffusers engine on tiny random Stable Diffusion (and SDXL, FLUX) pipelines, on the CPU,
offline: the real loading, batching, seeding, residency and error mapping."""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("transformers")
import numpy as np
import torch
import transformers
from PIL import Image

from creatix.catalog.schemas import EngineEntry
from creatix.engines.base import EngineError, EngineRejected
from creatix.engines.diffusers import DiffusersEngine, DiffusersOptions
from creatix.engines.diffusers.config import GB, model_dir
from creatix.engines.registry import EngineRegistry
from creatix.jobs.specs import ImageSpec
from tiny_diffusers import (
    build_tiny_flux,
    build_tiny_sdxl,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")
STEPS = 2
TOLERANCE = 1
"""Most a pixel channel may differ between a batched and a lone run: CPU kernels block
differently for different batch sizes (the tiny pipelines' author measured at most 1)."""


@pytest.fixture
async def engine() -> AsyncIterator[DiffusersEngine]:
    engine = DiffusersEngine.from_options({"steps": STEPS, "device": "cpu"})
    yield engine
    await engine.close()


def _spec(prompt: str = "a red bicycle", **fields: Any) -> ImageSpec:
    return ImageSpec(**{"prompt": prompt, "width": 64, "height": 64, "seed": 7, **fields})


def _pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def _max_difference(a: Image.Image, b: Image.Image) -> int:
    return int(np.abs(_pixels(a) - _pixels(b)).max())


def _copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


# -- output ----------------------------------------------------------------------------------


async def test_images_have_the_asked_size_and_count(engine: DiffusersEngine, tiny_sd: Path) -> None:
    specs = [_spec(n=2), _spec("a blue lake", width=96, height=64, n=3), _spec(n=1, seed=9)]
    outputs = await engine.generate(str(tiny_sd), specs)
    assert [len(images) for images in outputs] == [2, 3, 1]
    for spec, images in zip(specs, outputs, strict=True):
        for image in images:
            assert image.mode == "RGB"
            assert image.size == (spec.width, spec.height)
    # Two shapes: one call each, the two 64x64 specs together.
    assert [(c.specs, c.images) for c in engine.calls] == [(2, 3), (1, 3)]


async def test_images_are_not_all_alike(engine: DiffusersEngine, tiny_sd: Path) -> None:
    [images] = await engine.generate(str(tiny_sd), [_spec(n=2)])
    assert _max_difference(images[0], images[1]) > 10  # seeds 7 and 8 are different pictures


async def test_a_request_draws_the_same_images_alone_or_batched(
    engine: DiffusersEngine, tiny_sd: Path
) -> None:
    specs = [
        _spec("a red bicycle", seed=1),
        _spec("a lighthouse at dusk", seed=2, n=2),
        _spec("a bowl of lemons", seed=1000, negative_prompt="blurry"),
        _spec("a red bicycle", seed=3, n=2),
    ]
    batched = await engine.generate(str(tiny_sd), specs)
    assert len(engine.calls) == 1
    assert (engine.calls[0].specs, engine.calls[0].images) == (4, 6)
    for spec, images in zip(specs, batched, strict=True):
        [alone] = await engine.generate(str(tiny_sd), [spec])
        assert len(alone) == len(images) == spec.n
        for a, b in zip(alone, images, strict=True):
            assert _max_difference(a, b) <= TOLERANCE
    assert [c.images for c in list(engine.calls)[1:]] == [1, 2, 1, 2]
    # The same seed gives the same picture again.
    [again] = await engine.generate(str(tiny_sd), [specs[0]])
    assert _max_difference(again[0], batched[0][0]) <= TOLERANCE


async def test_concurrent_calls_share_one_load_and_take_turns(
    engine: DiffusersEngine, tiny_sd: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="creatix.engines.diffusers")
    first, second = await asyncio.gather(
        engine.generate(str(tiny_sd), [_spec(seed=1)]),
        engine.generate(str(tiny_sd), [_spec(seed=2, n=2)]),
    )
    assert [len(first[0]), len(second[0])] == [1, 2]
    assert [r.getMessage() for r in caplog.records].count("pipeline loaded") == 1
    assert sorted(c.images for c in engine.calls) == [1, 2]
    calls = [r for r in caplog.records if r.getMessage() == "pipeline call"]
    assert [(r.__dict__["model"], r.__dict__["specs"]) for r in calls] == [(str(tiny_sd), 1)] * 2
    assert all(r.__dict__["seconds"] > 0 for r in calls)


async def test_a_batch_larger_than_max_batch_is_split_into_calls(tiny_sd: Path) -> None:
    engine = DiffusersEngine.from_options({"steps": 1, "device": "cpu", "max_batch": 3})
    try:
        outputs = await engine.generate(str(tiny_sd), [_spec(n=2, seed=s) for s in (1, 5, 9)])
    finally:
        await engine.close()
    assert [len(images) for images in outputs] == [2, 2, 2]
    assert [c.images for c in engine.calls] == [3, 3]


async def test_progress_is_reported_per_denoising_step_across_calls(tiny_sd: Path) -> None:
    engine = DiffusersEngine.from_options({"steps": 4, "device": "cpu", "max_batch": 2})
    reported: list[tuple[float, int | None, int | None]] = []

    def report(fraction: float, *, step: int | None = None, steps: int | None = None) -> None:
        reported.append((fraction, step, steps))

    try:
        await engine.generate(str(tiny_sd), [_spec(seed=s) for s in (1, 2, 3)], progress=report)
    finally:
        await engine.close()
    assert len(engine.calls) == 2
    # 4 steps in each of 2 calls: steps 1..8 of 8, from the pipeline's own step callback.
    assert reported == [(step / 8, step, 8) for step in range(1, 9)]


async def test_image_to_image_keeps_the_asked_size(engine: DiffusersEngine, tiny_sd: Path) -> None:
    source = Image.new("RGBA", (120, 40), (200, 30, 30, 128))
    specs = [_spec(input_image="uploads/a.png", n=2), _spec(input_image="uploads/b.png", seed=1)]
    outputs = await engine.generate(str(tiny_sd), specs, [source, source.convert("RGB")])
    assert [[image.size for image in images] for images in outputs] == [[(64, 64)] * 2, [(64, 64)]]
    assert (engine.calls[-1].specs, engine.calls[-1].images) == (2, 3)


@pytest.mark.parametrize(
    ("build", "pipeline_class"),
    [
        (build_tiny_sdxl, "StableDiffusionXLPipeline"),
        pytest.param(
            build_tiny_flux,
            "FluxPipeline",
            marks=pytest.mark.skipif(
                int(transformers.__version__.split(".")[0]) < 5,
                reason="the tiny T5 tokenizer needs transformers>=5",
            ),
        ),
    ],
    ids=["sdxl", "flux"],
)
async def test_sdxl_and_flux_pipelines_batch_too(
    engine: DiffusersEngine,
    tmp_path: Path,
    build: Callable[[Path], Path],
    pipeline_class: str,
) -> None:
    model = str(build(tmp_path / "model"))
    assert engine.unavailable_reason(model) is None
    engine.validate(model, _spec(width=64, height=48))
    specs = [
        _spec("a green door", width=64, height=48, seed=3),
        _spec("a paper boat", width=64, height=48, seed=40, n=2, negative_prompt="dull"),
    ]
    batched = await engine.generate(model, specs)
    resident = engine.residency.get(model)
    assert resident is not None
    assert type(resident.pipeline).__name__ == pipeline_class
    assert (engine.calls[-1].specs, engine.calls[-1].images) == (2, 3)
    for spec, images in zip(specs, batched, strict=True):
        [alone] = await engine.generate(model, [spec])
        assert [image.size for image in alone] == [(64, 48)] * spec.n
        for a, b in zip(alone, images, strict=True):
            assert _max_difference(a, b) <= TOLERANCE
    source = Image.new("RGB", (90, 30), (20, 120, 220))
    edited = await engine.generate(
        model,
        [spec.model_copy(update={"input_image": "uploads/x.png"}) for spec in specs],
        [source, source],
    )
    assert [[image.size for image in images] for images in edited] == [[(64, 48)], [(64, 48)] * 2]


# -- batch keys and validation ---------------------------------------------------------------


def test_batch_keys_group_what_one_call_can_serve(engine: DiffusersEngine) -> None:
    key = engine.batch_key("m", _spec())
    assert engine.batch_key("m", _spec("other words", seed=99, n=3, negative_prompt="x")) == key
    different = [
        engine.batch_key("other-model", _spec()),
        engine.batch_key("m", _spec(width=128)),
        engine.batch_key("m", _spec(height=128)),
        engine.batch_key("m", _spec(input_image="uploads/a.png")),
        engine.batch_key("m", _spec(engine_params={"quality": "high"})),
        DiffusersEngine(DiffusersOptions(steps=8, device="cpu")).batch_key("m", _spec()),
        DiffusersEngine(DiffusersOptions(guidance_scale=3, device="cpu")).batch_key("m", _spec()),
    ]
    assert key not in different
    assert len(set(different)) == len(different)
    long_model = "/srv/" + "deep/" * 60 + "model"
    assert len("diffusers:" + engine.batch_key(long_model, _spec())) <= 200


async def test_validate_rejects_sides_off_the_pipelines_multiple(
    engine: DiffusersEngine, tiny_sd: Path
) -> None:
    engine.validate(str(tiny_sd), _spec(width=64, height=96))
    for width, height in ((60, 64), (64, 68), (65, 65)):
        with pytest.raises(EngineRejected) as rejected:
            engine.validate(str(tiny_sd), _spec(width=width, height=height))
        assert rejected.value.param == "size"
        assert "multiples of 8" in str(rejected.value)
    await engine.generate(str(tiny_sd), [_spec()])  # loaded: the pipeline itself says 8
    assert engine.size_multiple(str(tiny_sd)) == 8
    with pytest.raises(EngineRejected):
        engine.validate(str(tiny_sd), _spec(width=60))


# -- availability and failures ---------------------------------------------------------------


def test_missing_weights_are_reported(engine: DiffusersEngine, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    assert engine.unavailable_reason(str(missing)) == f"weights not found at {missing}"
    empty = tmp_path / "empty"
    empty.mkdir()
    reason = engine.unavailable_reason(str(empty))
    assert reason is not None
    assert reason.startswith(f"weights not found at {empty}")
    assert "model_index.json" in reason


def test_hub_ids_are_found_under_models_dir(tmp_path: Path) -> None:
    flat = tmp_path / "stabilityai--sd-turbo"
    flat.mkdir()
    (flat / "model_index.json").write_text("{}")
    assert model_dir("stabilityai/sd-turbo", tmp_path) == flat
    cache = tmp_path / "models--org--cached"
    (cache / "refs").mkdir(parents=True)
    (cache / "refs" / "main").write_text("abc123\n")
    (cache / "snapshots" / "abc123").mkdir(parents=True)
    (cache / "snapshots" / "abc123" / "model_index.json").write_text("{}")
    assert model_dir("org/cached", tmp_path) == cache / "snapshots" / "abc123"
    assert model_dir("org/absent", tmp_path) == tmp_path / "org--absent"
    assert model_dir("local-folder", tmp_path) == tmp_path / "local-folder"
    assert model_dir(str(flat), None) == flat
    engine = DiffusersEngine.from_options({"models_dir": str(tmp_path), "device": "cpu"})
    assert engine.unavailable_reason("stabilityai/sd-turbo") is None
    assert engine.unavailable_reason("org/absent") == (
        f"weights not found at {tmp_path / 'org--absent'}"
    )


async def test_a_corrupt_model_fails_to_load_and_is_not_retried(
    engine: DiffusersEngine, tiny_sd: Path, tmp_path: Path
) -> None:
    corrupt = _copy(tiny_sd, tmp_path / "corrupt")
    weights = corrupt / "unet" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    assert engine.unavailable_reason(str(corrupt)) is None  # it looks like a pipeline folder
    with pytest.raises(EngineError) as failed:
        await engine.generate(str(corrupt), [_spec()])
    assert failed.value.code == "model_load_failed"
    assert not failed.value.retryable
    assert str(tmp_path) not in str(failed.value)  # the job's message names no server paths
    assert engine.residency.resident() == []
    assert list(engine.calls) == []


async def test_weights_removed_after_submit_fail_the_job(
    engine: DiffusersEngine, tmp_path: Path
) -> None:
    with pytest.raises(EngineError) as failed:
        await engine.generate(str(tmp_path / "gone"), [_spec()])
    assert failed.value.code == "model_load_failed"
    assert not failed.value.retryable


async def test_out_of_memory_is_not_retried_and_the_engine_recovers(
    engine: DiffusersEngine, tiny_sd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await engine.generate(str(tiny_sd), [_spec()])
    resident = engine.residency.get(str(tiny_sd))
    assert resident is not None
    pipeline_class = type(resident.pipeline)

    def out_of_memory(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    with monkeypatch.context() as patch:
        patch.setattr(pipeline_class, "__call__", out_of_memory)
        with pytest.raises(EngineError) as failed:
            await engine.generate(str(tiny_sd), [_spec(n=4)])
    assert failed.value.code == "out_of_memory"
    assert not failed.value.retryable
    assert "4 images" in str(failed.value)
    [images] = await engine.generate(str(tiny_sd), [_spec()])
    assert images[0].size == (64, 64)


async def test_other_pipeline_errors_are_retryable(
    engine: DiffusersEngine, tiny_sd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await engine.generate(str(tiny_sd), [_spec()])
    resident = engine.residency.get(str(tiny_sd))
    assert resident is not None

    def broken(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise ValueError("something odd in the scheduler")

    monkeypatch.setattr(type(resident.pipeline), "__call__", broken)
    with pytest.raises(EngineError) as failed:
        await engine.generate(str(tiny_sd), [_spec()])
    assert failed.value.code == "engine_error"
    assert failed.value.retryable
    assert "something odd in the scheduler" in str(failed.value)


# -- residency -------------------------------------------------------------------------------


async def test_least_recently_used_pipelines_are_unloaded_to_fit_the_budget(
    tiny_sd: Path, tmp_path: Path
) -> None:
    a, b, c = (str(_copy(tiny_sd, tmp_path / name)) for name in "abc")
    probe = DiffusersEngine.from_options({"steps": 1, "device": "cpu"})
    await probe.generate(a, [_spec()])
    size = probe.residency.resident_bytes
    await probe.close()
    assert size > 0

    one = DiffusersEngine.from_options(
        {"steps": 1, "device": "cpu", "vram_budget_gb": 1.5 * size / GB}
    )
    await one.generate(a, [_spec()])
    assert one.residency.resident() == [a]
    await one.generate(b, [_spec()])
    assert one.residency.resident() == [b]
    await one.close()
    assert one.residency.resident() == []

    two = DiffusersEngine.from_options(
        {"steps": 1, "device": "cpu", "vram_budget_gb": 2.5 * size / GB}
    )
    for model in (a, b, a, c):
        await two.generate(model, [_spec()])
    assert two.residency.resident() == [a, c]  # b was the least recently used
    assert two.residency.resident_bytes <= 2.5 * size
    await two.close()


# -- options ---------------------------------------------------------------------------------


def test_options_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="unknown diffusers option"):
        DiffusersOptions.parse({"stepz": 3})
    with pytest.raises(ValueError, match="steps"):
        DiffusersOptions.parse({"steps": "many"})
    with pytest.raises(ValueError, match="dtype"):
        DiffusersOptions.parse({"dtype": "int3"})
    parsed = DiffusersOptions.parse({"compile": "true", "vram_budget_gb": 12, "dtype": "BF16"})
    assert parsed.compile
    assert parsed.budget_bytes() == 12 * GB
    assert parsed.dtype == "bf16"
    monkeypatch.setenv("CREATIX_DEVICE", "cpu")
    assert DiffusersOptions().requested_device() == "cpu"
    assert DiffusersOptions(device="cuda:1").requested_device() == "cuda:1"
    monkeypatch.delenv("CREATIX_DEVICE")
    assert DiffusersOptions().requested_device() == "auto"


def test_cpu_defaults_to_float32() -> None:

    engine = DiffusersEngine.from_options({"device": "cpu"})
    assert engine.device == torch.device("cpu")
    assert engine.dtype == torch.float32
    assert engine.residency.budget_bytes is None
    assert DiffusersEngine.from_options({"device": "cpu", "dtype": "bf16"}).dtype == (
        torch.bfloat16
    )


def test_the_registry_reports_a_misconfigured_engine() -> None:
    registry = EngineRegistry(
        {
            "local": EngineEntry(type="diffusers", options={"device": "cpu", "steps": 2}),
            "typo": EngineEntry(type="diffusers", options={"stepz": 2}),
        }
    )
    assert registry.status("local").available
    assert registry.engine("local").name == "diffusers"
    status = registry.status("typo")
    assert not status.available
    assert status.reason is not None
    assert "stepz" in status.reason
