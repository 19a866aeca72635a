"""Encoding: PNG, JPEG and WebP carry their metadata and are byte-for-byte deterministic."""

from __future__ import annotations

import io
from typing import get_args

import pytest
from PIL import ExifTags, Image

from creatix.media.encoding import XMP_KEYWORD, ImageFormat, encode, read_metadata
from creatix.provenance.credentials import COMPOSITE, TRAINED
from creatix.provenance.xmp import digital_source_type, digital_source_xmp

FORMATS: tuple[ImageFormat, ...] = get_args(ImageFormat)
METADATA = {
    "engine": "preview",
    "model": "creatix-flash",
    "seed": "42",
    "prompt": 'Café at dusk; neon sign reads "OPEN=24h" — 100% 🌃',
}


def _image() -> Image.Image:
    return Image.radial_gradient("L").resize((320, 200)).convert("RGB")


@pytest.mark.parametrize("fmt", FORMATS)
def test_metadata_round_trips(fmt: ImageFormat) -> None:
    data = encode(_image(), fmt, METADATA)
    read = read_metadata(data)
    assert {key: read.get(key) for key in METADATA} == METADATA


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_bytes_are_deterministic(fmt: ImageFormat) -> None:
    assert encode(_image(), fmt, METADATA) == encode(_image(), fmt, METADATA)


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_file_is_a_valid_image_of_its_format(fmt: ImageFormat) -> None:
    data = encode(_image(), fmt, METADATA)
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == fmt.upper()
        assert image.size == (320, 200)
        image.load()


def test_png_is_lossless() -> None:
    original = _image()
    with Image.open(io.BytesIO(encode(original, "png", METADATA))) as decoded:
        assert decoded.convert("RGB").tobytes() == original.tobytes()


@pytest.mark.parametrize("fmt", ["jpeg", "webp"])
def test_jpeg_and_webp_name_creatix_and_the_engine_in_exif(fmt: ImageFormat) -> None:
    with Image.open(io.BytesIO(encode(_image(), fmt, METADATA))) as image:
        exif = image.getexif()
    assert exif[ExifTags.Base.Software] == "Creatix"
    assert "engine=preview" in exif[ExifTags.Base.ImageDescription]


@pytest.mark.parametrize("fmt", FORMATS)
def test_empty_metadata_reads_back_without_entries_of_its_own(fmt: ImageFormat) -> None:
    read = read_metadata(encode(_image(), fmt, {}))
    assert set(read) <= {"Software"}


def test_different_metadata_gives_different_bytes() -> None:
    assert encode(_image(), "png", {"seed": "1"}) != encode(_image(), "png", {"seed": "2"})


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("composite", [False, True])
def test_the_xmp_digital_source_type_is_in_every_format(fmt: ImageFormat, composite: bool) -> None:
    xmp = digital_source_xmp(composite=composite)
    data = encode(_image(), fmt, METADATA, xmp)
    with Image.open(io.BytesIO(data)) as picture:
        found = picture.info.get("xmp") or picture.info.get(XMP_KEYWORD)
    assert found is not None
    packet = found.encode() if isinstance(found, str) else found
    assert digital_source_type(packet) == (COMPOSITE if composite else TRAINED)
    assert read_metadata(data)["model"] == "creatix-flash"  # the EXIF or text entries too
    assert digital_source_type(b"<x:xmpmeta/>") is None
