"""The engine's options, and where a model's weights are on disk. No torch here.

Options come from the catalog entry (``engines: {local: {type: diffusers, options: {...}}}``):

``models_dir``
    Where model folders live. A model's ``engine_model`` is an absolute path, a path under
    ``models_dir`` (or, without one, relative to the working directory), or a hub id such as
    ``stabilityai/sd-turbo``, looked up as ``models_dir/stabilityai--sd-turbo`` or in a
    Hugging Face cache layout (``models_dir/models--stabilityai--sd-turbo/snapshots/...``).
    Weights are never downloaded at request time.
``device``
    ``auto`` (CUDA when available, else CPU), or a torch device such as ``cuda:1``. With
    ``auto``, the ``CREATIX_DEVICE`` environment variable picks the device.
``dtype``
    ``auto`` (bfloat16 on CUDA, float32 elsewhere), ``bfloat16``, ``float16`` or ``float32``.
``steps``, ``guidance_scale``, ``strength``
    Denoising steps, classifier-free guidance (0 turns it off, as turbo models want) and, for
    image-to-image, how far from the input image to go (0..1). Videos take the same steps and
    guidance, which a video spec's ``cfg_scale`` scales (see ``video.py``).
``max_batch``
    Images per pipeline call (a video is always one call).
``vram_budget_gb``
    Loaded pipelines stay resident while their parameters fit in this many GB; the least
    recently used idle one is unloaded first. Default: 80% of the GPU's memory on CUDA,
    unbounded on CPU. 0 keeps only the pipeline in use.
``compile``
    ``torch.compile`` the UNet or transformer after loading (off by default).

One engine instance has one set of steps and guidance; a catalog that serves both a turbo
model and a many-step model names two engine instances.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from creatix.engines import model_folders
from creatix.engines.options import (
    DTYPES,
    OptionValue,
    bool_option,
    check_known,
    float_option,
    int_option,
    requested_device,
)

MODEL_INDEX = "model_index.json"
GB = 1024**3


@dataclass(frozen=True)
class DiffusersOptions:
    models_dir: Path | None = None
    device: str = "auto"
    dtype: str = "auto"
    steps: int = 4
    guidance_scale: float = 0.0
    strength: float = 0.5
    max_batch: int = 8
    vram_budget_gb: float | None = None
    compile: bool = False

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError("steps must be at least 1")
        if self.guidance_scale < 0:
            raise ValueError("guidance_scale must not be negative")
        if not 0 < self.strength <= 1:
            raise ValueError("strength must be in (0, 1]")
        if self.max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        if self.vram_budget_gb is not None and self.vram_budget_gb < 0:
            raise ValueError("vram_budget_gb must not be negative")
        if self.dtype != "auto" and self.dtype not in DTYPES:
            raise ValueError(f"dtype must be auto or one of {', '.join(DTYPES)}; got {self.dtype}")

    @classmethod
    def parse(cls, options: Mapping[str, OptionValue]) -> DiffusersOptions:
        """The catalog entry's options, checked; an unknown option is an error (a typo)."""
        check_known(options, cls.__dataclass_fields__, "diffusers")
        models_dir = options.get("models_dir")
        budget = (
            float_option(options, "vram_budget_gb", 0.0) if "vram_budget_gb" in options else None
        )
        return cls(
            models_dir=Path(str(models_dir)).expanduser() if models_dir else None,
            device=str(options.get("device", "auto")),
            dtype=str(options.get("dtype", "auto")).lower(),
            steps=int_option(options, "steps", 4),
            guidance_scale=float_option(options, "guidance_scale", 0.0),
            strength=float_option(options, "strength", 0.5),
            max_batch=int_option(options, "max_batch", 8),
            vram_budget_gb=budget,
            compile=bool_option(options, "compile", False),
        )

    def requested_device(self) -> str:
        """The device asked for: the option, else ``CREATIX_DEVICE``, else ``auto``."""
        return requested_device(self.device)

    def budget_bytes(self) -> int | None:
        return None if self.vram_budget_gb is None else int(self.vram_budget_gb * GB)


def model_dir(engine_model: str, models_dir: Path | None) -> Path:
    """Where ``engine_model``'s folder is (or would be): see ``engines/model_folders.py``."""
    return model_folders.model_dir(engine_model, models_dir, MODEL_INDEX)


def weights_problem(path: Path) -> str | None:
    """Why ``path`` holds no loadable pipeline folder, or None when it looks like one."""
    if not path.is_dir():
        return f"weights not found at {path}"
    if not (path / MODEL_INDEX).is_file():
        return f"weights not found at {path} (no {MODEL_INDEX})"
    return None
