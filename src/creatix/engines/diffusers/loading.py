"""The torch and diffusers boundary: devices, dtypes, loading, sizing and freeing pipelines.

diffusers' pipelines are dynamic objects (their components depend on the folder loaded), so
they are ``Any`` here; everything that touches them goes through this module and
``engine.py``.
"""

from __future__ import annotations

import gc
import importlib
import inspect
import json
import logging
from functools import cache
from pathlib import Path
from typing import Any

import torch

from creatix.engines.diffusers import video
from creatix.engines.diffusers.config import GB
from creatix.engines.options import DTYPES

log = logging.getLogger(__name__)

DEFAULT_SIZE_MULTIPLE = 8
"""Stable Diffusion pipelines insist on sides that are multiples of 8 whatever their VAE."""
CUDA_BUDGET_SHARE = 0.8


def pick_device(requested: str) -> torch.device:
    """``auto``: the first CUDA device when there is one, else the CPU."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(requested)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {requested} was asked for but CUDA is not available")
    return device


def pick_dtype(requested: str, device: torch.device) -> torch.dtype:
    """``auto``: bfloat16 on CUDA, float32 elsewhere."""
    if requested == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    dtype: torch.dtype = getattr(torch, DTYPES[requested])
    return dtype


def default_budget_bytes(device: torch.device) -> int | None:
    """80% of the GPU's memory on CUDA; no budget elsewhere."""
    if device.type != "cuda":
        return None
    total = torch.cuda.get_device_properties(device).total_memory
    return int(total * CUDA_BUDGET_SHARE)


def _diffusers() -> Any:
    return importlib.import_module("diffusers")


@cache
def _dtype_keyword() -> str:
    """Recent diffusers take ``dtype`` and deprecate ``torch_dtype``; older ones only know
    ``torch_dtype``."""
    try:
        deprecation = importlib.import_module("diffusers.utils.deprecation_utils")
    except ImportError:
        return "torch_dtype"
    return "dtype" if hasattr(deprecation, "_resolve_dtype") else "torch_dtype"


def load_pipeline(path: Path, dtype: torch.dtype) -> Any:
    """The pipeline in ``path``, on the CPU, in ``dtype``; never downloads. A folder of a
    video family (``video.FAMILIES``) loads as the class its ``model_index.json`` names;
    any other as the text-to-image pipeline of its kind."""
    diffusers = _diffusers()
    loader = (
        diffusers.DiffusionPipeline
        if video.pipeline_class(path) in video.FAMILIES
        else diffusers.AutoPipelineForText2Image
    )
    pipeline = loader.from_pretrained(str(path), local_files_only=True, **{_dtype_keyword(): dtype})
    pipeline.set_progress_bar_config(disable=True)
    return pipeline


def place(pipeline: Any, device: torch.device, compile_model: bool) -> Any:
    """Move a loaded pipeline to its device, and compile its denoiser when asked."""
    pipeline = pipeline.to(device)
    if compile_model:
        for name in ("unet", "transformer"):
            module = getattr(pipeline, name, None)
            if isinstance(module, torch.nn.Module):
                setattr(pipeline, name, torch.compile(module))
    return pipeline


def image_to_image(pipeline: Any) -> Any:
    """The image-to-image pipeline sharing ``pipeline``'s components (no second copy)."""
    derived = _diffusers().AutoPipelineForImage2Image.from_pipe(pipeline)
    derived.set_progress_bar_config(disable=True)
    return derived


def image_to_video(pipeline: Any, class_name: str) -> Any:
    """The pipeline ``class_name`` (an image-to-video pipeline of ``pipeline``'s family)
    sharing ``pipeline``'s components; ``pipeline`` itself when it is one already."""
    if type(pipeline).__name__ == class_name:
        return pipeline
    derived = getattr(_diffusers(), class_name).from_pipe(pipeline)
    derived.set_progress_bar_config(disable=True)
    return derived


def video_frames(output: Any) -> list[Any]:
    """The frames of the one video a pipeline call made (``output_type="pil"``)."""
    frames = output.frames
    return list(frames[0])


def modules(pipeline: Any) -> list[torch.nn.Module]:
    components: dict[str, Any] = getattr(pipeline, "components", {}) or {}
    return [c for c in components.values() if isinstance(c, torch.nn.Module)]


def parameter_bytes(pipeline: Any) -> int:
    """Bytes of every parameter and buffer of the pipeline's modules (shared ones once)."""
    seen: set[int] = set()
    total = 0
    for module in modules(pipeline):
        for tensor in (*module.parameters(), *module.buffers()):
            if id(tensor) in seen:
                continue
            seen.add(id(tensor))
            total += tensor.numel() * tensor.element_size()
    return total


def _latent_patch(pipeline_class: str, transformer_patch: int) -> int:
    """Latent pixels per token side: FLUX packs 2x2 latents in the pipeline (its transformer
    says ``patch_size: 1``); other transformers (SD3, PixArt) patch by their ``patch_size``."""
    return 2 if "Flux" in pipeline_class else max(1, transformer_patch)


def size_multiple(pipeline: Any) -> int:
    """What width and height must be multiples of for a loaded pipeline: the VAE's scale
    times the latent patch, and at least 8 (Stable Diffusion checks 8 whatever its VAE)."""
    vae_scale = int(getattr(pipeline, "vae_scale_factor", 0) or 0)
    transformer = getattr(pipeline, "transformer", None)
    patch = int(getattr(getattr(transformer, "config", None), "patch_size", 1) or 1)
    return max(DEFAULT_SIZE_MULTIPLE, vae_scale * _latent_patch(type(pipeline).__name__, patch))


def size_multiple_on_disk(path: Path) -> int:
    """The same, read from the folder's configs without loading any weights."""
    try:
        index: dict[str, Any] = json.loads((path / "model_index.json").read_text())
        vae: dict[str, Any] = json.loads((path / "vae" / "config.json").read_text())
        vae_scale = 1 << (len(vae.get("block_out_channels", [0] * 4)) - 1)
        patch = 1
        transformer_config = path / "transformer" / "config.json"
        if transformer_config.is_file():
            patch = int(json.loads(transformer_config.read_text()).get("patch_size", 1) or 1)
        patch = _latent_patch(str(index.get("_class_name", "")), patch)
    except (OSError, ValueError, TypeError):
        return DEFAULT_SIZE_MULTIPLE
    return max(DEFAULT_SIZE_MULTIPLE, vae_scale * patch)


def accepts(pipeline: Any) -> frozenset[str]:
    """The keyword arguments the pipeline's ``__call__`` takes."""
    return frozenset(inspect.signature(pipeline.__call__).parameters)


def generators(device: torch.device, seeds: list[int]) -> list[torch.Generator]:
    return [torch.Generator(device).manual_seed(seed) for seed in seeds]


def is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, torch.cuda.OutOfMemoryError | MemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def free_memory(device: torch.device) -> None:
    """Give cached accelerator memory back after an unload or an out-of-memory error."""
    gc.collect()
    if device.type == "cuda" and torch.cuda.is_available():
        torch.cuda.empty_cache()


def gigabytes(count: int | None) -> float | None:
    return None if count is None else round(count / GB, 3)
