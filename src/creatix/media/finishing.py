"""What every generated image goes through between an engine and storage, and how a stored
input image is read back for an engine: shared by the worker and the ad-set assembler."""

from __future__ import annotations

import io

from PIL import Image as PILImage
from PIL.Image import Image

from creatix.catalog.schemas import VisibleMarkStyle
from creatix.media.encoding import ImageFormat, encode
from creatix.media.watermark import DEFAULT_STYLE, mark_in_place
from creatix.provenance.service import embed_in_place


def decode_image(data: bytes) -> Image:
    """An input image as RGB, or RGBA where it has transparency for the engine to respect."""
    with PILImage.open(io.BytesIO(data)) as image:
        transparent = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
        return image.convert("RGBA" if transparent else "RGB")


def finished_image_bytes(
    image: Image,
    fmt: ImageFormat,
    metadata: dict[str, str],
    *,
    mark: VisibleMarkStyle | None = DEFAULT_STYLE,
    payload: bytes | None = None,
    xmp: bytes | None = None,
) -> bytes:
    """What every generated image goes through before it is stored: the visible ``mark``
    the catalog's policy gives it (None: none), the invisible mark carrying ``payload``
    (where the image is large enough to hold it), then encoding (with the ``xmp`` packet
    in the file's metadata, when given). The engine's image is the caller's alone: it is
    marked where it is, not copied (an 8K image is 200 MB)."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    if mark is not None:
        mark_in_place(rgb, mark)
    if payload is not None:
        embed_in_place(rgb, payload)
    return encode(rgb, fmt, metadata, xmp)
