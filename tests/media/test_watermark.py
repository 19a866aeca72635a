"""The visible watermark sits in its box, changes only that box, and reads as a dark plate."""

from __future__ import annotations

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageStat

from creatix.media.sizing import ASPECT_RATIOS, SIZE_SIDES, dimensions
from creatix.media.watermark import apply_watermark, mark_in_place, watermark_box

SHAPES = sorted(
    {dimensions(side, ratio) for side in SIZE_SIDES.values() for ratio in ASPECT_RATIOS}
    | {(64, 64), (64, 4096), (4096, 64), (100, 70), (4096, 4096)}
)


def _busy_image(width: int, height: int) -> Image.Image:
    """Every pixel differs from its neighbours, so any stray change shows."""
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    draw = ImageDraw.Draw(image)
    for x in range(0, width, 7):
        draw.line((x, 0, x, height), fill=(x % 256, 80, 200), width=2)
    return image


@pytest.mark.parametrize(("width", "height"), SHAPES)
def test_the_box_lies_inside_the_image_in_the_bottom_right(width: int, height: int) -> None:
    left, top, right, bottom = watermark_box(width, height)
    assert 0 <= left < right <= width
    assert 0 <= top < bottom <= height
    assert left > width / 2
    assert top > height / 2


@pytest.mark.parametrize(("width", "height"), [(512, 512), (1344, 768), (512, 2048), (2048, 512)])
def test_only_pixels_inside_the_box_change(width: int, height: int) -> None:
    original = _busy_image(width, height)
    marked = apply_watermark(original)
    changed = ImageChops.difference(original, marked).getbbox()
    assert changed is not None
    left, top, right, bottom = watermark_box(width, height)
    assert left <= changed[0]
    assert top <= changed[1]
    assert changed[2] <= right
    assert changed[3] <= bottom


def test_the_plate_is_darker_than_a_white_image_and_carries_light_text() -> None:
    white = Image.new("RGB", (1024, 1024), (255, 255, 255))
    marked = apply_watermark(white)
    plate = marked.crop(watermark_box(1024, 1024)).convert("L")
    assert ImageStat.Stat(plate).mean[0] < 180
    darkest, lightest = ImageStat.Stat(plate).extrema[0]
    assert lightest - darkest > 100  # the lettering stands out from the plate


def test_the_input_is_left_alone_and_the_result_is_rgb() -> None:
    original = Image.new("RGBA", (512, 512), (10, 200, 30, 255))
    before = original.tobytes()
    marked = apply_watermark(original)
    assert original.tobytes() == before
    assert marked.mode == "RGB"
    assert marked.size == original.size


def test_watermarking_is_deterministic() -> None:
    image = _busy_image(768, 1344)
    assert apply_watermark(image).tobytes() == apply_watermark(image).tobytes()


def test_the_plate_grows_with_the_image() -> None:
    def plate_height(side: int) -> int:
        _, top, _, bottom = watermark_box(side, side)
        return bottom - top

    assert plate_height(512) < plate_height(1024) < plate_height(4096)
    assert plate_height(512) >= 18


def test_marking_in_place_draws_the_same_mark_without_a_copy() -> None:
    image = _busy_image(1344, 768)
    expected = apply_watermark(image).tobytes()
    mark_in_place(image)
    assert image.tobytes() == expected
    with pytest.raises(ValueError, match="RGB"):
        mark_in_place(Image.new("RGBA", (64, 64)))
