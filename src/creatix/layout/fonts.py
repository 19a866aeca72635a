"""Fonts: the open fonts shipped in this package, and a kit's uploaded TTF/OTF, validated.

A ``FontFace`` keeps the font file's bytes, so it can be stored and rebuilt with ``load_font``;
Pillow's FreeType fonts at each size are made once per face and size and cached.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path

from PIL import ImageFont

from creatix.layout.errors import LayoutInputError

MAX_FONT_BYTES = 8 * 1024 * 1024
# TrueType outlines (version 1.0 or Apple's "true") and CFF outlines ("OTTO"); collections,
# WOFF and Type 1 are refused.
SFNT_MAGIC = (b"\x00\x01\x00\x00", b"true", b"OTTO")
PROBE = "Hamburgefonstiv 0123"

FONT_DIR = Path(__file__).parent / "fonts"
BUNDLED_FILES = {
    "open-sans-bold": "OpenSans-Bold.ttf",
    "open-sans": "OpenSans-Regular.ttf",
    "roboto-bold": "Roboto-Bold.ttf",
    "liberation-serif-bold": "LiberationSerif-Bold.ttf",
}
DEFAULT_FONT = "open-sans-bold"

Font = ImageFont.FreeTypeFont


@dataclass(frozen=True)
class FontFace:
    """One font file: ``name`` is the bundled font's key, or "Family Style" read from an
    uploaded file; ``data`` is the file itself."""

    name: str
    data: bytes = field(repr=False)

    def at(self, size: int) -> Font:
        """This face at a pixel size (cached)."""
        return _SIZES.get(self.data, max(1, int(size)))


class _SizeCache:
    """Fonts at sizes, least recently used first out. Pillow copies the font file into each
    size's FreeType face, so the cache is bounded by the bytes those copies hold."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.held = 0
        self.fonts: OrderedDict[tuple[bytes, int], Font] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, data: bytes, size: int) -> Font:
        key = (data, size)
        with self.lock:
            font = self.fonts.get(key)
            if font is not None:
                self.fonts.move_to_end(key)
                return font
        font = ImageFont.truetype(io.BytesIO(data), size)
        with self.lock:
            if key not in self.fonts:
                self.fonts[key] = font
                self.held += len(data)
            while self.held > self.budget and len(self.fonts) > 1:
                (old, _), _ = self.fonts.popitem(last=False)
                self.held -= len(old)
        return font


_SIZES = _SizeCache(budget=48 * 1024 * 1024)


UNMAPPED = "\U0010fffd"  # a private-use code point no font maps: it draws the .notdef glyph
PROBE_SIZE = 32


def missing_glyphs(face: FontFace, text: str) -> list[str]:
    """The characters of ``text`` the face has no glyph for (they would be drawn as its
    .notdef box), in order of first appearance; whitespace is never missing."""
    return [c for c in dict.fromkeys(text) if not c.isspace() and _draws_notdef(face, c)]


@lru_cache(maxsize=4096)
def _draws_notdef(face: FontFace, character: str) -> bool:
    return _glyph(face, character) == _glyph(face, UNMAPPED)


def _glyph(face: FontFace, character: str) -> tuple[tuple[int, int], bytes]:
    mask = face.at(PROBE_SIZE).getmask(character)
    return mask.size, bytes(mask)


def load_font(data: bytes) -> FontFace:
    """Validate an uploaded font file and return its face; ``LayoutInputError("font", ...)``
    for anything that is not a single TrueType/OpenType font with Latin glyphs."""
    if not isinstance(data, bytes | bytearray) or not data:
        raise LayoutInputError("font", "the font file is empty")
    data = bytes(data)
    if len(data) > MAX_FONT_BYTES:
        raise LayoutInputError(
            "font", f"the font file is larger than {MAX_FONT_BYTES // (1024 * 1024)} MiB"
        )
    if data[:4] not in SFNT_MAGIC:
        raise LayoutInputError("font", "the file is not a TrueType or OpenType font")
    try:
        font = ImageFont.truetype(io.BytesIO(data), 32)
        family, style = font.getname()
        left, top, right, bottom = font.getbbox(PROBE)
    except Exception as exc:  # FreeType raises OSError, ValueError, ... on corrupt files
        raise LayoutInputError("font", "the font file could not be read") from exc
    if right - left <= 0 or bottom - top <= 0:
        raise LayoutInputError("font", "the font has no visible Latin glyphs")
    name = " ".join(part for part in (family, style) if part) or "Uploaded font"
    return FontFace(name=name, data=data)


def bundled_fonts() -> dict[str, FontFace]:
    """The open fonts shipped with Creatix (licences beside them in ``layout/fonts``)."""
    return dict(_bundled())


@cache
def _bundled() -> dict[str, FontFace]:
    return {
        key: FontFace(name=key, data=(FONT_DIR / filename).read_bytes())
        for key, filename in BUNDLED_FILES.items()
    }


def default_font() -> FontFace:
    return _bundled()[DEFAULT_FONT]
