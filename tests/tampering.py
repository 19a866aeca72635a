"""Files changed the way a forger would: content altered, its manifest kept."""

from __future__ import annotations

import struct
import zlib


def png_with_one_pixel_changed(data: bytes) -> bytes:
    """The same PNG, every chunk (the manifest's included) kept, one pixel's red changed."""
    chunks: list[tuple[bytes, bytes]] = []
    position = 8
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        chunks.append((kind, data[position + 8 : position + 8 + length]))
        position += 12 + length
    raw = bytearray(zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT")))
    raw[1 + 3 * 10] ^= 0x01  # row 0, after its filter byte: pixel 10's red, lowest bit
    out = bytearray(data[:8])
    written = False
    for kind, original in chunks:
        body = original
        if kind == b"IDAT":
            if written:
                continue
            body, written = zlib.compress(bytes(raw)), True
        out += struct.pack(">I", len(body)) + kind + body
        out += struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    return bytes(out)
