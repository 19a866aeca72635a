"""The two layers a preview video is drawn from, and one frame drawn from them.

Everything costly happens once, in ``build_scene``, which also turns the layers into YUV planes
(``yuv.py``); a frame is a bilinear resize of each plane of each layer (a crop, zoom and
sub-pixel shift in one pass) and masked pastes of the near layer and the label.

- A source close to the frame's shape fills it (``cover``): the far layer is the whole picture,
  softened; the near layer is the same picture, sharp, inside a feathered ellipse centred
  between the frame's centre and the picture's detail (edges are where subjects usually are:
  a cheap depth guess). As the layers move apart the subject slides over its surroundings.
- Any other source (a square into 16:9, a panorama, a cutout with alpha) becomes a card
  (``contain``): the far layer is the picture cropped to the frame's shape, heavily blurred
  and dimmed; the near layer is the whole picture with a soft shadow, floating in front.

A source's alpha channel is kept on the near layer (a cutout floats over its own blur) and
flattened over its mean colour on the far one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter, ImageStat

from creatix.engines.preview.typography import draw_preview_label
from creatix.engines.preview_video.motion import Camera, CameraPath
from creatix.engines.preview_video.yuv import YuvFrame, chroma_planes, half, luma_plane

COVER_ASPECT = 1.25
"""A source whose aspect ratio is within this factor of the frame's fills the frame."""
CARD_FIT = 0.84
"""A card fits in this share of the frame's width and height (at its middle zoom)."""
CARD_SHADOW = 0.035
"""The card's shadow spread, as a share of the frame's shorter side."""
FAR_SCALE = {"cover": 0.5, "contain": 0.25}
"""The far layer's resolution against the frame's: it is soft anyway, so it is kept small."""
FAR_BLUR = {"cover": 0.012, "contain": 0.03}
"""The far layer's blur radius, as a share of its shorter side: out of focus, so that where
the layers part the background reads as depth, not as a double image."""
FAR_BRIGHTNESS = {"cover": 0.9, "contain": 0.7}
ELLIPSE = (0.36, 0.42)
"""The near layer's ellipse semi-axes (cover), as shares of the frame's width and height."""
FEATHER_FROM = 0.45
"""The ellipse is opaque to this share of its radius and fades to nothing at its edge."""
OVERSCAN_MARGIN = 0.01
RESAMPLE = Image.Resampling.BILINEAR

Box = tuple[float, float, float, float]
PixelBox = tuple[int, int, int, int]


@dataclass(frozen=True)
class Plane:
    """A layer's samples at one resolution: its luma (one image) or its chroma (U and V), and
    their coverage (the near layer's alpha; kept apart from the samples, as YUV has none)."""

    images: tuple[Image.Image, ...]
    mask: Image.Image | None = None


@dataclass(frozen=True)
class Layer:
    """A picture spanning the world rectangle ``rect`` (left, top, right, bottom), as planes."""

    rect: Box
    luma: Plane
    chroma: Plane


def make_layer(
    rgb: Image.Image, rect: Box, mask: Image.Image | None = None, *, full_chroma: bool = False
) -> Layer:
    """``rgb`` (and its coverage ``mask``) as a layer; chroma at half its resolution unless
    ``full_chroma`` (a layer already smaller than the frame keeps all it has)."""
    chroma_size = rgb.size if full_chroma else half(rgb.size)
    chroma_mask = mask
    if mask is not None and mask.size != chroma_size:
        chroma_mask = mask.resize(chroma_size, Image.Resampling.BOX)
    return Layer(
        rect=rect,
        luma=Plane((luma_plane(rgb),), mask),
        chroma=Plane(chroma_planes(rgb, chroma_size), chroma_mask),
    )


def view(
    rect: Box, camera: Camera, size: tuple[int, int], image_size: tuple[int, int], unit: float
) -> tuple[PixelBox, Box] | None:
    """Where a layer spanning world ``rect``, drawn in an image of ``image_size``, lands in a
    plane of ``size`` (``unit`` plane pixels per world unit: 1 for luma, 0.5 for chroma) seen
    by ``camera``: the whole-pixel rectangle it covers there, and the matching box in the
    image (for a resize that crops, zooms and shifts by fractions of a pixel in one pass)."""
    width, height = size
    left, top, right, bottom = (edge * unit for edge in rect)
    cam_x, cam_y, zoom = camera.x * unit, camera.y * unit, camera.zoom
    x0 = max(0, math.ceil((left - cam_x) * zoom + width / 2 - 1e-6))
    y0 = max(0, math.ceil((top - cam_y) * zoom + height / 2 - 1e-6))
    x1 = min(width, math.floor((right - cam_x) * zoom + width / 2 + 1e-6))
    y1 = min(height, math.floor((bottom - cam_y) * zoom + height / 2 + 1e-6))
    if x1 <= x0 or y1 <= y0:
        return None
    image_w, image_h = image_size
    scale_x, scale_y = image_w / (right - left), image_h / (bottom - top)

    def image_x(out: int) -> float:
        return min(float(image_w), max(0.0, ((out - width / 2) / zoom + cam_x - left) * scale_x))

    def image_y(out: int) -> float:
        return min(float(image_h), max(0.0, ((out - height / 2) / zoom + cam_y - top) * scale_y))

    return (x0, y0, x1, y1), (image_x(x0), image_y(y0), image_x(x1), image_y(y1))


@dataclass(frozen=True)
class Overlay:
    """A still patch over every frame (the PREVIEW label), at even frame coordinates."""

    position: tuple[int, int]
    luma: Plane
    chroma: Plane

    def draw(self, frame: YuvFrame) -> None:
        x, y = self.position
        frame.y.paste(self.luma.images[0], (x, y), self.luma.mask)
        frame.u.paste(self.chroma.images[0], (x // 2, y // 2), self.chroma.mask)
        frame.v.paste(self.chroma.images[1], (x // 2, y // 2), self.chroma.mask)


def preview_label(size: tuple[int, int]) -> Overlay:
    """The image preview engine's PREVIEW label, as that engine draws it, cut out as a patch.

    It is drawn once on black and once on white: where the two differ the label is partly
    transparent, which gives its coverage and its own colour exactly."""
    on_black = Image.new("RGB", size, (0, 0, 0))
    on_white = Image.new("RGB", size, (255, 255, 255))
    draw_preview_label(on_black)
    draw_preview_label(on_white)
    black = np.asarray(on_black, dtype=np.float32)
    white = np.asarray(on_white, dtype=np.float32)
    coverage = 1 - (white - black).mean(axis=-1) / 255
    rows, cols = np.nonzero(coverage > 0.5 / 255)
    if rows.size == 0:
        blank = Image.new("L", (2, 2), 0)
        return Overlay((0, 0), Plane((blank,), blank), Plane((blank, blank), blank))
    x0, y0 = int(cols.min()) // 2 * 2, int(rows.min()) // 2 * 2
    x1 = min(size[0], (int(cols.max()) + 2) // 2 * 2)
    y1 = min(size[1], (int(rows.max()) + 2) // 2 * 2)
    alpha = coverage[y0:y1, x0:x1]
    colour = black[y0:y1, x0:x1] / np.maximum(alpha, 1e-3)[..., None]
    rgb = Image.fromarray(np.clip(np.round(colour), 0, 255).astype(np.uint8), "RGB")
    mask = Image.fromarray(np.round(alpha * 255).astype(np.uint8), "L")
    layer = make_layer(rgb, (0.0, 0.0, 0.0, 0.0), mask)
    return Overlay((x0, y0), layer.luma, layer.chroma)


@dataclass(frozen=True)
class Scene:
    size: tuple[int, int]
    far: Layer
    near: Layer
    label: Overlay
    path: CameraPath
    layout: str
    fill: tuple[int, int, int]
    """The flat colour behind everything (a safety: the far layer always covers the frame)."""

    @property
    def chroma_size(self) -> tuple[int, int]:
        return half(self.size)

    def frame(self, t: float) -> YuvFrame:
        """The frame at ``t`` (0 = first, 1 = last), labelled."""
        far, near = self.path.far.at(t), self.path.near.at(t)
        (y,) = self._base(self.far.luma, far, self.size, 1.0)
        u, v = self._base(self.far.chroma, far, self.chroma_size, 0.5)
        self._overlay(self.near.luma, near, (y,), self.size, 1.0)
        self._overlay(self.near.chroma, near, (u, v), self.chroma_size, 0.5)
        frame = YuvFrame(y, u, v)
        self.label.draw(frame)
        return frame

    def _base(
        self, plane: Plane, camera: Camera, size: tuple[int, int], unit: float
    ) -> tuple[Image.Image, ...]:
        placed = view(self.far.rect, camera, size, plane.images[0].size, unit)
        if placed is not None and placed[0] == (0, 0, *size):
            return tuple(image.resize(size, RESAMPLE, box=placed[1]) for image in plane.images)
        fill = Image.new("RGB", (1, 1), self.fill)
        values = (luma_plane(fill),) if len(plane.images) == 1 else chroma_planes(fill, (1, 1))
        bases = tuple(Image.new("L", size, value.getpixel((0, 0))) for value in values)
        if placed is not None:
            (x0, y0, x1, y1), box = placed
            for base, image in zip(bases, plane.images, strict=True):
                base.paste(image.resize((x1 - x0, y1 - y0), RESAMPLE, box=box), (x0, y0))
        return bases

    def _overlay(
        self,
        plane: Plane,
        camera: Camera,
        targets: tuple[Image.Image, ...],
        size: tuple[int, int],
        unit: float,
    ) -> None:
        placed = view(self.near.rect, camera, size, plane.images[0].size, unit)
        if placed is None:
            return
        (x0, y0, x1, y1), box = placed
        patch_size = (x1 - x0, y1 - y0)
        mask = plane.mask.resize(patch_size, RESAMPLE, box=box) if plane.mask else None
        for target, image in zip(targets, plane.images, strict=True):
            target.paste(image.resize(patch_size, RESAMPLE, box=box), (x0, y0), mask)


def build_scene(source: Image.Image, size: tuple[int, int], path: CameraPath) -> Scene:
    """The layers for animating ``source`` into ``size`` frames along ``path``."""
    width, height = size
    picture, alpha = _split_alpha(source)
    fill = _fill_colour(picture, alpha)
    flat = picture if alpha is None else _flatten(picture, alpha, fill)
    src_aspect = picture.width / picture.height
    frame_aspect = width / height
    layout = (
        "cover"
        if max(src_aspect, frame_aspect) / min(src_aspect, frame_aspect) <= (COVER_ASPECT)
        else "contain"
    )
    # The far world spans ``overscan`` times the frame: its camera never shows past its edge.
    reach_x, reach_y = path.far.reach
    overscan = 1 + 2 * max(reach_x / width, reach_y / height) + OVERSCAN_MARGIN
    world = (
        -width * overscan / 2,
        -height * overscan / 2,
        width * overscan / 2,
        height * overscan / 2,
    )
    # World pixels per source pixel when the source covers the far world.
    cover_scale = max(width / picture.width, height / picture.height) * overscan
    far = _far_layer(flat, world, cover_scale, layout, size)
    if layout == "cover":
        near = _ellipse_layer(picture, alpha, cover_scale, size, path.near.max_zoom)
    else:
        near = _card_layer(picture, alpha, size, path.near.max_zoom)
    return Scene(
        size=size,
        far=far,
        near=near,
        label=preview_label(size),
        path=path,
        layout=layout,
        fill=fill,
    )


def _split_alpha(source: Image.Image) -> tuple[Image.Image, Image.Image | None]:
    has_alpha = "A" in source.getbands() or "transparency" in source.info
    if not has_alpha:
        return source.convert("RGB"), None
    rgba = source.convert("RGBA")
    alpha = rgba.getchannel("A")
    low = _extrema(alpha)[0]
    if low >= 250:  # an alpha channel that hides nothing
        return rgba.convert("RGB"), None
    return rgba.convert("RGB"), alpha


def _fill_colour(picture: Image.Image, alpha: Image.Image | None) -> tuple[int, int, int]:
    small = picture.resize((32, 32), Image.Resampling.BOX)
    mask = alpha.resize((32, 32), Image.Resampling.BOX) if alpha is not None else None
    if mask is not None and _extrema(mask)[1] == 0:
        mask = None
    mean = ImageStat.Stat(small, mask).mean
    return (round(mean[0] * 0.6), round(mean[1] * 0.6), round(mean[2] * 0.6))


def _extrema(band: Image.Image) -> tuple[float, float]:
    """The lowest and highest value of a one-band image."""
    low, high = cast("tuple[float, float]", band.getextrema())
    return low, high


def _flatten(picture: Image.Image, alpha: Image.Image, fill: tuple[int, int, int]) -> Image.Image:
    flat = Image.new("RGB", picture.size, fill)
    flat.paste(picture, (0, 0), alpha)
    return flat


def _source_box(
    picture: Image.Image, rect: tuple[float, float, float, float], scale: float
) -> tuple[float, float, float, float]:
    """The source pixels that world rectangle ``rect`` shows when the source, centred, has
    ``scale`` world pixels per source pixel."""
    cx, cy = picture.width / 2, picture.height / 2
    left, top, right, bottom = rect
    return (
        max(0.0, cx + left / scale),
        max(0.0, cy + top / scale),
        min(float(picture.width), cx + right / scale),
        min(float(picture.height), cy + bottom / scale),
    )


def _resized(
    image: Image.Image, size: tuple[int, int], box: tuple[float, float, float, float]
) -> Image.Image:
    """A quality resize of a region, fast for big sources (Pillow reduces first)."""
    return image.resize(size, Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)


def _far_layer(
    flat: Image.Image,
    world: tuple[float, float, float, float],
    cover_scale: float,
    layout: str,
    size: tuple[int, int],
) -> Layer:
    left, top, right, bottom = world
    scale = FAR_SCALE[layout]
    far_size = (max(2, round((right - left) * scale)), max(2, round((bottom - top) * scale)))
    if layout == "cover":
        box = _source_box(flat, world, cover_scale)
    else:  # the middle of the picture, cropped to the frame's shape
        box = _aspect_crop(flat, (right - left) / (bottom - top))
    image = _resized(flat, far_size, box)
    radius = FAR_BLUR[layout] * min(far_size)
    if radius >= 0.5:
        image = image.filter(ImageFilter.GaussianBlur(radius))
    # Dimmer (and, behind a card, greyer) than the near layer: it reads as further away.
    if layout == "contain":
        image = ImageEnhance.Color(image).enhance(0.7)
    image = ImageEnhance.Brightness(image).enhance(FAR_BRIGHTNESS[layout])
    return make_layer(image, world, full_chroma=True)


def _aspect_crop(picture: Image.Image, aspect: float) -> tuple[float, float, float, float]:
    """The largest centred box of ``picture`` with ``aspect`` (width / height)."""
    w, h = picture.width, picture.height
    if w / h > aspect:
        crop_w = h * aspect
        return ((w - crop_w) / 2, 0.0, (w + crop_w) / 2, float(h))
    crop_h = w / aspect
    return (0.0, (h - crop_h) / 2, float(w), (h + crop_h) / 2)


def _ellipse_layer(
    picture: Image.Image,
    alpha: Image.Image | None,
    cover_scale: float,
    size: tuple[int, int],
    max_zoom: float,
) -> Layer:
    width, height = size
    semi_x, semi_y = ELLIPSE[0] * width, ELLIPSE[1] * height
    cx, cy = _detail_centre(picture, cover_scale, size)
    cx = min(width / 2 - semi_x, max(semi_x - width / 2, cx))
    cy = min(height / 2 - semi_y, max(semi_y - height / 2, cy))
    rect = (cx - semi_x, cy - semi_y, cx + semi_x, cy + semi_y)
    layer_size = (max(2, round(2 * semi_x * max_zoom)), max(2, round(2 * semi_y * max_zoom)))
    box = _source_box(picture, rect, cover_scale)
    image = _resized(picture, layer_size, box)
    mask = _ellipse_mask(layer_size)
    if alpha is not None:
        source_alpha = np.asarray(_resized(alpha, layer_size, box), dtype=np.uint16)
        mask = (mask.astype(np.uint16) * source_alpha // 255).astype(np.uint8)
    return make_layer(image, rect, Image.fromarray(mask, "L"))


def _ellipse_mask(size: tuple[int, int]) -> np.ndarray:
    width, height = size
    xs = (np.arange(width, dtype=np.float32) + 0.5) / width * 2 - 1
    ys = (np.arange(height, dtype=np.float32) + 0.5) / height * 2 - 1
    distance = np.sqrt(xs[None, :] ** 2 + ys[:, None] ** 2)
    fade = np.clip((distance - FEATHER_FROM) / (1 - FEATHER_FROM), 0.0, 1.0)
    opacity = 1.0 - fade * fade * (3 - 2 * fade)
    return np.round(opacity * 255).astype(np.uint8)


def _detail_centre(
    picture: Image.Image, cover_scale: float, size: tuple[int, int]
) -> tuple[float, float]:
    """Halfway between the frame's centre and the centroid of the picture's edges (world)."""
    width, height = size
    frame_rect = (-width / 2, -height / 2, width / 2, height / 2)
    probe_size = (64, max(8, round(64 * height / width)))
    probe = picture.resize(
        probe_size, Image.Resampling.BOX, box=_source_box(picture, frame_rect, cover_scale)
    )
    edges = np.asarray(probe.convert("L").filter(ImageFilter.FIND_EDGES), dtype=np.float32)
    edges = edges[1:-1, 1:-1]  # FIND_EDGES leaves the border rows and columns meaningless
    total = float(edges.sum())
    if total <= 0:
        return 0.0, 0.0
    rows, cols = edges.shape
    col_centre = float((edges.sum(axis=0) * (np.arange(cols) + 1.5)).sum() / total)
    row_centre = float((edges.sum(axis=1) * (np.arange(rows) + 1.5)).sum() / total)
    x = (col_centre / probe_size[0] - 0.5) * width
    y = (row_centre / probe_size[1] - 0.5) * height
    return x / 2, y / 2


def _card_layer(
    picture: Image.Image, alpha: Image.Image | None, size: tuple[int, int], max_zoom: float
) -> Layer:
    width, height = size
    fit = min(width / picture.width, height / picture.height) * CARD_FIT * 2 / (1 + max_zoom)
    card_w, card_h = picture.width * fit, picture.height * fit
    pad = CARD_SHADOW * min(width, height)
    rect = (-card_w / 2 - pad, -card_h / 2 - pad, card_w / 2 + pad, card_h / 2 + pad)
    layer_size = (
        max(2, round((card_w + 2 * pad) * max_zoom)),
        max(2, round((card_h + 2 * pad) * max_zoom)),
    )
    pad_px = pad * max_zoom
    inner = (
        max(1, round(layer_size[0] - 2 * pad_px)),
        max(1, round(layer_size[1] - 2 * pad_px)),
    )
    offset = (round(pad_px), round(pad_px))
    full_box = (0.0, 0.0, float(picture.width), float(picture.height))
    card = _resized(picture, inner, full_box)
    card_alpha = (
        _resized(alpha, inner, full_box) if alpha is not None else Image.new("L", inner, 255)
    )
    # The shadow: the card's silhouette, blurred, a little lower, in black at partial opacity.
    silhouette = Image.new("L", layer_size, 0)
    silhouette.paste(card_alpha, (offset[0], offset[1] + round(pad_px * 0.35)))
    shadow = silhouette.filter(ImageFilter.GaussianBlur(pad_px * 0.45)).point(
        [round(v * 0.55) for v in range(256)]
    )
    premultiplied = Image.new("RGB", layer_size, (0, 0, 0))
    premultiplied.paste(card, offset, card_alpha)
    card_mask = Image.new("L", layer_size, 0)
    card_mask.paste(card_alpha, offset)
    # The card over its shadow: coverage a + s(1 - a); colour the card's share of it (the
    # shadow is black), so pasting through the mask gives card·a + ground·(1 - a)(1 - s).
    a = np.asarray(card_mask, dtype=np.float32) / 255
    s = np.asarray(shadow, dtype=np.float32) / 255
    coverage = a + s * (1 - a)
    colour = np.asarray(premultiplied, dtype=np.float32) / np.maximum(coverage, 1e-3)[..., None]
    image = Image.fromarray(np.clip(colour, 0, 255).astype(np.uint8), "RGB")
    mask = Image.fromarray(np.round(coverage * 255).astype(np.uint8), "L")
    return make_layer(image, rect, mask)
