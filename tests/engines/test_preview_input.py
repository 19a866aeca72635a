"""The preview engine composes an input image into the picture."""

from __future__ import annotations

import asyncio
import io

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageStat

from creatix.engines.base import EngineError
from creatix.engines.preview import PreviewEngine, render
from creatix.jobs.specs import ImageSpec
from creatix.media.watermark import apply_watermark

MODEL = "creatix-pro"
MAGENTA = (255, 0, 255)
PROMPTS = (
    "Minimalist product photo of luxury perfume bottle on marble table",
    "A majestic mountain landscape at sunset with a calm lake and pine trees",
    "Futuristic cyberpunk city skyline at night with neon lights",
    "Portrait of a woman in a red coat",
    "Quarterly growth campaign for a fintech startup",
)


def _spec(prompt: str = PROMPTS[0], **fields: object) -> ImageSpec:
    values: dict[str, object] = {"prompt": prompt, "width": 320, "height": 256, "seed": 7}
    values.update(fields)
    return ImageSpec.model_validate(values)


def _solid(colour: tuple[int, int, int] = MAGENTA, size: tuple[int, int] = (60, 40)) -> Image.Image:
    return Image.new("RGB", size, colour)


def _generate(
    specs: list[ImageSpec], inputs: list[Image.Image | None] | None
) -> list[list[Image.Image]]:
    return [list(images) for images in asyncio.run(PreviewEngine().generate(MODEL, specs, inputs))]


def _mask(image: Image.Image, colour: tuple[int, int, int], tolerance: int) -> Image.Image:
    """White where a pixel is within ``tolerance`` of ``colour`` on every channel."""
    bands = [
        band.point(lambda v, c=value: 255 if abs(v - c) <= tolerance else 0)
        for band, value in zip(image.convert("RGB").split(), colour, strict=True)
    ]
    return ImageChops.multiply(ImageChops.multiply(bands[0], bands[1]), bands[2])


def _share_of(image: Image.Image, colour: tuple[int, int, int], tolerance: int = 8) -> float:
    """The share of pixels within ``tolerance`` of ``colour``."""
    return ImageStat.Stat(_mask(image, colour, tolerance)).mean[0] / 255


def _bounding_box(
    image: Image.Image, colour: tuple[int, int, int], tolerance: int = 0
) -> tuple[int, int, int, int]:
    box = _mask(image, colour, tolerance).getbbox()
    assert box is not None
    return box


@pytest.mark.parametrize("prompt", PROMPTS)
@pytest.mark.parametrize("style", [None, "cinematic", "vintage", "flat-illustration", "neon"])
def test_the_input_is_in_the_picture_in_its_own_colours(prompt: str, style: str | None) -> None:
    spec = _spec(prompt, style=style)
    plain = render(MODEL, spec)
    [[with_input]] = _generate([spec], [_solid()])
    assert with_input.size == plain.size
    assert _share_of(plain, MAGENTA) < 0.001
    assert _share_of(with_input, MAGENTA, tolerance=0) > 0.1
    assert ImageChops.difference(plain, with_input).getbbox() is not None


def test_without_an_input_the_picture_is_unchanged() -> None:
    specs = [_spec(n=2), _spec(PROMPTS[2], width=128, height=200)]
    expected = [[render(MODEL, spec, i) for i in range(spec.n)] for spec in specs]
    for inputs in (None, [None, None]):
        got = _generate(specs, inputs)
        assert [[image.tobytes() for image in images] for images in got] == [
            [image.tobytes() for image in images] for images in expected
        ]


def test_size_and_n_are_honoured_and_only_the_spec_with_an_input_gets_it() -> None:
    specs = [_spec(width=1344, height=768, n=3), _spec(width=64, height=64), _spec(n=2)]
    batches = _generate(specs, [_solid(), _solid(size=(7, 5)), None])
    assert [len(images) for images in batches] == [3, 1, 2]
    for spec, images in zip(specs, batches, strict=True):
        for image in images:
            assert image.size == (spec.width, spec.height)
            assert image.mode == "RGB"
    assert all(_share_of(image, MAGENTA, 0) > 0.05 for image in [*batches[0], *batches[1]])
    assert all(_share_of(image, MAGENTA) < 0.001 for image in batches[2])
    assert [image.tobytes() for image in batches[2]] == [
        render(MODEL, specs[2], i).tobytes() for i in range(2)
    ]


def test_the_same_spec_and_input_give_identical_pixels() -> None:
    source = Image.effect_mandelbrot((300, 200), (-2.0, -1.2, 1.0, 1.2), 50).convert("RGB")
    first = _generate([_spec(n=2)], [source])
    second = _generate([_spec(n=2)], [source.copy()])
    assert [i.tobytes() for i in first[0]] == [i.tobytes() for i in second[0]]


@pytest.mark.parametrize(
    ("width", "height", "source_size"),
    [
        (1024, 1024, (600, 400)),
        (512, 1024, (300, 900)),
        (2048, 512, (800, 800)),
        (320, 256, (1000, 40)),
        (320, 256, (40, 1000)),
    ],
)
def test_the_input_keeps_its_aspect_ratio_and_stays_inside(
    width: int, height: int, source_size: tuple[int, int]
) -> None:
    [[image]] = _generate([_spec(width=width, height=height)], [_solid(size=source_size)])
    left, top, right, bottom = _bounding_box(image, MAGENTA)
    assert 0 < left < right < width
    assert 0 < top < bottom < height
    drawn = (right - left) / (bottom - top)
    wanted = source_size[0] / source_size[1]
    assert drawn == pytest.approx(wanted, rel=0.1)


def test_the_watermark_and_label_stay_clear_of_the_input() -> None:
    spec = _spec(width=768, height=768)
    [[image]] = _generate([spec], [_solid(size=(400, 400))])
    marked = apply_watermark(image)
    assert _share_of(marked, MAGENTA, 0) == pytest.approx(_share_of(image, MAGENTA, 0))
    assert image.getpixel((30, 30)) != MAGENTA  # the PREVIEW label's corner


def test_transparent_and_rotated_inputs() -> None:
    clear = Image.new("RGBA", (80, 80), (0, 0, 0, 0))
    ImageDraw.Draw(clear).rectangle((20, 20, 60, 60), (*MAGENTA, 255))
    [[image]] = _generate([_spec()], [clear])
    assert _share_of(image, MAGENTA, 0) > 0.01
    plain = render(MODEL, _spec())
    # The clear part shows the card, not black.
    assert _share_of(image, (0, 0, 0), 2) <= _share_of(plain, (0, 0, 0), 2) + 0.001

    tall = Image.new("RGB", (40, 120), MAGENTA)
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # stored tall, shown rotated 90° clockwise: wide
    tall.save(buffer, "JPEG", exif=exif, quality=100)
    with Image.open(io.BytesIO(buffer.getvalue())) as stored:
        decoded = stored.convert("RGB")
    [[image]] = _generate([_spec(width=512, height=512)], [decoded])
    left, top, right, bottom = _bounding_box(image, MAGENTA, tolerance=40)
    assert right - left > 2 * (bottom - top)


def test_one_input_per_spec() -> None:
    with pytest.raises(EngineError):
        _generate([_spec(), _spec()], [_solid()])
