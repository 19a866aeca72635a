"""Where the key visual's subject is, and the crop that keeps it in view.

The focal point is the weighted centre of the most salient tenth of a 64×64 spectral-residual
saliency map (Hou & Zhang, 2007), multiplied by a centre-weighted prior so that a flat or noisy
picture is cropped around its middle. It costs well under a millisecond.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PIL import Image

MAP_SIDE = 64
CENTRE_SIGMA = 0.5
TOP_FRACTION = 0.10

Box = tuple[int, int, int, int]
Array = npt.NDArray[np.float64]


def _box_blur(values: Array, radius: int) -> Array:
    """A separable box blur with wrap-around edges (fine for a saliency map)."""
    result = values
    for axis in (0, 1):
        total = np.zeros_like(result)
        for shift in range(-radius, radius + 1):
            total += np.roll(result, shift, axis=axis)
        result = total / (2 * radius + 1)
    return result


def saliency_map(image: Image.Image) -> Array:
    """A ``MAP_SIDE``×``MAP_SIDE`` map of how much each region stands out, in 0..1."""
    small = image.resize((MAP_SIDE, MAP_SIDE), Image.Resampling.BILINEAR, reducing_gap=2.0)
    small = small.convert("L")
    grey = np.asarray(small, dtype=np.float64) / 255.0
    spectrum = np.fft.fft2(grey)
    log_amplitude = np.log(np.abs(spectrum) + 1e-9)
    residual = log_amplitude - _box_blur(log_amplitude, 1)
    saliency = np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(spectrum)))) ** 2
    saliency = _box_blur(_box_blur(saliency, 2), 2)
    ys, xs = np.mgrid[0:MAP_SIDE, 0:MAP_SIDE] / (MAP_SIDE - 1)
    prior = np.exp(-((xs - 0.5) ** 2 + (ys - 0.5) ** 2) / (2 * CENTRE_SIGMA**2))
    weighted: Array = saliency * prior
    peak = float(weighted.max())
    return weighted / peak if peak > 0 else prior


def focal_point(image: Image.Image) -> tuple[float, float]:
    """The subject's centre as fractions ``(x, y)`` of the image's width and height."""
    weights = saliency_map(image)
    threshold = np.quantile(weights, 1.0 - TOP_FRACTION)
    weights = np.where(weights >= threshold, weights, 0.0)
    total = float(weights.sum())
    if total <= 0:
        return 0.5, 0.5
    ys, xs = np.mgrid[0:MAP_SIDE, 0:MAP_SIDE] + 0.5
    return float((weights * xs).sum() / total / MAP_SIDE), float(
        (weights * ys).sum() / total / MAP_SIDE
    )


def crop_box(
    size: tuple[int, int],
    target: tuple[int, int],
    focal: tuple[float, float],
    anchor: tuple[float, float] = (0.5, 0.5),
) -> tuple[float, float, float, float]:
    """The largest window of the target's aspect inside an image of ``size`` that puts the focal
    point at ``anchor`` (fractions of the window), moved as little as needed to stay inside."""
    width, height = size
    aspect = target[0] / target[1]
    crop_w, crop_h = (
        (width, width / aspect) if width / height < aspect else (height * aspect, height)
    )
    left = focal[0] * width - anchor[0] * crop_w
    top = focal[1] * height - anchor[1] * crop_h
    left = min(max(left, 0.0), width - crop_w)
    top = min(max(top, 0.0), height - crop_h)
    return left, top, left + crop_w, top + crop_h


def fill(
    image: Image.Image,
    target: tuple[int, int],
    focal: tuple[float, float],
    anchor: tuple[float, float] = (0.5, 0.5),
) -> Image.Image:
    """The image cropped around its focal point and scaled to exactly ``target`` pixels."""
    box = crop_box(image.size, target, focal, anchor)
    return image.resize(target, Image.Resampling.BILINEAR, box=box, reducing_gap=2.0)
