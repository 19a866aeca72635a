"""A tiny Stable Diffusion safety checker with random weights, built offline for the content
policy's image classifier tests.

``build_tiny_safety_checker`` writes a folder as ``CompVis/stable-diffusion-safety-checker``
has it (``config.json``, ``preprocessor_config.json``, the weights) with ``save_pretrained``,
so ``StableDiffusionSafetyChecker.from_pretrained(path)`` and
``AutoImageProcessor.from_pretrained(path)`` load it without the hub. The real classes are
used; only the sizes are tiny (a 2-layer CLIP vision tower, 32 px images in 8 px patches,
16-wide projections), so a batch is a few milliseconds on one CPU thread.

The checker flags an image when a concept's cosine similarity with the image's embedding is
above that concept's threshold, and the thresholds are weights
(``concept_embeds_weights``, ``special_care_embeds_weights``): a cosine is within [-1, 1], so
a threshold of -2 flags every image and one of 2 none, whatever the random embeddings.
"""

from __future__ import annotations

from pathlib import Path

FLAGS_ALL = -2.0
FLAGS_NONE = 2.0
IMAGE_SIZE = 32
PROJECTION = 16


def build_tiny_safety_checker(
    folder: Path,
    *,
    concept_threshold: float = FLAGS_NONE,
    special_threshold: float = FLAGS_NONE,
    seed: int = 0,
) -> Path:
    """A loadable checker folder whose 17 concepts (and 3 special-care ones) all have the
    given thresholds; ``folder``."""
    import torch
    import transformers
    from diffusers.pipelines.stable_diffusion.safety_checker import (
        StableDiffusionSafetyChecker,
    )

    # transformers 5 names the processor without torchvision ...Pil (its plain name warns).
    processor = getattr(transformers, "CLIPImageProcessorPil", transformers.CLIPImageProcessor)

    tower = {
        "hidden_size": 32,
        "intermediate_size": 37,
        "num_attention_heads": 4,
        "num_hidden_layers": 2,
        "projection_dim": PROJECTION,
    }
    config = transformers.CLIPConfig(
        text_config={**tower, "vocab_size": 100, "bos_token_id": 0, "eos_token_id": 1},
        vision_config={**tower, "image_size": IMAGE_SIZE, "patch_size": 8},
        projection_dim=PROJECTION,
    )
    torch.manual_seed(seed)
    checker = StableDiffusionSafetyChecker(config)
    with torch.no_grad():
        checker.concept_embeds.copy_(torch.randn(17, PROJECTION))
        checker.special_care_embeds.copy_(torch.randn(3, PROJECTION))
        checker.concept_embeds_weights.fill_(concept_threshold)
        checker.special_care_embeds_weights.fill_(special_threshold)
    checker.save_pretrained(folder)
    processor(
        size={"shortest_edge": IMAGE_SIZE},
        crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
    ).save_pretrained(folder)
    return folder
