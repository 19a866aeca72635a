"""Placements: the nine preset ad sizes with their safe zones and copy budgets, and custom sizes.

A safe zone is a box in the placement's pixels, ``(left, top, right, bottom)`` like a Pillow
box: text and the logo stay inside it; the key visual may bleed to the edges. The budgets are
characters of copy that fit the placement's arrangement at its legible minimum type sizes
(``tests/layout/test_layout_budgets.py`` sets copy of exactly these lengths in every bundled
font).
"""

from __future__ import annotations

from dataclasses import dataclass

from creatix.layout.arrange import Box, capacity
from creatix.layout.errors import LayoutInputError

MIN_SIDE = 64
MAX_SIDE = 4096


@dataclass(frozen=True)
class Placement:
    name: str
    width: int
    height: int
    safe_zone: Box
    headline_chars: int
    body_chars: int
    cta_chars: int

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height


def _inset(width: int, height: int, fraction: float, floor: int = 4) -> Box:
    margin = max(floor, round(min(width, height) * fraction))
    return margin, margin, width - margin, height - margin


def _story_safe_zone(width: int, height: int) -> Box:
    """Stories and reels: the app's header covers the top ~14%, its reply bar and captions the
    bottom ~20%."""
    side = round(width * 0.06)
    return side, round(height * 0.14), width - side, height - round(height * 0.20)


def _preset(name: str, w: int, h: int, budgets: tuple[int, int, int], safe: Box) -> Placement:
    headline, body, cta = budgets
    return Placement(name, w, h, safe, headline, body, cta)


PLACEMENTS: dict[str, Placement] = {
    p.name: p
    for p in (
        _preset("square_feed", 1080, 1080, (40, 90, 20), _inset(1080, 1080, 0.05)),
        _preset("portrait_feed", 1080, 1350, (40, 110, 20), _inset(1080, 1350, 0.05)),
        _preset("story", 1080, 1920, (40, 110, 20), _story_safe_zone(1080, 1920)),
        _preset("landscape_link", 1200, 628, (40, 90, 20), _inset(1200, 628, 0.05)),
        _preset("display_300x250", 300, 250, (30, 0, 15), _inset(300, 250, 0.04)),
        _preset("display_728x90", 728, 90, (30, 0, 15), _inset(728, 90, 0.06)),
        _preset("display_160x600", 160, 600, (30, 50, 15), _inset(160, 600, 0.05)),
        _preset("display_300x600", 300, 600, (35, 80, 18), _inset(300, 600, 0.04)),
        _preset("display_970x250", 970, 250, (40, 80, 18), _inset(970, 250, 0.05)),
    )
}


@dataclass(frozen=True)
class _Frame:
    width: int
    height: int
    safe_zone: Box


def custom_placement(width: int, height: int) -> Placement:
    """A placement of any size from 64 to 4096 pixels a side, with a 5% safe margin and the
    budgets its arrangement's column holds at the legible minimum sizes."""
    for field, value in (("width", width), ("height", height)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise LayoutInputError(field, f"{field} must be a whole number of pixels")
        if not MIN_SIDE <= value <= MAX_SIDE:
            raise LayoutInputError(
                field, f"{field} {value} is outside {MIN_SIDE}..{MAX_SIDE} pixels"
            )
    safe = _inset(width, height, 0.05)
    budgets = capacity(_Frame(width, height, safe))
    return _preset(f"custom_{width}x{height}", width, height, budgets, safe)
