"""Camera paths: where each layer's camera looks, and how close, at every instant of the clip.

The world is the output frame at rest, in output pixels, with its origin at the frame's centre.
A ``Camera`` looks at world point ``(x, y)`` (shown at the frame's centre) with magnification
``zoom`` (never below 1, so a layer that covers the world at rest covers every frame). Two
cameras move together: the near one (the sharp subject layer) travels and zooms the full
amplitude, the far one (the soft background) a fraction of it; the difference is the parallax.
A path is a slow Ken Burns move (a zoom in or out plus a straight pan, eased) with a faint
sway on the near layer, everything drawn from the seed and scaled by the spec's movement.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from random import Random

from creatix.jobs.specs import Movement

LEVELS: dict[str, float] = {"small": 0.4, "medium": 1.0, "large": 1.9}
"""How far each movement goes, relative to medium; ``auto`` draws one near medium."""
AUTO_LEVELS = (0.75, 1.25)

NEAR_ZOOM = 0.10
"""The near layer's zoom change over the clip at medium: 1.0 to 1.1 (or back)."""
NEAR_PAN = 0.06
"""The near layer's travel over the clip at medium, as a share of the frame's width/height."""
FAR_SHARE = 0.35
"""The far layer moves and zooms this share of the near layer's amplitude."""
SWAY = 0.004
"""The near layer's drift around its path at medium, as a share of the frame's shorter side."""
SWAY_PERIOD_SECONDS = (3.0, 5.0)


@dataclass(frozen=True)
class Camera:
    x: float
    y: float
    zoom: float


@dataclass(frozen=True)
class Track:
    """One layer's move: from the centre ``-pan/2`` to ``+pan/2`` while zooming."""

    pan_x: float
    pan_y: float
    zoom_amount: float
    zoom_in: bool
    sway: float = 0.0
    sway_phase: float = 0.0
    sway_cycles: float = 0.0

    def at(self, t: float) -> Camera:
        eased = ease(t)
        zoom = 1.0 + self.zoom_amount * (eased if self.zoom_in else 1.0 - eased)
        angle = self.sway_phase + 2 * math.pi * self.sway_cycles * t
        return Camera(
            x=self.pan_x * (eased - 0.5) + self.sway * math.cos(angle),
            y=self.pan_y * (eased - 0.5) + self.sway * math.sin(angle),
            zoom=zoom,
        )

    @property
    def reach(self) -> tuple[float, float]:
        """The farthest the camera's centre gets from the world's origin, in x and in y."""
        return abs(self.pan_x) / 2 + self.sway, abs(self.pan_y) / 2 + self.sway

    @property
    def max_zoom(self) -> float:
        return 1.0 + self.zoom_amount


@dataclass(frozen=True)
class CameraPath:
    near: Track
    far: Track
    level: float


def ease(t: float) -> float:
    """Half linear, half smoothstep: a move that starts and ends gently but never stands."""
    t = min(1.0, max(0.0, t))
    return 0.5 * t + 0.5 * t * t * (3 - 2 * t)


def path_rng(seed: int) -> Random:
    material = b"creatix.preview_video.motion\x1f" + seed.to_bytes(4, "big")
    return Random(int.from_bytes(hashlib.sha256(material).digest(), "big"))


def plan_path(
    size: tuple[int, int], seed: int, movement: Movement, duration_seconds: float
) -> CameraPath:
    """The clip's camera path for a ``size`` frame; the same seed and movement, the same path."""
    width, height = size
    rng = path_rng(seed)
    # Draw everything first, so the seed fixes the same directions for every movement.
    auto_level = rng.uniform(*AUTO_LEVELS)
    angle = rng.uniform(0, 2 * math.pi)
    zoom_in = rng.random() < 0.6
    sway_phase = rng.uniform(0, 2 * math.pi)
    sway_period = rng.uniform(*SWAY_PERIOD_SECONDS)
    level = auto_level if movement == "auto" else LEVELS[movement]
    pan_x = math.cos(angle) * NEAR_PAN * level * width
    pan_y = math.sin(angle) * NEAR_PAN * level * height
    near = Track(
        pan_x=pan_x,
        pan_y=pan_y,
        zoom_amount=NEAR_ZOOM * level,
        zoom_in=zoom_in,
        sway=SWAY * level * min(width, height),
        sway_phase=sway_phase,
        sway_cycles=duration_seconds / sway_period,
    )
    far = Track(
        pan_x=pan_x * FAR_SHARE,
        pan_y=pan_y * FAR_SHARE,
        zoom_amount=NEAR_ZOOM * level * FAR_SHARE,
        zoom_in=zoom_in,
    )
    return CameraPath(near=near, far=far, level=level)
