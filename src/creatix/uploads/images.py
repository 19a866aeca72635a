"""What an uploaded file is, decided by decoding it: never by its name or declared type.

Only PNG, JPEG and WebP are taken. The header is read first and its dimensions checked
against ``MAX_PIXELS`` before any pixel is decoded, so a decompression bomb (a small file
declaring a huge picture) costs nothing; then the whole image is decoded once, so a truncated
or corrupt file is refused rather than stored.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from creatix.kit.errors import InvalidRequest

MAX_PIXELS = 40_000_000
"""Width × height at most; a 40-megapixel RGBA image decodes to 160 MB."""

ACCEPTED = "PNG, JPEG or WebP"


@dataclass(frozen=True)
class Kind:
    mime_type: str
    extension: str


KINDS: dict[str, Kind] = {
    "PNG": Kind("image/png", "png"),
    "JPEG": Kind("image/jpeg", "jpg"),
    # Pillow names a JPEG carrying several pictures (phone cameras write them) MPO.
    "MPO": Kind("image/jpeg", "jpg"),
    "WEBP": Kind("image/webp", "webp"),
}
_OPENERS = ["PNG", "JPEG", "WEBP"]
"""The only decoders a client's bytes ever reach."""

_OTHER_FORMATS: tuple[tuple[int, bytes, str], ...] = (
    (0, b"GIF87a", "GIF"),
    (0, b"GIF89a", "GIF"),
    (0, b"BM", "BMP"),
    (0, b"II*\x00", "TIFF"),
    (0, b"MM\x00*", "TIFF"),
    (0, b"8BPS", "PSD"),
    (0, b"\x00\x00\x01\x00", "ICO"),
    (0, b"%PDF", "PDF"),
    (4, b"ftypheic", "HEIC"),
    (4, b"ftypheix", "HEIC"),
    (4, b"ftypmif1", "HEIF"),
    (4, b"ftypavif", "AVIF"),
)
"""Signatures of formats people try to upload, only to say what was sent in the refusal."""


@dataclass(frozen=True)
class ImageInfo:
    kind: Kind
    width: int
    height: int

    @property
    def mime_type(self) -> str:
        return self.kind.mime_type

    @property
    def extension(self) -> str:
        return self.kind.extension


class _Rejected(Exception):
    """Raised inside the decoding guard; turned into an ``InvalidRequest`` outside it."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def _named_format(data: bytes) -> str | None:
    head = data[:32]
    for offset, signature, name in _OTHER_FORMATS:
        if head[offset : offset + len(signature)] == signature:
            return name
    text = head.lstrip().lower()
    if text.startswith((b"<svg", b"<?xml")):
        return "SVG"
    return None


def _unsupported(data: bytes) -> _Rejected:
    named = _named_format(data)
    if named is not None:
        message = f"{named} images are not supported; upload a {ACCEPTED} image."
    else:
        message = f"The file is not a {ACCEPTED} image."
    return _Rejected(message, "unsupported_image_type")


def _too_large(width: int, height: int) -> _Rejected:
    return _Rejected(
        f"The image is {width}x{height} pixels; at most {MAX_PIXELS // 1_000_000} megapixels "
        "are accepted.",
        "image_too_large",
    )


def _inspect(data: bytes) -> ImageInfo:
    try:
        with Image.open(io.BytesIO(data), formats=_OPENERS) as image:
            kind, (width, height) = KINDS.get(image.format or ""), image.size
            if kind is None:
                raise _unsupported(data)
            if width <= 0 or height <= 0:
                raise _Rejected("The image has no pixels.", "invalid_image")
            if width * height > MAX_PIXELS:
                raise _too_large(width, height)
            image.verify()  # PNG: every chunk's checksum, without decoding pixels
        # ``verify`` leaves the image unusable: decode a fresh one, all of it.
        with Image.open(io.BytesIO(data), formats=_OPENERS) as image:
            image.load()
    except _Rejected:
        raise
    except UnidentifiedImageError as exc:
        raise _unsupported(data) from exc
    except Image.DecompressionBombError as exc:
        # Pillow's own guard, raised by ``open`` for a header far beyond our cap.
        raise _Rejected(
            f"The image declares more than {MAX_PIXELS // 1_000_000} megapixels.",
            "image_too_large",
        ) from exc
    except Exception as exc:
        # Pillow raises OSError, SyntaxError, ValueError, EOFError, struct.error, ... on
        # truncated or corrupt data.
        raise _Rejected(
            f"The image could not be decoded (truncated or corrupt {_format_name(data)}).",
            "invalid_image",
        ) from exc
    return ImageInfo(kind=kind, width=width, height=height)


def _format_name(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "PNG"
    if data.startswith(b"\xff\xd8"):
        return "JPEG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    return "file"


def inspect_image(data: bytes, *, param: str) -> ImageInfo:
    """The format and size of ``data`` if it is a whole PNG, JPEG or WebP image of at most
    ``MAX_PIXELS``; an ``InvalidRequest`` naming ``param`` otherwise. CPU-bound: run it in a
    thread."""
    try:
        return _inspect(data)
    except _Rejected as exc:
        raise InvalidRequest(exc.message, code=exc.code, param=param) from exc
