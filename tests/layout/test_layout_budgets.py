"""Character budgets: copy of exactly a placement's budget fits it in every bundled font;
one character more is refused, naming the placement."""

from __future__ import annotations

import itertools

import pytest
from layout_samples import VISUALS, style

from creatix.layout import (
    PLACEMENTS,
    AdCopy,
    LayoutInputError,
    Placement,
    bundled_fonts,
    check_copy_fits,
    compose,
    custom_placement,
)

WORDS = [
    "Discover",
    "Wonderful",
    "Flavours",
    "Roasted",
    "Fresh",
    "Every",
    "Morning",
    "From",
    "Small",
    "Farms",
    "With",
    "Free",
    "Delivery",
    "Today",
    "And",
    "Save",
    "More",
    "On",
    "Your",
    "First",
    "Order",
    "Handpicked",
    "Mountain",
    "Beans",
]

LEGAL = "Offer ends 31 May. Terms apply; see our website for details."


def text_of_length(length: int, *, title: bool, start: int = 0) -> str:
    """Real words (title case for headlines: wider) cut to exactly ``length`` characters,
    ending on a letter."""
    words = itertools.cycle(WORDS[start:] + WORDS[:start])
    text = ""
    while len(text) < length:
        word = next(words)
        text = f"{text} {word if title else word.lower()}".strip()
    text = text[:length]
    return text[:-1] + "s" if text.endswith(" ") else text


def budget_copy(placement: Placement, extra: int = 0) -> AdCopy:
    return AdCopy(
        headline=text_of_length(placement.headline_chars + extra, title=True),
        body=text_of_length(placement.body_chars, title=False, start=5),
        cta=text_of_length(placement.cta_chars, title=True, start=11),
        legal=LEGAL,
    )


CUSTOM = [(640, 480), (1000, 120), (200, 700), (2000, 1000), (512, 1024), (1080, 1080)]


@pytest.mark.parametrize("font", sorted(bundled_fonts()))
@pytest.mark.parametrize(
    "placement",
    [*PLACEMENTS.values(), *(custom_placement(*size) for size in CUSTOM)],
    ids=lambda p: p.name,
)
def test_copy_at_the_budget_fits_in_every_bundled_font(placement: Placement, font: str) -> None:
    copy = budget_copy(placement)
    assert len(copy.headline) == placement.headline_chars
    check_copy_fits(copy, placement)
    result = compose(VISUALS["plain"](), copy, style(font=bundled_fonts()[font]), placement)
    roles = {t.role for t in result.text_boxes}
    assert roles == {"headline", "cta", "legal"} | ({"body"} if placement.body_chars else set())


@pytest.mark.parametrize("name", sorted(PLACEMENTS))
def test_a_headline_over_budget_is_refused_naming_the_placement(name: str) -> None:
    placement = PLACEMENTS[name]
    copy = budget_copy(placement, extra=1)
    with pytest.raises(LayoutInputError) as caught:
        check_copy_fits(copy, placement)
    assert caught.value.field == "copy.headline"
    assert caught.value.placement == name
    assert name in caught.value.message
    with pytest.raises(LayoutInputError):
        compose(VISUALS["plain"](), copy, style(), placement)


def test_the_cta_and_body_budgets_are_checked_too() -> None:
    story = PLACEMENTS["story"]
    long_cta = AdCopy("Sale", "", text_of_length(story.cta_chars + 1, title=True), None)
    with pytest.raises(LayoutInputError) as caught:
        check_copy_fits(long_cta, story)
    assert caught.value.field == "copy.cta"
    long_body = AdCopy("Sale", text_of_length(story.body_chars + 1, title=False), "Go", None)
    with pytest.raises(LayoutInputError) as caught:
        check_copy_fits(long_body, story)
    assert caught.value.field == "copy.body"


def test_a_placement_without_room_for_a_body_ignores_it() -> None:
    banner = PLACEMENTS["display_728x90"]
    assert banner.body_chars == 0
    copy = AdCopy("Fresh coffee daily", "A body line far longer than any banner " * 5, "Buy", None)
    check_copy_fits(copy, banner)
    result = compose(VISUALS["plain"](), copy, style(), banner)
    assert "body" not in {t.role for t in result.text_boxes}


def test_an_empty_headline_is_refused() -> None:
    with pytest.raises(LayoutInputError) as caught:
        check_copy_fits(AdCopy("   ", "", "Go"), PLACEMENTS["story"])
    assert caught.value.field == "copy.headline"


def test_a_word_too_wide_for_a_tiny_placement_is_refused_not_cut() -> None:
    tiny = custom_placement(64, 64)
    word = "W" * tiny.headline_chars
    with pytest.raises(LayoutInputError) as caught:
        compose(VISUALS["plain"](), AdCopy(word, "", ""), style(), tiny)
    assert caught.value.placement == tiny.name
    assert tiny.name in caught.value.message


@pytest.mark.parametrize("size", [(63, 500), (500, 4097), (0, 0)])
def test_custom_sizes_out_of_range_are_refused(size: tuple[int, int]) -> None:
    with pytest.raises(LayoutInputError) as caught:
        custom_placement(*size)
    assert caught.value.field in {"width", "height"}


def test_the_nine_presets_have_their_sizes() -> None:
    sizes = {name: (p.width, p.height) for name, p in PLACEMENTS.items()}
    assert sizes == {
        "square_feed": (1080, 1080),
        "portrait_feed": (1080, 1350),
        "story": (1080, 1920),
        "landscape_link": (1200, 628),
        "display_300x250": (300, 250),
        "display_728x90": (728, 90),
        "display_160x600": (160, 600),
        "display_300x600": (300, 600),
        "display_970x250": (970, 250),
    }
    _, top, _, bottom = PLACEMENTS["story"].safe_zone
    assert top >= 0.14 * 1920 - 1
    assert bottom <= 1920 - 0.20 * 1920 + 1
