"""compose() on every preset: the creative's size, its texts inside the safe zone, contrast."""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw

from creatix.layout import (
    PLACEMENTS,
    AdCopy,
    BrandStyle,
    Composition,
    bundled_fonts,
    compose,
    custom_placement,
)

COPY = AdCopy(
    headline="Fresh coffee, roasted daily",
    body="Beans from small farms, at your door in two days.",
    cta="Order now",
    legal="Terms apply. See site for details.",
)


def _visual() -> Image.Image:
    image = Image.new("RGB", (1536, 1536), (200, 180, 90))
    ImageDraw.Draw(image).ellipse((900, 300, 1300, 700), fill=(30, 60, 200))
    return image


def _style() -> BrandStyle:
    return BrandStyle(
        primary=(230, 80, 20),
        secondary=(20, 20, 80),
        background=(250, 248, 240),
        text=(255, 255, 255),
        font=bundled_fonts()["open-sans-bold"],
        logo=Image.new("RGBA", (200, 80), (220, 30, 30, 255)),
    )


def _inside(box: tuple[int, int, int, int], zone: tuple[int, int, int, int]) -> bool:
    return zone[0] <= box[0] and zone[1] <= box[1] and box[2] <= zone[2] and box[3] <= zone[3]


@pytest.mark.parametrize("name", sorted(PLACEMENTS))
def test_every_preset_composes_inside_its_safe_zone(name: str) -> None:
    placement = PLACEMENTS[name]
    result = compose(_visual(), COPY, _style(), placement)
    assert isinstance(result, Composition)
    assert result.image.size == (placement.width, placement.height)
    assert result.image.mode == "RGB"
    roles = [t.role for t in result.text_boxes]
    assert roles[0] == "headline"
    assert "cta" in roles
    assert "legal" in roles
    assert ("body" in roles) == (placement.body_chars > 0)
    for text in result.text_boxes:
        assert _inside(text.box, placement.safe_zone), (text.role, text.box)
        assert text.contrast >= 4.5, (text.role, text.contrast)
    assert result.logo_box is not None
    assert _inside(result.logo_box, placement.safe_zone)


def test_a_custom_size_composes() -> None:
    placement = custom_placement(640, 480)
    result = compose(_visual(), COPY, _style(), placement)
    assert result.image.size == (640, 480)
