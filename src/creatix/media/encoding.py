"""Encoding finished images: PNG, JPEG or WebP, deterministic, with metadata naming the engine.

PNG keeps the metadata in text chunks; JPEG and WebP in EXIF (Software, ImageDescription as
``key=value; ...``). Nothing time-dependent is written, so equal pixels and metadata give
equal bytes.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Literal

from PIL import Image
from PIL.PngImagePlugin import PngInfo

SOFTWARE = "Creatix"
_EXIF_SOFTWARE = 0x0131
_EXIF_DESCRIPTION = 0x010E
PNG_COMPRESS_LEVEL = 1  # speed over size: this runs on every image of every request

Format = Literal["png", "jpeg", "webp"]


def _description(metadata: Mapping[str, str]) -> str:
    return "; ".join(f"{key}={value}" for key, value in metadata.items())


def _parse_description(text: str) -> dict[str, str]:
    pairs = (item.split("=", 1) for item in text.split("; ") if "=" in item)
    return {key: value for key, value in pairs}


def encode(image: Image.Image, fmt: Format, metadata: Mapping[str, str]) -> bytes:
    buffer = io.BytesIO()
    if fmt == "png":
        info = PngInfo()
        info.add_text("Software", SOFTWARE)
        for key, value in metadata.items():
            info.add_text(key, value)
        image.save(buffer, "PNG", pnginfo=info, compress_level=PNG_COMPRESS_LEVEL)
    else:
        exif = Image.Exif()
        exif[_EXIF_SOFTWARE] = SOFTWARE
        exif[_EXIF_DESCRIPTION] = _description(metadata)
        pil_format = "JPEG" if fmt == "jpeg" else "WEBP"
        image.convert("RGB").save(buffer, pil_format, quality=90, exif=exif.tobytes())
    return buffer.getvalue()


def read_metadata(data: bytes) -> dict[str, str]:
    """The metadata ``encode`` wrote, from any of its formats."""
    with Image.open(io.BytesIO(data)) as image:
        if image.format == "PNG":
            text: dict[str, str] = dict(getattr(image, "text", {}))
            return text
        description = image.getexif().get(_EXIF_DESCRIPTION)
        return _parse_description(description) if isinstance(description, str) else {}
