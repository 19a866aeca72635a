"""The layout step of ad sets: one key visual and one set of copy composed into a placement.

Pure: Pillow and numpy (and resvg for SVG logos), no database, no HTTP. ``compose`` crops the
visual around its subject, sets the copy in the kit's font at the largest sizes that fit, lays
a scrim wherever a text's worst pixel would fall short of WCAG 4.5:1, and places the button,
the logo and the legal line inside the placement's safe zone.
"""

from creatix.layout.budgets import check_copy_fits
from creatix.layout.compose import (
    AdCopy,
    BrandStyle,
    Composition,
    Layers,
    TextBox,
    compose,
    compose_layers,
)
from creatix.layout.errors import LayoutInputError
from creatix.layout.fonts import (
    DEFAULT_FONT,
    FontFace,
    bundled_fonts,
    default_font,
    load_font,
    missing_glyphs,
)
from creatix.layout.logos import rasterize_logo
from creatix.layout.presets import PLACEMENTS, Placement, custom_placement

__all__ = [
    "DEFAULT_FONT",
    "PLACEMENTS",
    "AdCopy",
    "BrandStyle",
    "Composition",
    "FontFace",
    "Layers",
    "LayoutInputError",
    "Placement",
    "TextBox",
    "bundled_fonts",
    "check_copy_fits",
    "compose",
    "compose_layers",
    "custom_placement",
    "default_font",
    "load_font",
    "missing_glyphs",
    "rasterize_logo",
]
