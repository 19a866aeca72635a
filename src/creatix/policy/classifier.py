"""A local image classifier for outputs: Stable Diffusion's safety checker.

A policy's ``classifier`` names the checker's folder (``config.json``,
``preprocessor_config.json`` and weights, as ``CompVis/stable-diffusion-safety-checker`` has
them): an absolute path, a path under the model cache, or a hub id found in the model cache
the way the local engines find theirs (``engines/model_folders.py``), where
``creatix models pull`` puts it. Nothing is ever downloaded here.

The checker is loaded on first use, once per process and folder (a lock keeps two first
uses from loading it twice), on CUDA when there is one (``CREATIX_DEVICE`` picks another),
else the CPU; only the worker, which checks outputs, ever loads it. A batch of images is one
forward pass under ``torch.inference_mode()``; callers run it in a thread.

How the checker decides (``StableDiffusionSafetyChecker.forward_onnx``, vectorised): the
images' CLIP embeddings are compared (cosine) with 17 concept embeddings and 3 "special care"
ones, each with its own threshold, all in the weights. A special-care concept over its
threshold adds 0.01 to every concept score; an image with any concept score above 0 is
flagged. The policy's ``adjustment`` is added to every score first. An image's score is its
highest concept score: how far past the nearest threshold it is (above 0: flagged).

torch, diffusers and transformers are imported only when a checker loads.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from creatix.engines import model_folders

CONFIG = "config.json"
PREPROCESSOR = "preprocessor_config.json"
WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
CATEGORY = "sexual"
"""The category of an image the checker flags (its concepts are NSFW ones)."""
SPECIAL_CARE_BUMP = 0.01
"""What a special-care concept over its threshold adds to every concept score (diffusers')."""


class ClassifierLoadError(Exception):
    """A classifier folder that is there but does not load: the folder and why."""

    def __init__(self, folder: Path, reason: str) -> None:
        super().__init__(f"the image classifier at {folder} cannot be loaded: {reason}")
        self.folder = folder
        self.reason = reason


def classifier_folder(model: str, models_dir: Path | None) -> Path:
    """Where the policy's ``classifier.model`` is (or would be)."""
    return model_folders.model_dir(model, models_dir, CONFIG)


def weights_problem(folder: Path) -> str | None:
    """Why ``folder`` holds no checker, or None when it looks like one."""
    if not folder.is_dir():
        return f"weights not found at {folder}"
    for name in (CONFIG, PREPROCESSOR):
        if not (folder / name).is_file():
            return f"weights not found at {folder} (no {name})"
    if not any((folder / name).is_file() for name in WEIGHTS):
        return f"weights not found at {folder} (no {' or '.join(WEIGHTS)})"
    return None


class ImageClassifier:
    """A loaded safety checker and its image processor, on one device."""

    def __init__(self, checker: Any, processor: Any, device: Any, dtype: Any) -> None:
        self.checker = checker
        self.processor = processor
        self.device = device
        self.dtype = dtype
        self._lock = threading.Lock()

    @classmethod
    def load(cls, folder: Path) -> ImageClassifier:
        """The checker in ``folder``, never downloaded; ``ClassifierLoadError`` saying why
        not."""
        try:
            import torch  # noqa: PLC0415
            from diffusers.pipelines.stable_diffusion.safety_checker import (  # noqa: PLC0415
                StableDiffusionSafetyChecker,
            )
            from transformers import AutoImageProcessor  # noqa: PLC0415

            from creatix.engines.diffusers.loading import pick_device  # noqa: PLC0415
            from creatix.engines.options import requested_device  # noqa: PLC0415
        except ImportError as exc:
            raise ClassifierLoadError(
                folder, f"{exc}; install the diffusers extra: pip install 'creatix[diffusers]'"
            ) from None
        try:
            device = pick_device(requested_device("auto"))
            dtype = torch.float16 if device.type == "cuda" else torch.float32
            processor = AutoImageProcessor.from_pretrained(str(folder), local_files_only=True)
            checker: Any = StableDiffusionSafetyChecker.from_pretrained(
                str(folder), local_files_only=True
            )
            checker = checker.to(device=device, dtype=dtype).eval()
        except Exception as exc:
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            reason = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
            raise ClassifierLoadError(folder, reason) from exc
        return cls(checker, processor, device, dtype)

    def scores(self, images: Sequence[Image.Image], adjustment: float = 0.0) -> list[float]:
        """Each image's score, in order, from one forward pass over the whole batch; above 0
        is flagged. Blocks: run it in a thread."""
        if not images:
            return []
        import torch  # noqa: PLC0415
        from torch.nn.functional import normalize  # noqa: PLC0415

        checker = self.checker
        rgb = [image.convert("RGB") for image in images]
        with self._lock, torch.inference_mode():
            pixels = self.processor(images=rgb, return_tensors="pt").pixel_values
            pooled = checker.vision_model(pixels.to(self.device, self.dtype))[1]
            embeds = normalize(checker.visual_projection(pooled).float())

            def over(concepts: torch.Tensor, thresholds: torch.Tensor) -> torch.Tensor:
                similarity: torch.Tensor = embeds @ normalize(concepts.float()).T
                return similarity - thresholds.float() + adjustment

            special = over(checker.special_care_embeds, checker.special_care_embeds_weights)
            bump = (special > 0).any(dim=1, keepdim=True).float() * SPECIAL_CARE_BUMP
            concepts = over(checker.concept_embeds, checker.concept_embeds_weights) + bump
            worst = concepts.max(dim=1).values
        return [float(score) for score in worst.cpu().tolist()]

    def flagged(self, images: Sequence[Image.Image], adjustment: float = 0.0) -> list[bool]:
        """Whether each image is flagged, in order (one forward pass)."""
        return [score > 0 for score in self.scores(images, adjustment)]


_loaded: dict[Path, ImageClassifier] = {}
_loading = threading.Lock()


def loaded_classifier(folder: Path) -> ImageClassifier:
    """The checker in ``folder``, loaded on first use and kept for the process; blocks (run
    it in a thread). A folder that fails to load is tried again on its next use."""
    key = folder.resolve()
    with _loading:
        classifier = _loaded.get(key)
        if classifier is None:
            classifier = _loaded[key] = ImageClassifier.load(key)
        return classifier
