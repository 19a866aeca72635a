"""The preview engine: a real engine that honours size, n, seed, prompt, style and quality."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

import pytest
from PIL import Image, ImageChops, ImageStat

from creatix.engines.base import EngineRejected, ImageEngine
from creatix.engines.preview import PreviewEngine, render
from creatix.engines.preview.engine import DELAY_TICKS
from creatix.jobs.specs import ImageSpec
from creatix.media.watermark import watermark_box

MODEL = "creatix-flash"
PROMPTS = (
    "A majestic mountain landscape at sunset with a calm lake and pine trees",
    "Minimalist product photo of luxury perfume bottle on marble table",
    "Futuristic cyberpunk city skyline at night with neon lights",
    "Portrait of a woman in a red coat",
    "Quarterly growth campaign for a fintech startup",
)
STYLES = (
    None,
    "photographic",
    "cinematic",
    "minimalist",
    "neon",
    "vintage",
    "watercolor",
    "3d-render",
    "flat-illustration",
    "vivid",
    "natural",
    "no-such-style",
)


def _spec(prompt: str = PROMPTS[0], **fields: object) -> ImageSpec:
    values: dict[str, object] = {"prompt": prompt, "width": 320, "height": 256, "seed": 7}
    values.update(fields)
    return ImageSpec.model_validate(values)


def _generate(*specs: ImageSpec) -> list[list[Image.Image]]:
    return [list(images) for images in asyncio.run(PreviewEngine().generate(MODEL, specs))]


def _differs(a: Image.Image, b: Image.Image, share: float = 0.1) -> bool:
    """More than ``share`` of the pixels differ noticeably."""
    diff = ImageChops.difference(a, b).convert("L").point(lambda v: 255 if v > 24 else 0)
    return ImageStat.Stat(diff).mean[0] / 255 > share


def test_it_is_an_image_engine() -> None:
    engine = PreviewEngine()
    assert isinstance(engine, ImageEngine)
    assert engine.name == "preview"
    assert engine.max_batch == 8


async def test_sizes_and_counts_are_exact_and_one_list_comes_back_per_spec() -> None:
    specs = [
        _spec(width=1344, height=768, n=2),
        _spec(PROMPTS[1], width=256, height=1024, n=1),
        _spec(PROMPTS[2], width=64, height=64, n=3),
    ]
    batches = await PreviewEngine().generate(MODEL, specs)
    assert [len(images) for images in batches] == [2, 1, 3]
    for spec, images in zip(specs, batches, strict=True):
        for image in images:
            assert image.size == (spec.width, spec.height)
            assert image.mode == "RGB"


@pytest.mark.parametrize("prompt", PROMPTS)
def test_the_same_spec_gives_identical_pixels(prompt: str) -> None:
    spec = _spec(prompt, n=2, quality="hd", style="cinematic")
    [first], [second] = _generate(spec), _generate(spec)
    assert [image.tobytes() for image in first] == [image.tobytes() for image in second]


@pytest.mark.slow
def test_pixels_do_not_depend_on_the_process() -> None:
    """No salted ``hash()``, no global random: a fresh interpreter draws the same picture."""
    code = (
        "import hashlib; from creatix.engines.preview import render;"
        "from creatix.jobs.specs import ImageSpec;"
        f"s = ImageSpec(prompt={PROMPTS[0]!r}, width=96, height=64, seed=3);"
        "print(hashlib.sha256(render('m', s).tobytes()).hexdigest())"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        for _ in range(2)
    }
    assert len(runs) == 1


@pytest.mark.parametrize("prompt", PROMPTS)
def test_another_seed_gives_another_composition(prompt: str) -> None:
    one = render(MODEL, _spec(prompt, seed=1))
    assert any(_differs(one, render(MODEL, _spec(prompt, seed=seed))) for seed in (2, 3))


def test_the_images_of_one_spec_differ_from_each_other() -> None:
    [images] = _generate(_spec(n=3))
    assert _differs(images[0], images[1])
    assert _differs(images[1], images[2])


def test_the_model_is_part_of_the_picture() -> None:
    spec = _spec()
    assert render("creatix-flash", spec).tobytes() != render("creatix-pro", spec).tobytes()


def _mean(image: Image.Image) -> tuple[float, float, float]:
    red, green, blue = ImageStat.Stat(image).mean
    return red, green, blue


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_colour_words_move_the_palette(seed: int) -> None:
    red = _mean(render(MODEL, _spec("a red sports car in a studio", seed=seed)))
    blue = _mean(render(MODEL, _spec("a blue sports car in a studio", seed=seed)))
    assert red[0] > blue[0] + 40
    assert blue[2] > red[2] + 40


def test_mood_words_colour_the_scene() -> None:
    sunset = _mean(render(MODEL, _spec("a field at sunset")))
    ocean = _mean(render(MODEL, _spec("a field by the ocean")))
    assert sunset[0] > ocean[0]
    assert ocean[2] > sunset[2]


def test_a_colour_in_the_negative_prompt_is_left_out() -> None:
    both = _mean(render(MODEL, _spec("red and blue balloons")))
    no_red = _mean(render(MODEL, _spec("red and blue balloons", negative_prompt="red, blurry")))
    assert no_red[0] < both[0] - 30
    assert no_red[2] > no_red[0]


def test_a_negative_colour_also_steers_a_prompt_without_colour_words() -> None:
    plain = _spec("a quiet morning", negative_prompt=None)
    rendered = {
        negative: _mean(render(MODEL, plain.model_copy(update={"negative_prompt": negative})))
        for negative in ("green", "blue")
    }
    assert rendered["green"] != rendered["blue"]


@pytest.mark.parametrize("prompt", PROMPTS)
def test_every_style_gives_its_own_picture(prompt: str) -> None:
    pictures = [render(MODEL, _spec(prompt, style=style)).tobytes() for style in STYLES]
    assert len(set(pictures)) == len(STYLES)


def test_a_known_style_changes_the_look_visibly() -> None:
    plain = render(MODEL, _spec(PROMPTS[0]))
    for style in ("vintage", "neon", "minimalist", "flat-illustration"):
        assert _differs(plain, render(MODEL, _spec(PROMPTS[0], style=style)), share=0.2)


def test_hd_quality_adds_detail() -> None:
    """More edges: craggier ridges, more glints, more stars and windows."""

    def edge_energy(image: Image.Image) -> float:
        gray = image.convert("L")
        shifted = gray.transform(gray.size, Image.Transform.AFFINE, (1, 0, 1, 0, 1, 0))
        return ImageStat.Stat(ImageChops.difference(gray, shifted)).mean[0]

    for prompt in PROMPTS[:3]:
        standard = sum(edge_energy(render(MODEL, _spec(prompt, seed=s))) for s in range(4))
        hd = sum(edge_energy(render(MODEL, _spec(prompt, seed=s, quality="hd"))) for s in range(4))
        assert hd > standard


def test_the_preview_label_stays_out_of_the_watermark_box() -> None:
    """Top-left carries the label; the watermark's corner is left to the scene."""
    image = render(MODEL, _spec(PROMPTS[4], width=512, height=512))
    label_corner = image.crop((0, 0, 40, 30)).convert("L")
    assert ImageStat.Stat(label_corner).extrema[0][1] > 200  # the label's light pill
    left, top, _, _ = watermark_box(512, 512)
    assert left > 40
    assert top > 30


@pytest.mark.parametrize(("width", "height"), [(32, 512), (512, 32), (8193, 512), (512, 9000)])
def test_validate_rejects_sides_outside_64_to_8192(width: int, height: int) -> None:
    with pytest.raises(EngineRejected) as caught:
        PreviewEngine().validate(MODEL, _spec(width=width, height=height))
    assert caught.value.param == "size"
    assert caught.value.code == "unsupported_parameters"


@pytest.mark.parametrize(("width", "height"), [(64, 64), (4096, 1024), (1344, 768), (8192, 8192)])
def test_validate_accepts_sides_inside_the_range(width: int, height: int) -> None:
    PreviewEngine().validate(MODEL, _spec(width=width, height=height))


def test_small_specs_share_a_batch_per_model() -> None:
    engine = PreviewEngine()
    a = engine.batch_key(MODEL, _spec(width=512, height=512))
    b = engine.batch_key(MODEL, _spec(PROMPTS[1], width=1344, height=768, style="neon", n=4))
    c = engine.batch_key(MODEL, _spec(width=2048, height=2048))
    assert a == b == c == f"preview:{MODEL}"
    assert engine.batch_key("other", _spec()) == "preview:other"


def test_a_large_job_is_batched_alone() -> None:
    """A batch's images are all in memory at once: eight jobs of four 8K images would be
    8 GB, so a job over four megapixels gets a key of its own."""
    engine = PreviewEngine()
    shared = engine.batch_key(MODEL, _spec(width=1024, height=1024, n=4))
    large = [engine.batch_key(MODEL, _spec(width=8192, height=8192)) for _ in range(2)]
    over = engine.batch_key(MODEL, _spec(width=2048, height=2048, n=2))
    assert len({shared, *large, over}) == 4
    assert all(key.startswith(f"preview:{MODEL}:") for key in [*large, over])


# The peak RSS of this process's memory (VmHWM, in KiB): unlike getrusage's ru_maxrss, it
# does not carry the test runner's own peak across the fork and exec.
PEAK_PROBE = """
import json, sys
from PIL import Image
from creatix.engines.preview import render
from creatix.jobs.specs import ImageSpec
def peak():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
Image.new("RGB", (64, 64)).tobytes()  # Pillow's own start-up, before the baseline
before = peak()
spec = ImageSpec(prompt=sys.argv[1], width=8192, height=8192, seed=1, style=sys.argv[2],
                 quality="hd")
image = render("nano-banana-pro-ultra", spec)
print(json.dumps({"size": image.size, "grown_kib": peak() - before}))
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
@pytest.mark.parametrize(("prompt", "style"), [(PROMPTS[0], "vintage"), (PROMPTS[3], "cinematic")])
def test_an_8k_picture_costs_a_bounded_number_of_layers(prompt: str, style: str) -> None:
    """Drawn in a fresh process, 8192x8192 with every whole-picture treatment (sepia, grain,
    letterbox, reflections, scrim): the process grows by less than two pictures' worth.
    Pillow keeps RGB at 4 bytes a pixel: one picture is 256 MiB. Before the treatments
    worked in bands it grew by 3.3 (this portrait) to 4.3 (this landscape)."""
    run = subprocess.run(
        [sys.executable, "-c", PEAK_PROBE, prompt, style],
        capture_output=True,
        text=True,
        check=True,
    )
    measured = json.loads(run.stdout)
    assert measured["size"] == [8192, 8192]
    picture_kib = 8192 * 8192 * 4 // 1024
    assert measured["grown_kib"] < 2 * picture_kib, measured


async def test_generation_leaves_the_event_loop_free() -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await PreviewEngine().generate(MODEL, [_spec(width=1024, height=1024, n=4)])
    task.cancel()
    assert ticks > 10


async def test_delay_seconds_sleeps_once_per_call() -> None:
    engine = PreviewEngine(delay_seconds=0.2)
    reports: list[tuple[float, int | None, int | None]] = []

    def report(fraction: float, *, step: int | None = None, steps: int | None = None) -> None:
        reports.append((fraction, step, steps))

    start = time.perf_counter()
    await engine.generate(
        MODEL, [_spec(width=64, height=64), _spec(width=64, height=64)], progress=report
    )
    assert time.perf_counter() - start >= 0.2
    # The delay reports its progress in DELAY_TICKS steps (one delay for the two images),
    # then each image painted is one more step.
    steps = DELAY_TICKS + 2
    assert reports == [(step / steps, step, steps) for step in range(1, steps + 1)]
    await engine.close()


async def test_each_image_painted_is_a_step_of_the_batch() -> None:
    reports: list[tuple[float, int | None, int | None]] = []

    def report(fraction: float, *, step: int | None = None, steps: int | None = None) -> None:
        reports.append((fraction, step, steps))

    await PreviewEngine().generate(
        MODEL, [_spec(width=64, height=64, n=2), _spec(width=64, height=64)], progress=report
    )
    assert reports == [(1 / 3, 1, 3), (2 / 3, 2, 3), (1.0, 3, 3)]


def test_a_prompt_without_latin_words_still_renders() -> None:
    image = render(MODEL, _spec("日本の桜と富士山", width=256, height=256))
    assert image.size == (256, 256)
