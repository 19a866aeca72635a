"""Images, broken images and non-images for the upload tests."""

from __future__ import annotations

import io
import struct
import zlib
from functools import lru_cache

from PIL import Image, ImageDraw

MAGENTA = (255, 0, 255)
EXTENSIONS = {"png": "png", "jpeg": "jpg", "webp": "webp"}
MIME_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}


def image_bytes(
    fmt: str = "png", size: tuple[int, int] = (64, 48), colour: tuple[int, int, int] = MAGENTA
) -> bytes:
    """A small picture: ``colour`` with a darker square, so it is not one flat colour."""
    image = Image.new("RGB", size, colour)
    ImageDraw.Draw(image).rectangle((4, 4, 12, 12), (20, 20, 20))
    buffer = io.BytesIO()
    image.save(buffer, {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}[fmt], quality=95)
    return buffer.getvalue()


def solid_png(size: tuple[int, int], colour: tuple[int, int, int] = MAGENTA) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def gif_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("P", (32, 32), 3).save(buffer, "GIF")
    return buffer.getvalue()


def truncated(data: bytes, keep: float = 0.6) -> bytes:
    return data[: int(len(data) * keep)]


def photo_jpeg() -> bytes:
    """A JPEG with enough detail that cutting it short loses real scan data."""
    image = Image.effect_mandelbrot((512, 384), (-2.0, -1.2, 1.0, 1.2), 64).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@lru_cache(maxsize=4)
def png_bomb(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of ``width x height`` black pixels: tiny on disk, huge decoded."""
    row = b"\0" * (1 + (width + 7) // 8)
    rows_per_block = max(1, (1 << 20) // len(row))
    compressor = zlib.compressobj(9)
    parts, done = [], 0
    while done < height:
        rows = min(rows_per_block, height - done)
        parts.append(compressor.compress(row * rows))
        done += rows
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", b"".join(parts))
        + _chunk(b"IEND", b"")
    )
