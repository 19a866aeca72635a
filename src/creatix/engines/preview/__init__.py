"""The preview engine: a deterministic, offline, fast composition drawn from the prompt.

It reads the prompt for colour words (the palette), subject words (the scene and its motifs)
and its first words (the headline), then paints a poster-like placeholder with cheap Pillow
operations: a gradient backdrop whose glows are drawn and blurred at 1/8 scale, crisp shapes
drawn with alpha at full scale, and the headline set as type. The prompt, model, style and
quality fix the palette and the scene; the seed (and the image's index) only moves the
composition. A small "PREVIEW" label, top-left, says what the picture is. A spec's input
image (an upload) is drawn on a framed card in the rows the headline leaves free (``input.py``).
"""

from creatix.engines.preview.brief import Brief, Roles, image_rng, prompt_digest, read_brief
from creatix.engines.preview.engine import MAX_SIDE, MIN_SIDE, PreviewEngine, render, render_batch
from creatix.engines.preview.vocabulary import LOOKS, Look

__all__ = [
    "LOOKS",
    "MAX_SIDE",
    "MIN_SIDE",
    "Brief",
    "Look",
    "PreviewEngine",
    "Roles",
    "image_rng",
    "prompt_digest",
    "read_brief",
    "render",
    "render_batch",
]
