"""Any copy within budget, any kit colours, any size: the creative keeps its promises or the
copy is refused with a LayoutInputError naming the placement, never anything else."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from layout_samples import VISUALS, style

from creatix.layout import (
    PLACEMENTS,
    AdCopy,
    LayoutInputError,
    Placement,
    bundled_fonts,
    compose,
    custom_placement,
)

VISUAL_CACHE = {name: make() for name, make in VISUALS.items()}
COLOUR = st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255))
WORD = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ,.!'&%0123456789-",
    min_size=1,
    max_size=9,
)
PLACEMENT = st.one_of(
    st.sampled_from(sorted(PLACEMENTS)).map(PLACEMENTS.__getitem__),
    st.builds(custom_placement, st.integers(64, 2000), st.integers(64, 2000)),
)


def _words(budget: int) -> st.SearchStrategy[str]:
    return st.lists(WORD, max_size=12).map(lambda words: " ".join(words)[:budget].strip())


@st.composite
def cases(draw: st.DrawFn) -> tuple[Placement, AdCopy, dict[str, object], str]:
    placement = draw(PLACEMENT)
    headline = draw(_words(placement.headline_chars).filter(bool))
    copy = AdCopy(
        headline=headline,
        body=draw(_words(placement.body_chars)),
        cta=draw(_words(placement.cta_chars)),
        legal=draw(st.none() | _words(80)),
    )
    kit = {
        "text": draw(COLOUR),
        "background": draw(COLOUR),
        "primary": draw(COLOUR),
        "font": bundled_fonts()[draw(st.sampled_from(sorted(bundled_fonts())))],
        "with_logo": draw(st.booleans()),
    }
    return placement, copy, kit, draw(st.sampled_from(sorted(VISUAL_CACHE)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases())
def test_any_creative_is_legible_and_inside_its_safe_zone(
    case: tuple[Placement, AdCopy, dict[str, object], str],
) -> None:
    placement, copy, kit, visual = case
    refused: LayoutInputError | None = None
    try:
        result = compose(VISUAL_CACHE[visual], copy, style(**kit), placement)  # type: ignore[arg-type]
    except LayoutInputError as error:
        refused = error
    if refused is not None:
        assert refused.placement == placement.name
        return
    assert result.image.size == (placement.width, placement.height)
    left, top, right, bottom = placement.safe_zone
    for text in result.text_boxes:
        assert text.contrast >= 4.5, (text.role, text.contrast)
        assert left <= text.box[0] <= text.box[2] <= right, (text.role, text.box)
        assert top <= text.box[1] <= text.box[3] <= bottom, (text.role, text.box)
    if result.logo_box is not None:
        assert left <= result.logo_box[0] <= result.logo_box[2] <= right
        assert top <= result.logo_box[1] <= result.logo_box[3] <= bottom
