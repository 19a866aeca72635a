"""A brand kit's files read in worker processes with a hard budget (``kit/processes.py``).

An uploaded logo or font is the caller's: resvg rasterizing a hostile SVG (a few hundred
blurred shapes, 32 KB) took 47 s here and held the GIL for all of it, stalling every request
of the process; FreeType reads an uploaded font. So the upload's check, and every later read
of a stored logo or font (the ad-set submit's glyph check, the layout step's ``BrandStyle``),
runs in a small pool of processes, each call within ``BUDGET_SECONDS``: past it, the process
is killed and the file refused (at upload) or the work that needed it fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PIL.Image import Image

from creatix.kit.errors import InvalidRequest
from creatix.kit.processes import OutOfTime, ProcessRunner, WorkerDied
from creatix.layout import FontFace, LayoutInputError, load_font, rasterize_logo

BUDGET_SECONDS = 10.0
WORKERS = 2
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

runner = ProcessRunner(workers=WORKERS, budget_seconds=BUDGET_SECONDS, preload=[__name__])
"""One pool per process, started by the first file read."""


@dataclass(frozen=True)
class Verdict:
    """What a check answers across the process boundary: the file's kind (a logo's MIME
    type, a font's name) and extension, or why it is refused."""

    kind: str = ""
    extension: str = ""
    refused: str | None = None


def logo_verdict(data: bytes) -> Verdict:
    try:
        rasterize_logo(data)
    except LayoutInputError as exc:
        return Verdict(refused=exc.message)
    if data.startswith(PNG_MAGIC):
        return Verdict("image/png", "png")
    return Verdict("image/svg+xml", "svg")


def font_verdict(data: bytes) -> Verdict:
    try:
        face = load_font(data)
    except LayoutInputError as exc:
        return Verdict(refused=exc.message)
    return Verdict(face.name, "otf" if data.startswith(b"OTTO") else "ttf")


async def checked_logo(data: bytes) -> tuple[str, str]:
    """The uploaded logo's MIME type and extension; an ``InvalidRequest`` naming ``logo``
    when it is not a usable PNG or safe SVG, or cannot be read within the budget."""
    return await _checked(logo_verdict, data, "logo")


async def checked_font(data: bytes) -> tuple[str, str]:
    """The uploaded font's name and extension; an ``InvalidRequest`` naming ``font``."""
    return await _checked(font_verdict, data, "font")


async def _checked(check: Callable[[bytes], Verdict], data: bytes, field: str) -> tuple[str, str]:
    try:
        verdict = await runner.run(check, data)
    except OutOfTime as exc:
        raise InvalidRequest(
            f"The {field} took longer than {exc.seconds:g} s to read; it is not usable.",
            param=field,
        ) from None
    except WorkerDied:
        raise InvalidRequest(f"The {field} could not be read.", param=field) from None
    if verdict.refused is not None:
        raise InvalidRequest(f"The {field} is not usable: {verdict.refused}", param=field)
    return verdict.kind, verdict.extension


async def stored_font(data: bytes) -> FontFace:
    """A stored font, checked at its upload, read again (within the budget)."""
    return await runner.run(load_font, data)


async def stored_logo(data: bytes) -> Image:
    """A stored logo, checked at its upload, rasterized again (within the budget)."""
    return await runner.run(rasterize_logo, data)
