"""Encoding images to bytes with their metadata, and reading that metadata back.

PNG keeps each entry as a text chunk, and an XMP packet (when given) in the ``iTXt`` chunk
``XML:com.adobe.xmp``. JPEG and WebP carry the XMP in their own XMP segment and the entries in
EXIF: ``Software`` names
Creatix and ``ImageDescription`` holds ``key=value; key=value`` with ``%``, ``;``, ``=`` and
anything outside printable ASCII percent-escaped (EXIF ASCII cannot hold UTF-8).
Output is deterministic: the same pixels and metadata give the same bytes.

PNG is written here rather than by Pillow: Pillow (like libpng) tries every row filter on
every row, and at compress level 1 that makes encoding cost as much as the preview engine
takes to draw the picture. Unfiltered rows deflated by ISA-L are 4-12x faster, for files
up to ~1.5x larger; ``benchmarks/encoding.py`` measures both in one run.
"""

from __future__ import annotations

import io
import string
import struct
import zlib
from collections.abc import Mapping, Sequence
from typing import Literal
from urllib.parse import quote, unquote

from isal import isal_zlib
from PIL import ExifTags, Image
from PIL.PngImagePlugin import PngImageFile

ImageFormat = Literal["png", "jpeg", "webp"]

SOFTWARE = "Creatix"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_DEFLATE_LEVEL = 1
PNG_ROWS_PER_STRIP = 32
JPEG_QUALITY = 90
WEBP_QUALITY = 90
ENTRY_SEPARATOR = "; "
_SAFE_CHARS = "".join(c for c in string.printable if c not in "%;=\t\n\r\x0b\x0c")


XMP_KEYWORD = "XML:com.adobe.xmp"


def encode(
    image: Image.Image, fmt: ImageFormat, metadata: Mapping[str, str], xmp: bytes | None = None
) -> bytes:
    if fmt == "png":
        return encode_png(image, metadata, xmp)
    buffer = io.BytesIO()
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    extra = {"xmp": xmp} if xmp is not None else {}
    if fmt == "jpeg":
        rgb.save(buffer, "JPEG", quality=JPEG_QUALITY, exif=_exif(metadata), **extra)
    else:
        rgb.save(buffer, "WEBP", quality=WEBP_QUALITY, exif=_exif(metadata), **extra)
    return buffer.getvalue()


def encode_png(image: Image.Image, metadata: Mapping[str, str], xmp: bytes | None = None) -> bytes:
    """An 8-bit RGB PNG: filter type 0 (none) on every row, one text chunk per entry, and the
    XMP packet in an uncompressed ``iTXt`` chunk."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    width, height = rgb.size
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    entries = {"Software": SOFTWARE, **metadata}
    # The compressed strips are joined once, into the file: the file is in memory twice at
    # most (up to ~100 MB each for an 8192x8192 picture).
    return b"".join(
        (
            PNG_SIGNATURE,
            _png_chunk(b"IHDR", header),
            *(_png_text_chunk(key, value) for key, value in entries.items()),
            *([] if xmp is None else [_png_itxt_chunk(XMP_KEYWORD, xmp)]),
            *_png_chunk_parts(b"IDAT", _deflated_rows(rgb)),
            _png_chunk(b"IEND", b""),
        )
    )


def _deflated_rows(rgb: Image.Image) -> list[bytes]:
    """Each row behind a zero filter byte, deflated a strip at a time; the compressed pieces.

    Strips keep every buffer small: whole-image intermediates cost more in page faults on
    fresh allocations than the compression itself, and the pixels are read a strip at a time
    too, so an 8192x8192 image costs no 200 MB copy of its bytes.
    """
    width, height = rgb.size
    stride = width * 3
    compressor = isal_zlib.compressobj(PNG_DEFLATE_LEVEL)
    parts = []
    for top in range(0, height, PNG_ROWS_PER_STRIP):
        rows = rgb.crop((0, top, width, min(height, top + PNG_ROWS_PER_STRIP))).tobytes()
        filtered = b"\0" + b"\0".join(rows[i : i + stride] for i in range(0, len(rows), stride))
        parts.append(compressor.compress(filtered))
    parts.append(compressor.flush())
    return parts


def read_metadata(data: bytes) -> dict[str, str]:
    """The metadata ``encode`` wrote into ``data`` (empty when there is none)."""
    with Image.open(io.BytesIO(data)) as image:
        if isinstance(image, PngImageFile):
            return {key: str(value) for key, value in image.text.items()}
        description = image.getexif().get(ExifTags.Base.ImageDescription)
    if not isinstance(description, str) or not description:
        return {}
    return parse_description(description)


def format_description(metadata: Mapping[str, str]) -> str:
    """``{"a": "1", "b": "x;y"}`` -> ``"a=1; b=x%3By"``."""
    return ENTRY_SEPARATOR.join(f"{_escape(k)}={_escape(v)}" for k, v in metadata.items())


def parse_description(description: str) -> dict[str, str]:
    """The inverse of ``format_description``; entries without ``=`` are ignored."""
    entries = (entry.partition("=") for entry in description.split(ENTRY_SEPARATOR))
    return {unquote(key): unquote(value) for key, sep, value in entries if sep}


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return b"".join(_png_chunk_parts(kind, [data]))


def _png_chunk_parts(kind: bytes, parts: Sequence[bytes]) -> list[bytes]:
    """A chunk as pieces: length, type, the data's parts as they are, the CRC of type and data
    (computed part by part: no copy of the data)."""
    crc = zlib.crc32(kind)
    for part in parts:
        crc = zlib.crc32(part, crc)
    length = sum(len(part) for part in parts)
    return [struct.pack(">I", length), kind, *parts, struct.pack(">I", crc)]


def _png_text_chunk(key: str, value: str) -> bytes:
    """``tEXt`` holds Latin-1 only; anything else goes into an uncompressed UTF-8 ``iTXt``."""
    try:
        return _png_chunk(b"tEXt", key.encode("latin-1") + b"\0" + value.encode("latin-1"))
    except UnicodeEncodeError:
        keyword = key.encode("latin-1", "replace")
        return _png_chunk(b"iTXt", keyword + b"\0\0\0\0\0" + value.encode("utf-8"))


def _png_itxt_chunk(keyword: str, text: bytes) -> bytes:
    """An uncompressed ``iTXt`` chunk, no language tag, ``text`` being UTF-8."""
    return _png_chunk(b"iTXt", keyword.encode("latin-1") + b"\0\0\0\0\0" + text)


def _exif(metadata: Mapping[str, str]) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Software] = SOFTWARE
    exif[ExifTags.Base.ImageDescription] = format_description(metadata)
    return exif


def _escape(text: str) -> str:
    return quote(text, safe=_SAFE_CHARS)
