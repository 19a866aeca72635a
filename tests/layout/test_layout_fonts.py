"""Fonts: bundled faces, uploads validated, and the kit's font is the one on the creative."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest
from layout_samples import VISUALS, style
from PIL import Image, ImageDraw, ImageFont

from creatix.layout import (
    PLACEMENTS,
    AdCopy,
    FontFace,
    LayoutInputError,
    bundled_fonts,
    compose_layers,
    load_font,
    missing_glyphs,
)
from creatix.layout.fonts import FONT_DIR, MAX_FONT_BYTES


def test_bundled_fonts_load_and_carry_their_licences() -> None:
    fonts = bundled_fonts()
    assert {"open-sans-bold", "open-sans", "roboto-bold", "liberation-serif-bold"} <= set(fonts)
    for face in fonts.values():
        assert load_font(face.data).data == face.data
    licences = {path.name for path in FONT_DIR.iterdir() if path.suffix == ".txt"}
    assert "LICENSE-Apache-2.0.txt" in licences
    assert "LiberationSerif-LICENSE-OFL.txt" in licences
    total = sum(path.stat().st_size for path in FONT_DIR.iterdir())
    assert total < 3 * 1024 * 1024


def test_an_uploaded_font_is_named_from_its_own_tables_and_survives_pickling() -> None:
    data = bundled_fonts()["roboto-bold"].data
    face = load_font(data)
    assert face.name == "Roboto Bold"
    again = pickle.loads(pickle.dumps(face))
    assert again == face
    assert again.at(20).getlength("Hello") == face.at(20).getlength("Hello")


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, I am not a font",
        _png(),
        b"wOFF" + b"\x00" * 200,  # WOFF is not accepted
        b"ttcf" + b"\x00" * 200,  # nor collections
        b"\x00\x01\x00\x00" + b"\x00" * 2000,  # the magic alone, no tables
        bundled_fonts()["open-sans"].data[:3000],  # a truncated real font
    ],
    ids=["empty", "text", "png", "woff", "ttc", "magic-only", "truncated"],
)
def test_a_file_that_is_not_a_font_is_refused(data: bytes) -> None:
    with pytest.raises(LayoutInputError) as caught:
        load_font(data)
    assert caught.value.field == "font"


def test_a_huge_font_file_is_refused_before_parsing() -> None:
    data = bundled_fonts()["open-sans"].data
    with pytest.raises(LayoutInputError) as caught:
        load_font(data + b"\x00" * (MAX_FONT_BYTES - len(data) + 1))
    assert "MiB" in caught.value.message


def _mask_of_headline(face: FontFace) -> tuple[np.ndarray, int]:
    """The composed headline's glyph mask, from the difference with the backdrop."""
    copy = AdCopy(headline="Sale", body="", cta="Go", legal=None)
    layers = compose_layers(VISUALS["plain"](), copy, style(font=face), PLACEMENTS["square_feed"])
    box = next(t.box for t in layers.composition.text_boxes if t.role == "headline")
    image = np.asarray(layers.composition.image.crop(box), dtype=np.int16)
    behind = np.asarray(layers.backdrop.crop(box), dtype=np.int16)
    mask = np.abs(image - behind).max(axis=-1) > 128
    return mask, box[3] - box[1]


def _rendered(font: ImageFont.FreeTypeFont, text: str) -> np.ndarray:
    left, top, right, bottom = font.getbbox(text, anchor="ls")
    canvas = Image.new("L", (right - left, bottom - top), 0)
    ImageDraw.Draw(canvas).text((-left, -top), text, font=font, fill=255, anchor="ls")
    return np.asarray(canvas) > 128


def _best_match(mask: np.ndarray, font_at: object) -> float:
    """The best overlap (IoU) of the mask with the word rendered at any size whose glyph box
    has the mask's size."""
    best = 0.0
    for size in range(8, 400):
        rendered = _rendered(font_at(size), "Sale")  # type: ignore[operator]
        if rendered.shape != mask.shape:
            continue
        union = np.logical_or(rendered, mask).sum()
        best = max(best, float(np.logical_and(rendered, mask).sum() / max(union, 1)))
    return best


def test_the_kits_font_is_the_one_on_the_creative() -> None:
    serif = bundled_fonts()["liberation-serif-bold"]
    sans = bundled_fonts()["open-sans-bold"]
    mask, _ = _mask_of_headline(serif)
    # The headline's pixels are the serif's glyphs...
    assert _best_match(mask, serif.at) > 0.97
    # ...and no size of the default fonts draws that shape.
    assert _best_match(mask, sans.at) < 0.8
    assert _best_match(mask, lambda size: ImageFont.load_default(size=size)) < 0.8
    # With the default font, the same copy draws the other shapes.
    sans_mask, _ = _mask_of_headline(sans)
    assert _best_match(sans_mask, sans.at) > 0.97
    assert _best_match(sans_mask, serif.at) < 0.8


def test_fonts_at_many_sizes_stay_within_the_cache_budget() -> None:
    from creatix.layout.fonts import _SIZES

    face = bundled_fonts()["liberation-serif-bold"]
    fonts = [face.at(size) for size in range(8, 400, 2)]
    assert fonts[-1].size == 398
    assert _SIZES.held <= _SIZES.budget
    assert len(_SIZES.fonts) < len(fonts)
    assert face.at(398) is fonts[-1]  # the most recent sizes are still cached


def test_missing_glyphs_names_what_the_font_cannot_draw() -> None:
    face = bundled_fonts()["open-sans-bold"]
    assert missing_glyphs(face, "Café — 20% off, ‘today’ €5 Жар") == []
    assert missing_glyphs(face, "Sale 日本 🔥 now 日") == ["日", "本", "🔥"]
