"""Image-to-video on the diffusers engine: which pipelines, their rules, and writing the MP4.

No torch here: this module reads a model folder's configs, plans a call (frames, the size to
draw at, guidance, motion) and writes the frames a pipeline made to an H.264 MP4.

Families (by the ``_class_name`` of the folder's ``model_index.json``):

``StableVideoDiffusionPipeline`` (SVD, SVD-XT)
    No prompt: the image alone conditions it. Sides multiples of 8; any frame count.
    ``spec.movement`` picks ``motion_bucket_id`` (small 60, medium and auto 127, large 200).
``LTXPipeline``, ``LTXImageToVideoPipeline`` (LTX-Video)
    A text-to-video folder (``Lightricks/LTX-Video`` ships one) gets its image-to-video
    pipeline with ``LTXImageToVideoPipeline.from_pipe`` (the same components, no second
    copy). Sides multiples of 32 (the VAE's 32 px per latent); 8k+1 frames (8 per latent).
``WanImageToVideoPipeline`` (Wan 2.1/2.2 image-to-video)
    Sides multiples of 16 (8 px per latent, 2x2 patches); 4k+1 frames. diffusers loads its
    transformer only with ``accelerate`` installed and cleans its prompts with ``ftfy``: a
    Wan model is unavailable (with that reason) until both are.

The numbers are read from the folder's VAE and transformer configs where they say more than
the family's floor (a VAE that compresses more needs coarser sizes).

Frames: ``duration_seconds × fps`` rounded to the nearest count the pipeline makes (8k+1
for LTX, 4k+1 for Wan, ties up, at least one step past the first frame), so a video's real
duration, ``frames / fps``, may differ a little from the one asked (5 s at 24 fps is 121
frames, 5.04 s); ``VideoOutput.duration_seconds`` reports the real one.

Size: the pipeline draws at each side rounded to its nearest multiple of the family's step
(720 → 736 for LTX) and the frames are scaled to the asked size when that differs, so every
even size is served, as the dialects' 720p and 1080p sizes need.

Guidance: the engine's ``guidance_scale`` option; a spec's ``cfg_scale`` (0..1, Kling's
scale, 0.5 its default) scales it: ``1 + (guidance_scale − 1) × 2 × cfg_scale``, so 0.5
keeps the option's guidance, 0 turns classifier-free guidance off (1.0) and 1 doubles its
strength. An engine whose guidance is off (≤ 1) keeps it off. SVD takes it as
``max_guidance_scale`` (its guidance ramps from ``min_guidance_scale`` 1.0 over the frames).

The MP4: H.264 (the preview video engine's ``Mp4Writer``: yuv420p, BT.709), frame by frame
at ``spec.fps``, the worker's ``FrameMarker`` drawn into each frame before it is encoded,
and a JPEG of the first (marked) frame as its thumbnail. No audio track, not even a
silent one: ``has_audio`` is False and a spec asking for sound is rejected at submit.
"""

from __future__ import annotations

import io
import json
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from PIL import Image

from creatix.engines.base import FrameMarker
from creatix.engines.preview_video.encode import Mp4Writer
from creatix.engines.preview_video.yuv import YuvFrame, chroma_planes, half, luma_plane, planes
from creatix.jobs.specs import Movement, VideoSpec

MODEL_INDEX = "model_index.json"
CRF = 18
"""x264's constant rate factor: generated video is worth keeping close to lossless."""
PRESET = "fast"
THUMBNAIL_QUALITY = 85
MOTION_BUCKETS: dict[Movement, int] = {"small": 60, "medium": 127, "large": 200, "auto": 127}
"""SVD's ``motion_bucket_id`` for each ``spec.movement`` (127 is SVD's own default)."""


@dataclass(frozen=True)
class VideoFamily:
    name: str
    image_to_video: str
    """The pipeline class that animates an image (derived with ``from_pipe`` if the folder's
    class is another of the family)."""
    size_step: int
    """The pipeline's own floor for what width and height must be multiples of."""
    frame_step: int
    """Frames per latent frame: counts are ``frame_step × k + 1`` (1: any count)."""
    takes_prompt: bool
    requires: tuple[str, ...] = ()
    """Packages diffusers needs to load and run it, beyond the engine's own."""


SVD = VideoFamily("svd", "StableVideoDiffusionPipeline", 8, 1, takes_prompt=False)
LTX = VideoFamily("ltx", "LTXImageToVideoPipeline", 32, 8, takes_prompt=True)
WAN = VideoFamily(
    "wan", "WanImageToVideoPipeline", 16, 4, takes_prompt=True, requires=("accelerate", "ftfy")
)
FAMILIES: dict[str, VideoFamily] = {
    "StableVideoDiffusionPipeline": SVD,
    "LTXPipeline": LTX,
    "LTXImageToVideoPipeline": LTX,
    "WanImageToVideoPipeline": WAN,
}


@dataclass(frozen=True)
class VideoRules:
    """What one model folder's pipeline makes."""

    pipeline_class: str
    family: VideoFamily
    size_multiple: int
    frame_step: int

    def missing_packages(self) -> list[str]:
        return [name for name in self.family.requires if find_spec(name) is None]


def pipeline_class(path: Path) -> str | None:
    """The ``_class_name`` of the folder's ``model_index.json``, or None without one."""
    try:
        index: dict[str, Any] = json.loads((path / MODEL_INDEX).read_text())
    except (OSError, ValueError):
        return None
    name = index.get("_class_name")
    return name if isinstance(name, str) else None


def rules_on_disk(path: Path) -> VideoRules | None:
    """The rules of the image-to-video pipeline in ``path``, read from its configs without
    loading weights; None when the folder holds no pipeline of a known video family."""
    name = pipeline_class(path)
    family = FAMILIES.get(name or "")
    if name is None or family is None:
        return None
    vae = _config(path / "vae")
    transformer = _config(path / "transformer")
    spatial, temporal = _compression(family, vae)
    patch = _spatial_patch(transformer.get("patch_size", 1))
    return VideoRules(
        pipeline_class=name,
        family=family,
        size_multiple=max(family.size_step, spatial * patch),
        frame_step=max(1, temporal),
    )


def _config(folder: Path) -> dict[str, Any]:
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return {}
    return config if isinstance(config, dict) else {}


def _compression(family: VideoFamily, vae: dict[str, Any]) -> tuple[int, int]:
    """Pixels and frames per latent, as each family's VAE computes them (its defaults when
    the config cannot be read)."""
    try:
        if family is LTX:
            scaling = vae.get("spatio_temporal_scaling", (True, True, True, False))
            twice = 2 ** sum(bool(s) for s in scaling)
            spatial = vae.get("spatial_compression_ratio") or vae.get("patch_size", 4) * twice
            temporal = vae.get("temporal_compression_ratio") or vae.get("patch_size_t", 1) * twice
            return int(spatial), int(temporal)
        if family is WAN:
            spatial = vae.get("scale_factor_spatial") or 8
            return int(spatial), int(vae.get("scale_factor_temporal") or 4)
        blocks = vae.get("block_out_channels") or [0] * 4
        return 1 << (len(blocks) - 1), 1
    except (TypeError, ValueError):
        return family.size_step, family.frame_step


def _spatial_patch(patch: Any) -> int:
    """A transformer's spatial patch: LTX says an int, Wan a (t, h, w) triple."""
    if isinstance(patch, list | tuple):
        patch = patch[1] if len(patch) > 1 else 1
    try:
        return max(1, int(patch))
    except (TypeError, ValueError):
        return 1


# -- planning one call ---------------------------------------------------------------------


def frame_count(duration_seconds: int, fps: int, frame_step: int) -> int:
    """The frame count nearest ``duration_seconds × fps`` that the pipeline makes:
    ``frame_step × k + 1`` with k ≥ 1 (ties go up); any count ≥ 1 when ``frame_step`` is 1."""
    wanted = duration_seconds * fps
    if frame_step <= 1:
        return max(1, wanted)
    steps = max(1, math.floor((wanted - 1) / frame_step + 0.5))
    return frame_step * steps + 1


def drawn_side(side: int, multiple: int) -> int:
    """``side`` rounded to the nearest multiple of ``multiple`` (halves up), at least one."""
    return max(multiple, multiple * math.floor(side / multiple + 0.5))


def guidance(base: float, cfg_scale: float | None) -> float:
    """The guidance for a call: the engine's, scaled by the spec's ``cfg_scale`` (see the
    module docstring)."""
    if cfg_scale is None or base <= 1:
        return base
    return round(1 + (base - 1) * 2 * cfg_scale, 4)


@dataclass(frozen=True)
class VideoPlan:
    """One spec as a pipeline call."""

    frames: int
    width: int
    height: int
    """The size the pipeline draws at (the frames are scaled to the spec's size after)."""
    guidance_scale: float
    motion_bucket_id: int


def plan(spec: VideoSpec, rules: VideoRules, guidance_scale: float) -> VideoPlan:
    return VideoPlan(
        frames=frame_count(spec.duration_seconds, spec.fps, rules.frame_step),
        width=drawn_side(spec.width, rules.size_multiple),
        height=drawn_side(spec.height, rules.size_multiple),
        guidance_scale=guidance(guidance_scale, spec.cfg_scale),
        motion_bucket_id=MOTION_BUCKETS[spec.movement],
    )


# -- writing the MP4 -----------------------------------------------------------------------


class Stopped(Exception):
    """The call was cancelled: writing stopped between frames."""


def write_mp4(
    frames: Sequence[Image.Image],
    path: Path,
    size: tuple[int, int],
    fps: int,
    *,
    progress: Callable[[float], None] | None = None,
    stop: threading.Event | None = None,
    marker: FrameMarker | None = None,
) -> bytes:
    """Write ``frames`` (scaled to ``size`` where they differ) to ``path`` as H.264 at
    ``fps``, one frame at a time, and return a JPEG of the first (blocking: run it in a
    thread). ``marker`` is drawn into each frame's planes just before it is encoded (the
    thumbnail shows the marked first frame). ``progress`` is told the fraction written. On
    any failure, or ``stop``, the partial file is removed."""
    if not frames:
        raise ValueError("the pipeline made no frames")
    path.parent.mkdir(parents=True, exist_ok=True)
    thumbnail = b""
    try:
        with Mp4Writer(path, size, fps, crf=CRF, preset=PRESET, audio=False) as writer:
            for index, frame in enumerate(frames):
                if stop is not None and stop.is_set():
                    raise Stopped
                picture = _exact(frame, size)
                packed = YuvFrame(luma_plane(picture), *chroma_planes(picture, half(size)))
                planar = packed.to_ndarray()
                if marker is not None:
                    marker.mark_planes(*planes(planar, size))
                if index == 0:
                    marked = marker is not None
                    thumbnail = jpeg(
                        YuvFrame.from_ndarray(planar, size).to_rgb() if marked else picture
                    )
                writer.add_packed(planar)
                if progress is not None:
                    progress((index + 1) / len(frames))
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return thumbnail


def _exact(frame: Image.Image, size: tuple[int, int]) -> Image.Image:
    frame = frame.convert("RGB") if frame.mode != "RGB" else frame
    if frame.size != size:
        frame = frame.resize(size, Image.Resampling.LANCZOS)
    return frame


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=THUMBNAIL_QUALITY)
    return buffer.getvalue()
