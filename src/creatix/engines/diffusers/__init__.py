"""The diffusers engine: local text-to-image pipelines (SD-Turbo, SDXL, FLUX.1, ...) and
image-to-video pipelines (LTX-Video, Wan image-to-video, Stable Video Diffusion).

``config.py`` reads the catalog's options and finds a model's folder, ``loading.py`` is the
torch and diffusers boundary, ``residency.py`` keeps loaded pipelines within a memory budget,
``batching.py`` turns specs into one pipeline call and back, ``video.py`` holds the video
families' rules and writes the MP4, and ``engine.py`` is the ``ImageEngine`` and the
``VideoEngine``. Needs the ``diffusers`` extra: ``pip install 'creatix[diffusers]'``.
"""

from importlib.util import find_spec

_MISSING = [name for name in ("torch", "diffusers", "transformers") if find_spec(name) is None]
if _MISSING:
    raise ImportError(
        f"the diffusers engine needs {', '.join(_MISSING)}: pip install 'creatix[diffusers]'"
    )

from creatix.engines.diffusers.config import DiffusersOptions  # noqa: E402
from creatix.engines.diffusers.engine import DiffusersEngine, PipelineCall  # noqa: E402

__all__ = ["DiffusersEngine", "DiffusersOptions", "PipelineCall"]
