"""The words a prompt is read for (colours, motifs), the scenes, and how each style looks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from creatix.engines.preview.colour import RGB, WHITE

Scene = Literal["landscape", "city", "product", "portrait", "abstract"]

COLOR_WORDS: dict[str, tuple[RGB, ...]] = {
    "red": ((200, 38, 46),),
    "crimson": ((158, 18, 48),),
    "scarlet": ((226, 44, 32),),
    "maroon": ((110, 24, 36),),
    "orange": ((242, 128, 36),),
    "amber": ((250, 176, 40),),
    "yellow": ((246, 212, 56),),
    "gold": ((214, 172, 62),),
    "golden": ((226, 176, 72),),
    "green": ((52, 156, 84),),
    "emerald": ((18, 136, 96),),
    "olive": ((120, 128, 56),),
    "mint": ((160, 226, 196),),
    "teal": ((16, 128, 132),),
    "turquoise": ((48, 200, 196),),
    "cyan": ((36, 212, 232),),
    "blue": ((38, 92, 204),),
    "azure": ((64, 150, 236),),
    "navy": ((22, 36, 96),),
    "indigo": ((64, 44, 150),),
    "purple": ((122, 58, 176),),
    "violet": ((146, 84, 214),),
    "lavender": ((186, 164, 226),),
    "magenta": ((214, 36, 156),),
    "pink": ((240, 128, 172),),
    "rose": ((226, 104, 130),),
    "coral": ((248, 122, 100),),
    "peach": ((252, 186, 150),),
    "brown": ((122, 80, 48),),
    "copper": ((184, 104, 60),),
    "bronze": ((168, 120, 58),),
    "beige": ((222, 204, 172),),
    "cream": ((244, 234, 208),),
    "ivory": ((248, 244, 228),),
    "white": ((244, 244, 240),),
    "silver": ((190, 194, 202),),
    "gray": ((128, 130, 138),),
    "grey": ((128, 130, 138),),
    "charcoal": ((52, 54, 60),),
    "black": ((18, 18, 22),),
    # Mood words name a small palette each.
    "sunset": ((250, 140, 60), (236, 90, 110), (118, 60, 140), (40, 36, 90)),
    "sunrise": ((255, 196, 120), (246, 130, 120), (150, 150, 210)),
    "dawn": ((255, 206, 160), (230, 150, 170), (120, 130, 190)),
    "dusk": ((236, 120, 96), (108, 64, 132), (28, 30, 72)),
    "night": ((14, 20, 52), (52, 40, 110), (120, 140, 220)),
    "neon": ((255, 40, 180), (40, 230, 255), (150, 60, 255)),
    "cyberpunk": ((255, 44, 160), (0, 220, 240), (70, 20, 120)),
    "ocean": ((10, 70, 130), (20, 150, 180), (150, 220, 230)),
    "sea": ((10, 70, 130), (20, 150, 180), (150, 220, 230)),
    "forest": ((24, 74, 44), (60, 120, 60), (160, 190, 120)),
    "autumn": ((196, 86, 30), (226, 150, 50), (120, 56, 34)),
    "winter": ((226, 236, 246), (150, 180, 214), (70, 96, 140)),
    "snow": ((240, 244, 250), (180, 200, 224)),
    "ice": ((200, 232, 246), (110, 170, 210)),
    "fire": ((250, 200, 60), (240, 100, 30), (160, 30, 20)),
    "desert": ((232, 196, 140), (208, 140, 80), (150, 90, 60)),
    "marble": ((238, 236, 232), (200, 198, 196), (150, 150, 154)),
    "pastel": ((250, 200, 210), (190, 230, 210), (200, 200, 240)),
    "luxury": ((24, 22, 26), (206, 168, 90), (242, 232, 210)),
    "spring": ((150, 210, 110), (250, 190, 210), (255, 240, 160)),
    "tropical": ((0, 170, 160), (255, 200, 60), (250, 110, 90)),
    "sky": ((120, 180, 240), (200, 228, 250)),
}

MOTIF_WORDS: dict[str, frozenset[str]] = {
    "mountain": frozenset({"mountain", "hill", "peak", "alps", "volcano", "cliff", "valley"}),
    "water": frozenset(
        {"lake", "sea", "ocean", "river", "water", "beach", "bay", "pond", "reflection", "shore"}
    ),
    "sun": frozenset({"sun", "sunset", "sunrise", "dawn", "dusk", "sunlight", "sunny"}),
    "moon": frozenset({"moon", "moonlight", "moonlit"}),
    "night": frozenset({"night", "midnight", "starry", "star", "neon", "cyberpunk", "moon"}),
    "trees": frozenset({"tree", "pine", "forest", "wood", "woods", "jungle", "palm"}),
    "city": frozenset(
        {"city", "skyline", "building", "street", "urban", "downtown", "tower", "skyscraper"}
        | {"metropolis", "cyberpunk", "town"}
    ),
    "product": frozenset(
        {"product", "bottle", "perfume", "cosmetic", "serum", "jar", "lotion", "fragrance"}
        | {"packshot", "box", "package", "packaging", "gift", "cream", "skincare"}
    ),
    "box": frozenset({"box", "package", "packaging", "gift"}),
    "portrait": frozenset(
        {"portrait", "person", "woman", "man", "girl", "boy", "face", "people", "headshot"}
        | {"character", "selfie", "model"}
    ),
    "landscape": frozenset(
        {"landscape", "field", "meadow", "desert", "countryside", "nature", "scenery", "vista"}
    ),
    "marble": frozenset({"marble"}),
    "neon": frozenset({"neon", "cyberpunk"}),
}

STOPWORDS = frozenset(
    {"a", "an", "the", "of", "with", "and", "at", "in", "on", "for", "to", "by", "from", "is"}
    | {"its", "their", "very", "into", "over", "under", "near", "some", "this", "that"}
)
HEADLINE_CONTENT_WORDS = 3
HEADLINE_MAX_WORDS = 4
CAPTION_WORDS = 9


@dataclass(frozen=True)
class Look:
    """How a style treats the palette and the picture."""

    saturation: float = 1.0
    brightness: float = 1.0
    pastel: float = 0.0
    """Share of white mixed into every palette colour."""
    tint: RGB = WHITE
    tint_amount: float = 0.0
    night: bool = False
    """Dark skies, stars, more lit windows."""
    flat: bool = False
    """Opaque fills and a banded backdrop instead of gradients and glows."""
    soft: bool = False
    """Thin washes and a blurrier backdrop."""
    shaded: bool = False
    """Round shapes become lit spheres."""
    glow: bool = False
    """Outlines become neon tubes."""
    letterbox: bool = False
    sparse: bool = False
    """Fewer elements, smaller type."""
    vignette: float = 0.0
    sepia: float = 0.0
    grain: float = 0.0
    """Film grain amplitude in levels; drawn at ``hd`` quality only."""
    uppercase: bool = True

    def alpha(self, value: int) -> int:
        """Flat looks paint opaque; soft looks paint thin washes."""
        if self.flat:
            return 255
        return round(value * 0.6) if self.soft else value


LOOKS: dict[str, Look] = {
    "photographic": Look(saturation=0.9, vignette=0.3, grain=14),
    "cinematic": Look(
        saturation=0.8,
        tint=(255, 168, 96),
        tint_amount=0.12,
        letterbox=True,
        vignette=0.4,
        grain=12,
    ),
    "minimalist": Look(saturation=0.45, pastel=0.35, sparse=True, uppercase=False),
    "neon": Look(saturation=1.5, brightness=1.15, night=True, glow=True),
    "vintage": Look(
        saturation=0.6, tint=(200, 160, 110), tint_amount=0.3, sepia=0.35, vignette=0.45, grain=22
    ),
    "watercolor": Look(saturation=0.8, pastel=0.4, soft=True, uppercase=False),
    "3d-render": Look(saturation=1.05, shaded=True),
    "flat-illustration": Look(saturation=1.1, flat=True),
    "vivid": Look(saturation=1.4, brightness=1.1),
    "natural": Look(saturation=0.7, tint=(120, 110, 80), tint_amount=0.1, vignette=0.15),
}
DEFAULT_LOOK = Look(vignette=0.15)
