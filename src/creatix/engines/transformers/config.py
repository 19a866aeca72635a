"""The engine's options, and where a model's weights are on disk. No torch here.

Options come from the catalog entry (``engines: {llm: {type: transformers, options: {...}}}``):

``models_dir``
    Where model folders live. A model's ``engine_model`` is an absolute path, a path under
    ``models_dir`` (or, without one, relative to the working directory), or a hub id such as
    ``Qwen/Qwen2.5-0.5B-Instruct``, looked up as ``models_dir/Qwen--Qwen2.5-0.5B-Instruct`` or
    in a Hugging Face cache layout (``models_dir/models--Qwen--Qwen2.5-0.5B-Instruct/
    snapshots/<the commit refs/main names>``). Weights are never downloaded at request time.
``device``
    ``auto`` (CUDA when available, else CPU), or a torch device such as ``cuda:1``. With
    ``auto``, the ``CREATIX_DEVICE`` environment variable picks the device.
``dtype``
    ``auto`` (bfloat16 on CUDA, float32 elsewhere), ``bfloat16``, ``float16`` or ``float32``.
``max_new_tokens``
    The most tokens one answer may have (default 512); a request's ``max_output_tokens`` may
    ask for fewer, never more.
``max_input_tokens``
    The longest prompt (conversation, system instruction and chat template) accepted, in
    tokens; longer ones are rejected. Default: no limit but the model's own context length.
``max_loaded``
    How many models stay loaded (default 1); the least recently used is dropped first.

The same folder lookup as the diffusers engine's, but a model folder is recognised by its
``config.json`` (a diffusers pipeline by ``model_index.json``). It is not shared with
``creatix.engines.diffusers.config`` because importing that module imports the diffusers
package (its ``__init__`` loads the engine, torch and diffusers).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from creatix.engines import model_folders
from creatix.engines.options import (
    DTYPES,
    OptionValue,
    check_known,
    int_option,
    requested_device,
)

MODEL_CONFIG = "config.json"
DEFAULT_MAX_NEW_TOKENS = 512


@dataclass(frozen=True)
class TransformersOptions:
    models_dir: Path | None = None
    device: str = "auto"
    dtype: str = "auto"
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    max_input_tokens: int | None = None
    max_loaded: int = 1

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError("max_new_tokens must be at least 1")
        if self.max_input_tokens is not None and self.max_input_tokens < 1:
            raise ValueError("max_input_tokens must be at least 1")
        if self.max_loaded < 1:
            raise ValueError("max_loaded must be at least 1")
        if self.dtype != "auto" and self.dtype not in DTYPES:
            raise ValueError(f"dtype must be auto or one of {', '.join(DTYPES)}; got {self.dtype}")

    @classmethod
    def parse(cls, options: Mapping[str, OptionValue]) -> TransformersOptions:
        """The catalog entry's options, checked; an unknown option is an error (a typo)."""
        check_known(options, cls.__dataclass_fields__, "transformers")
        models_dir = options.get("models_dir")
        max_input = options.get("max_input_tokens")
        return cls(
            models_dir=Path(str(models_dir)).expanduser() if models_dir else None,
            device=str(options.get("device", "auto")),
            dtype=str(options.get("dtype", "auto")).lower(),
            max_new_tokens=int_option(options, "max_new_tokens", DEFAULT_MAX_NEW_TOKENS),
            max_input_tokens=int_option(options, "max_input_tokens", 0) if max_input else None,
            max_loaded=int_option(options, "max_loaded", 1),
        )

    def requested_device(self) -> str:
        """The device asked for: the option, else ``CREATIX_DEVICE``, else ``auto``."""
        return requested_device(self.device)


@dataclass(frozen=True)
class Settings:
    """One generation's arguments, mapped from a request's ``TextConfig`` (``engine.py``)."""

    max_new_tokens: int
    do_sample: bool = False
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    repetition_penalty: float | None = None
    seed: int = 0
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class Generated:
    """One answer, cut at its first stop sequence, and its real token counts."""

    text: str
    input_tokens: int
    output_tokens: int


def model_dir(engine_model: str, models_dir: Path | None) -> Path:
    """Where ``engine_model``'s folder is (or would be): see ``engines/model_folders.py``."""
    return model_folders.model_dir(engine_model, models_dir, MODEL_CONFIG)


def display_name(engine_model: str) -> str:
    """How messages name a model: its hub id or relative name; an absolute path's last part
    (messages reach API clients, local paths never do)."""
    given = Path(engine_model).expanduser()
    return given.name if given.is_absolute() else engine_model


def weights_problem(engine_model: str, path: Path) -> str | None:
    """Why ``path`` holds no loadable model folder, or None when it looks like one."""
    name = display_name(engine_model)
    if not path.is_dir():
        return f"weights for {name!r} not found (no model folder)"
    if not (path / MODEL_CONFIG).is_file():
        return f"weights for {name!r} not found (no {MODEL_CONFIG} in its folder)"
    return None
