"""Word wrap and the subject-aware crop."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from creatix.layout import bundled_fonts
from creatix.layout.saliency import crop_box, fill, focal_point
from creatix.layout.typeset import set_text, wrap

WORD = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789,.!'",
    min_size=1,
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(
    words=st.lists(WORD, min_size=1, max_size=20),
    width=st.integers(40, 900),
    size=st.integers(8, 90),
    lines=st.integers(1, 5),
)
def test_wrapping_keeps_every_word_whole_and_every_line_inside(
    words: list[str], width: int, size: int, lines: int
) -> None:
    face = bundled_fonts()["open-sans-bold"]
    text = " ".join(words)
    font = face.at(size)
    for exact in (True, False):
        result = set_text(
            face, "headline", text, size=size, width=width, max_lines=lines, exact=exact
        )
        if result is None:
            # Refused only when a word is too wide or the lines run out.
            greedy = wrap(text, font, width, lines)
            if exact:
                assert greedy is None
            continue
        assert " ".join(result.lines).split() == words
        assert len(result.lines) <= lines
        if exact:
            assert all(font.getlength(line) <= width for line in result.lines)


def _with_subject(at: tuple[int, int]) -> Image.Image:
    image = Image.new("RGB", (1200, 800), (120, 130, 140))
    x, y = at
    ImageDraw.Draw(image).ellipse((x - 80, y - 80, x + 80, y + 80), fill=(250, 40, 30))
    return image


@pytest.mark.parametrize("at", [(200, 200), (1000, 600), (600, 400), (1050, 150)])
def test_the_focal_point_finds_the_subject(at: tuple[int, int]) -> None:
    fx, fy = focal_point(_with_subject(at))
    assert abs(fx * 1200 - at[0]) < 120
    assert abs(fy * 800 - at[1]) < 120


def test_a_flat_picture_is_cropped_around_its_middle() -> None:
    fx, fy = focal_point(Image.new("RGB", (900, 600), (40, 40, 40)))
    assert (fx, fy) == pytest.approx((0.5, 0.5), abs=0.05)


def test_the_crop_keeps_the_subject_in_view() -> None:
    picture = _with_subject((1050, 400))
    tall = fill(picture, (400, 800), focal_point(picture))
    assert tall.size == (400, 800)
    left, top, right, bottom = crop_box(picture.size, (400, 800), focal_point(picture))
    assert left <= 1050 - 80
    assert right >= 1050 + 80
    assert (right - left) / (bottom - top) == pytest.approx(0.5)
    # The subject's red is in the cropped picture.
    pixels = np.asarray(tall, dtype=np.int16)
    assert (pixels[..., 0] - pixels[..., 2]).max() > 150
