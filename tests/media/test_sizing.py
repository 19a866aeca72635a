"""The sizing rule: a size names a pixel budget, the aspect ratio shapes it (multiples of 64)."""

from __future__ import annotations

import pytest

from creatix.media.sizing import (
    ASPECT_RATIOS,
    SIZE_SIDES,
    dimensions,
    long_side_dimensions,
    parse_size,
)

# Worked by hand: width = side * sqrt(W/H), height = side * sqrt(H/W), each to the nearest 64.
# e.g. 1024 at 4:3: 1024 * 1.1547 = 1182.4 -> 18.47 steps -> 1152; 1024 * 0.8660 = 886.8 -> 896.
EXPECTED: dict[tuple[str, str], tuple[int, int]] = {
    ("512x512", "1:1"): (512, 512),
    ("512x512", "16:9"): (704, 384),
    ("512x512", "9:16"): (384, 704),
    ("512x512", "4:3"): (576, 448),
    ("512x512", "3:4"): (448, 576),
    ("512x512", "1:4"): (256, 1024),
    ("512x512", "4:1"): (1024, 256),
    ("1024x1024", "1:1"): (1024, 1024),
    ("1024x1024", "16:9"): (1344, 768),
    ("1024x1024", "9:16"): (768, 1344),
    ("1024x1024", "4:3"): (1152, 896),
    ("1024x1024", "3:4"): (896, 1152),
    ("1024x1024", "1:4"): (512, 2048),
    ("1024x1024", "4:1"): (2048, 512),
    ("2048x2048", "1:1"): (2048, 2048),
    ("2048x2048", "16:9"): (2752, 1536),
    ("2048x2048", "9:16"): (1536, 2752),
    ("2048x2048", "4:3"): (2368, 1792),
    ("2048x2048", "3:4"): (1792, 2368),
    ("2048x2048", "1:4"): (1024, 4096),
    ("2048x2048", "4:1"): (4096, 1024),
}


def test_the_table_covers_every_size_and_ratio() -> None:
    assert set(EXPECTED) == {(size, ratio) for size in SIZE_SIDES for ratio in ASPECT_RATIOS}


@pytest.mark.parametrize(("size", "ratio"), sorted(EXPECTED))
def test_every_size_and_ratio_gives_the_exact_pixel_size(size: str, ratio: str) -> None:
    width, height = dimensions(parse_size(size), ratio)
    assert (width, height) == EXPECTED[size, ratio]
    assert width % 64 == 0
    assert height % 64 == 0


def test_the_documented_examples() -> None:
    assert dimensions(1024, "16:9") == (1344, 768)
    assert dimensions(1024, "1:4") == (512, 2048)
    assert dimensions(1024, "1:1") == (1024, 1024)


def test_sides_never_fall_below_64() -> None:
    assert dimensions(64, "100:1")[1] == 64


BAD_RATIOS = ["", "16", "16:9:1", "a:b", "0:1", "1:0", "-4:3", "inf:1", "nan:1"]


@pytest.mark.parametrize("ratio", BAD_RATIOS)
def test_an_unparseable_or_non_positive_ratio_is_a_value_error(ratio: str) -> None:
    with pytest.raises(ValueError, match="aspect ratio"):
        dimensions(1024, ratio)


def test_parse_size_knows_only_the_named_sizes() -> None:
    assert parse_size("2048x2048") == 2048
    with pytest.raises(ValueError, match="unknown size"):
        parse_size("1000x1000")


# A resolution is the long side, exactly; the short side is long * (short:long), to the
# nearest 64. e.g. 1024 at 16:9: 1024 * 9 / 16 = 576; 4096 at 4:3: 3072; 1024 at 3:2: 682.7
# -> 10.67 steps -> 704.
LONG_SIDE_EXPECTED: dict[tuple[int, str], tuple[int, int]] = {
    (1024, "1:1"): (1024, 1024),
    (1024, "16:9"): (1024, 576),
    (1024, "9:16"): (576, 1024),
    (1024, "4:3"): (1024, 768),
    (1024, "1:4"): (256, 1024),
    (1024, "3:2"): (1024, 704),
    (2048, "16:9"): (2048, 1152),
    (2048, "3:4"): (1536, 2048),
    (2048, "4:1"): (2048, 512),
    (4096, "1:1"): (4096, 4096),
    (4096, "16:9"): (4096, 2304),
    (4096, "9:16"): (2304, 4096),
    (4096, "4:3"): (4096, 3072),
    (4096, "1:4"): (1024, 4096),
}


@pytest.mark.parametrize(("side", "ratio"), sorted(LONG_SIDE_EXPECTED))
def test_a_long_side_and_a_ratio_give_the_exact_pixel_size(side: int, ratio: str) -> None:
    width, height = long_side_dimensions(side, ratio)
    assert (width, height) == LONG_SIDE_EXPECTED[side, ratio]
    assert max(width, height) == side


def test_a_long_side_keeps_its_short_side_at_least_64() -> None:
    assert long_side_dimensions(1024, "100:1") == (1024, 64)
    with pytest.raises(ValueError, match="aspect ratio"):
        long_side_dimensions(1024, "0:1")
    with pytest.raises(ValueError, match="positive"):
        long_side_dimensions(0, "1:1")
