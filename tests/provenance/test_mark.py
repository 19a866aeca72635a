"""The invisible watermark: a 64-bit payload that survives what happens to ads, is found in no
unmarked picture, and costs the picture little."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from PIL import Image

from creatix.provenance import mark
from mark_samples import TRANSFORMS, flat, preview, synthetic


def _payload(index: int) -> bytes:
    return hashlib.sha256(f"job-{index}".encode()).digest()[: mark.PAYLOAD_BYTES]


def _psnr(original: Image.Image, marked: Image.Image) -> float:
    a = np.asarray(original.convert("RGB"), dtype=np.float64)
    b = np.asarray(marked, dtype=np.float64)
    return float(10 * np.log10(255**2 / np.mean((a - b) ** 2)))


@pytest.fixture(scope="module")
def marked_set() -> list[tuple[bytes, Image.Image]]:
    """Twenty pictures (preview engine and synthetic; 512 to 1024 pixels, not all square)."""
    sizes = ((512, 512), (768, 512), (1024, 1024), (640, 896))
    pictures = []
    for index in range(20):
        width, height = sizes[index % len(sizes)]
        source = preview if index % 2 else synthetic
        picture = source(100 + index, width, height)
        pictures.append((_payload(index), mark.embed(picture, _payload(index))))
    return pictures


def test_a_marked_picture_gives_its_payload_back_and_looks_the_same() -> None:
    picture = preview(1, 1024)
    payload = bytes(range(8))
    marked = mark.embed(picture, payload)
    assert marked.mode == "RGB"
    assert marked.size == picture.size
    assert marked is not picture
    assert mark.detect(marked) == payload
    assert mark.detect(picture) is None
    assert _psnr(picture, marked) >= 38


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_the_mark_survives_each_transformation(
    name: str, marked_set: list[tuple[bytes, Image.Image]]
) -> None:
    transform = TRANSFORMS[name]
    found = [mark.detect(transform(marked)) for _, marked in marked_set]
    assert found == [payload for payload, _ in marked_set]


def test_marking_costs_little_on_every_picture(marked_set: list[tuple[bytes, Image.Image]]) -> None:
    for index in range(4):
        picture = synthetic(100 + 2 * index, 512) if index % 2 == 0 else preview(7 + index, 768)
        assert _psnr(picture, mark.embed(picture, _payload(index))) >= 38


def test_no_mark_is_found_in_unmarked_pictures() -> None:
    pictures = [preview(seed, 512) for seed in range(20)]
    pictures += [synthetic(seed, 640, 480) for seed in range(20)]
    pictures += [flat(seed, 512) for seed in range(10)]
    assert [mark.detect(picture) for picture in pictures] == [None] * len(pictures)


def test_two_payloads_are_told_apart() -> None:
    picture = synthetic(5, 512)
    first, second = b"\x00" * 8, b"\xff" * 8
    assert mark.detect(mark.embed(picture, first)) == first
    assert mark.detect(mark.embed(picture, second)) == second


@pytest.mark.parametrize("size", [0, 7, 9, 16])
def test_a_payload_of_the_wrong_size_is_refused(size: int) -> None:
    with pytest.raises(ValueError, match="8 bytes"):
        mark.embed(synthetic(1, 256), b"x" * size)


def test_a_picture_too_small_to_carry_the_mark_is_refused_and_reads_as_unmarked() -> None:
    tiny = preview(2, 64)
    with pytest.raises(ValueError, match=str(mark.MIN_SIDE)):
        mark.embed(tiny, _payload(0))
    assert mark.detect(tiny) is None
    assert mark.detect(Image.new("RGB", (1, 1))) is None
    smallest = mark.embed(synthetic(3, mark.MIN_SIDE, 200), _payload(3))
    assert smallest.size == (mark.MIN_SIDE, 200)


def test_any_mode_is_marked_and_read() -> None:
    picture = synthetic(9, 512)
    for mode in ("RGBA", "L", "P"):
        marked = mark.embed(picture.convert(mode), _payload(9))
        assert marked.mode == "RGB"
        assert mark.detect(marked.convert(mode if mode != "P" else "RGB")) == _payload(9)
