"""compose() on every preset and custom sizes, measured from the pixels it made.

Each composition is checked against its backdrop (the same creative without the text's
glyphs, from ``compose_layers``): every pixel the text changed lies inside a reported text box,
every box lies inside the placement's safe zone, and the colour the glyphs were drawn in has
WCAG contrast >= 4.5:1 against the worst pixel behind each box, computed here independently.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from layout_samples import COPY, VISUALS, logo, style, text_colour, worst_contrast
from PIL import Image, ImageDraw

from creatix.layout import (
    PLACEMENTS,
    AdCopy,
    BrandStyle,
    Composition,
    Placement,
    compose,
    compose_layers,
    custom_placement,
    rasterize_logo,
)

Box = tuple[int, int, int, int]


def _inside(box: Box, zone: Box) -> bool:
    return zone[0] <= box[0] and zone[1] <= box[1] and box[2] <= zone[2] and box[3] <= zone[3]


def _check(placement: Placement, visual: Image.Image, kit_text: tuple[int, int, int]) -> None:
    kit = style(text=kit_text)
    palette = [kit.text, kit.secondary, kit.background, (255, 255, 255), (0, 0, 0)]
    layers = compose_layers(visual, COPY, kit, placement)
    result = layers.composition
    assert result.image.size == (placement.width, placement.height)
    assert result.image.mode == "RGB"
    image = np.asarray(result.image)
    backdrop = np.asarray(layers.backdrop)
    changed = np.any(image != backdrop, axis=-1)
    covered = np.zeros_like(changed)
    roles = [t.role for t in result.text_boxes]
    assert roles == ["headline", *(["body"] if placement.body_chars else []), "cta", "legal"]
    for text in result.text_boxes:
        left, top, right, bottom = text.box
        assert _inside(text.box, placement.safe_zone), (text.role, text.box, placement.safe_zone)
        inside = changed[top:bottom, left:right]
        assert inside.sum() > 0, f"nothing drawn in the {text.role} box"
        covered[top:bottom, left:right] = True
        colour = text_colour(
            image[top:bottom, left:right], backdrop[top:bottom, left:right], palette
        )
        measured = worst_contrast(colour, backdrop[top:bottom, left:right])
        assert measured >= 4.5, (text.role, colour, measured)
        assert text.contrast == pytest.approx(measured, rel=1e-3)
    # Not one glyph pixel outside the boxes: nothing overflowed or was clipped at an edge.
    assert not np.any(changed & ~covered)
    assert result.logo_box is not None
    assert _inside(result.logo_box, placement.safe_zone)


@pytest.mark.parametrize("visual", sorted(VISUALS))
@pytest.mark.parametrize("name", sorted(PLACEMENTS))
def test_every_preset_on_every_visual_keeps_text_legible_and_safe(name: str, visual: str) -> None:
    _check(PLACEMENTS[name], VISUALS[visual](), kit_text=(255, 255, 255))


@pytest.mark.parametrize("name", sorted(PLACEMENTS))
def test_a_kit_with_dark_text_gets_a_light_scrim_where_needed(name: str) -> None:
    _check(PLACEMENTS[name], VISUALS["dark"](), kit_text=(30, 30, 40))


@pytest.mark.parametrize("size", [(640, 480), (1000, 64), (64, 400), (2000, 1000), (512, 1024)])
def test_custom_sizes_compose(size: tuple[int, int]) -> None:
    placement = custom_placement(*size)
    copy = AdCopy(
        headline="Fresh coffee daily"[: placement.headline_chars],
        body="Beans from small farms."[: placement.body_chars],
        cta="Order now"[: placement.cta_chars],
        legal="Terms apply.",
    )
    result = compose(VISUALS["busy"](), copy, style(), placement)
    assert result.image.size == size
    for text in result.text_boxes:
        assert _inside(text.box, placement.safe_zone)
        assert text.contrast >= 4.5


def test_a_kit_whose_text_colour_matches_its_background_still_reaches_contrast() -> None:
    kit = style(text=(250, 248, 240), background=(250, 248, 240), primary=(119, 119, 119))
    for placement in PLACEMENTS.values():
        result = compose(VISUALS["plain"](), COPY, kit, placement)
        assert all(t.contrast >= 4.5 for t in result.text_boxes), placement.name


def test_the_button_is_in_the_primary_colour_with_contrasting_text() -> None:
    result = compose(VISUALS["plain"](), COPY, style(primary=(20, 90, 200)), PLACEMENTS["story"])
    cta = next(t for t in result.text_boxes if t.role == "cta")
    left, top, _, bottom = cta.box
    pixels = np.asarray(result.image)
    # The button extends beyond the label's glyphs: just left of them is the primary colour.
    assert tuple(pixels[(top + bottom) // 2, left - 3]) == (20, 90, 200)
    assert cta.contrast >= 4.5


@pytest.mark.parametrize("name", sorted(PLACEMENTS))
def test_the_logo_is_at_its_box(name: str) -> None:
    placement = PLACEMENTS[name]
    result: Composition = compose(VISUALS["busy"](), COPY, style(), placement)
    assert result.logo_box is not None
    left, top, right, bottom = result.logo_box
    expected = np.asarray(
        logo().convert("RGB").resize((right - left, bottom - top), Image.Resampling.LANCZOS),
        dtype=np.int16,
    )
    placed = np.asarray(result.image.crop(result.logo_box), dtype=np.int16)
    assert np.abs(placed - expected).mean() < 2.0
    # The logo keeps its aspect ratio (240:96) within a pixel.
    assert abs((right - left) / (bottom - top) - 2.5) < 2.5 / min(bottom - top, 40)


def test_without_a_logo_there_is_no_logo_box() -> None:
    result = compose(VISUALS["plain"](), COPY, style(with_logo=False), PLACEMENTS["square_feed"])
    assert result.logo_box is None


def test_compose_is_deterministic() -> None:
    first = compose(VISUALS["busy"](), COPY, style(), PLACEMENTS["portrait_feed"])
    second = compose(VISUALS["busy"](), COPY, style(), PLACEMENTS["portrait_feed"])
    assert first.image.tobytes() == second.image.tobytes()
    assert first.text_boxes == second.text_boxes
    layered = compose_layers(VISUALS["busy"](), COPY, style(), PLACEMENTS["portrait_feed"])
    assert layered.composition.image.tobytes() == first.image.tobytes()
    assert layered.composition.text_boxes == first.text_boxes


def test_visuals_in_other_modes_are_accepted() -> None:
    rgba = VISUALS["plain"]().convert("RGBA")
    grey = VISUALS["plain"]().convert("L")
    for visual in (rgba, grey):
        result = compose(visual, COPY, style(), PLACEMENTS["display_300x250"])
        assert result.image.mode == "RGB"


def _subject_at(y: int) -> Image.Image:
    image = Image.new("RGB", (1200, 1200), (90, 110, 130))
    ImageDraw.Draw(image).ellipse((450, y - 150, 750, y + 150), fill=(250, 200, 40))
    return image


@pytest.mark.parametrize("name", ["square_feed", "story", "display_300x250"])
def test_the_text_goes_where_the_subject_is_not(name: str) -> None:
    placement = PLACEMENTS[name]
    middle = (placement.safe_zone[1] + placement.safe_zone[3]) / 2
    high = compose(_subject_at(300), COPY, style(), placement)
    low = compose(_subject_at(950), COPY, style(), placement)
    # The column hangs from the top over a subject down low, stands on the bottom under one
    # up high.
    assert low.text_boxes[0].box[3] < middle < high.text_boxes[-1].box[1]
    assert low.text_boxes[0].box[1] < high.text_boxes[0].box[1]
    for result in (high, low):
        assert all(t.contrast >= 4.5 for t in result.text_boxes)


@pytest.mark.parametrize("name", sorted(PLACEMENTS))
def test_a_headline_alone_composes(name: str) -> None:
    result = compose(
        VISUALS["plain"](), AdCopy("Fresh coffee", "", "", None), style(), PLACEMENTS[name]
    )
    assert [t.role for t in result.text_boxes] == ["headline"]
    assert result.text_boxes[0].contrast >= 4.5


def test_an_svg_logo_lands_on_the_creative() -> None:
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 300 100">'
        b'<rect width="300" height="100" fill="#1e64c8"/></svg>'
    )
    kit = style()
    kit = BrandStyle(
        kit.primary, kit.secondary, kit.background, kit.text, kit.font, rasterize_logo(svg)
    )
    result = compose(VISUALS["dark"](), COPY, kit, PLACEMENTS["landscape_link"])
    assert result.logo_box is not None
    left, top, right, bottom = result.logo_box
    assert (right - left) / (bottom - top) == pytest.approx(3.0, rel=0.05)
    centre = result.image.getpixel(((left + right) // 2, (top + bottom) // 2))
    assert centre == (30, 100, 200)


def _solid_logo(colour: tuple[int, int, int]) -> Image.Image:
    return Image.new("RGBA", (200, 100), (*colour, 255))


@pytest.mark.parametrize(
    ("logo_colour", "plated"), [((20, 20, 30), True), ((250, 250, 250), False)]
)
def test_a_logo_that_would_vanish_into_the_picture_gets_a_plate(
    logo_colour: tuple[int, int, int], plated: bool
) -> None:
    kit = style(background=(250, 248, 240))
    kit = BrandStyle(
        kit.primary, kit.secondary, kit.background, kit.text, kit.font, _solid_logo(logo_colour)
    )
    result = compose(VISUALS["dark"](), COPY, kit, PLACEMENTS["square_feed"])
    assert result.logo_box is not None
    left, top, right, bottom = result.logo_box
    image = np.asarray(result.image)
    assert tuple(image[(top + bottom) // 2, (left + right) // 2]) == logo_colour
    beside = tuple(image[(top + bottom) // 2, left - 3])
    assert (beside == (250, 248, 240)) is plated


def test_compose_leaves_the_visual_and_the_logo_as_they_were() -> None:
    visual = VISUALS["plain"]()
    kit = style()
    assert kit.logo is not None
    before, logo_before = visual.tobytes(), kit.logo.tobytes()
    for placement in PLACEMENTS.values():
        compose(visual, COPY, kit, placement)
    assert visual.tobytes() == before
    assert kit.logo.tobytes() == logo_before


def test_composing_in_threads_gives_the_same_creatives() -> None:
    visual, kit = VISUALS["busy"](), style()
    jobs = [PLACEMENTS[name] for name in sorted(PLACEMENTS)] * 2
    alone = [compose(visual, COPY, kit, placement).image.tobytes() for placement in jobs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda p: compose(visual, COPY, kit, p).image.tobytes(), jobs))
    assert together == alone
