"""Pictures as YUV planes (BT.709, limited range), the form H.264 takes them in.

The layers are converted once, so each frame is drawn straight into its Y, U and V planes
(one byte a sample, chroma at half resolution: 1.5 bytes a pixel to resample instead of
Pillow's 4 for RGB) and handed to the encoder with no per-frame colour conversion.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image

# BT.709: Y' = Kr R + Kg G + Kb B; Cb = (B - Y') / 1.8556; Cr = (R - Y') / 1.5748.
LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
BLUE = np.array([-0.2126 / 1.8556, -0.7152 / 1.8556, 0.5], dtype=np.float32)
RED = np.array([0.5, -0.7152 / 1.5748, -0.0722 / 1.5748], dtype=np.float32)
# Limited ("MPEG") range: luma 16..235, chroma 16..240 around 128.
LUMA_RANGE = 219 / 255
CHROMA_RANGE = 224 / 255


def _l(values: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(np.round(values), 0, 255).astype(np.uint8), "L")


def luma_plane(rgb: Image.Image) -> Image.Image:
    pixels = np.asarray(rgb.convert("RGB"), dtype=np.float32)
    return _l(16 + (pixels @ LUMA) * LUMA_RANGE)


def chroma_planes(rgb: Image.Image, size: tuple[int, int]) -> tuple[Image.Image, Image.Image]:
    """U and V of ``rgb``, averaged down to ``size`` (colour is linear in RGB: averaging the
    RGB first gives the same planes, for less work)."""
    small = rgb.convert("RGB")
    if small.size != size:
        small = small.resize(size, Image.Resampling.BOX)
    pixels = np.asarray(small, dtype=np.float32)
    return _l(128 + (pixels @ BLUE) * CHROMA_RANGE), _l(128 + (pixels @ RED) * CHROMA_RANGE)


def half(size: tuple[int, int]) -> tuple[int, int]:
    return (size[0] + 1) // 2, (size[1] + 1) // 2


def planes(
    packed: NDArray[np.uint8], size: tuple[int, int]
) -> tuple[NDArray[np.uint8], NDArray[np.uint8], NDArray[np.uint8]]:
    """Views of the Y, U and V planes in a packed yuv420p array (``YuvFrame.to_ndarray``'s
    shape), to draw into in place."""
    width, height = size
    flat = packed.reshape(-1)
    luma, chroma = width * height, width * height // 4
    return (
        flat[:luma].reshape(height, width),
        flat[luma : luma + chroma].reshape(height // 2, width // 2),
        flat[luma + chroma : luma + 2 * chroma].reshape(height // 2, width // 2),
    )


@dataclass(frozen=True)
class YuvFrame:
    """One 4:2:0 frame: ``y`` at full size, ``u`` and ``v`` at half (both sides even)."""

    y: Image.Image
    u: Image.Image
    v: Image.Image

    def to_ndarray(self) -> np.ndarray:
        """The planes one after the other, as PyAV's ``yuv420p`` ``from_ndarray`` wants them:
        shape (height * 3 / 2, width)."""
        width, height = self.y.size
        packed = np.empty(width * height * 3 // 2, dtype=np.uint8)
        luma = width * height
        packed[:luma] = np.asarray(self.y).reshape(-1)
        packed[luma : luma + luma // 4] = np.asarray(self.u).reshape(-1)
        packed[luma + luma // 4 :] = np.asarray(self.v).reshape(-1)
        return packed.reshape(height * 3 // 2, width)

    @classmethod
    def from_ndarray(cls, packed: NDArray[np.uint8], size: tuple[int, int]) -> YuvFrame:
        """The frame held in a packed array of ``to_ndarray``'s shape (copied)."""
        return cls(*(Image.fromarray(plane.copy(), "L") for plane in planes(packed, size)))

    def to_rgb(self) -> Image.Image:
        """The frame as a player shows it (chroma upsampled bilinearly)."""
        size = self.y.size
        y = (np.asarray(self.y, dtype=np.float32) - 16) / LUMA_RANGE
        u = np.asarray(self.u.resize(size, Image.Resampling.BILINEAR), dtype=np.float32)
        v = np.asarray(self.v.resize(size, Image.Resampling.BILINEAR), dtype=np.float32)
        cb = (u - 128) / CHROMA_RANGE
        cr = (v - 128) / CHROMA_RANGE
        r = y + 1.5748 * cr
        g = y - (0.0722 * 1.8556 / 0.7152) * cb - (0.2126 * 1.5748 / 0.7152) * cr
        b = y + 1.8556 * cb
        rgb = np.stack([r, g, b], axis=-1)
        return Image.fromarray(np.clip(np.round(rgb), 0, 255).astype(np.uint8), "RGB")
