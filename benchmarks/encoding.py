"""PNG encoding: Creatix's writer (unfiltered rows, ISA-L deflate) against Pillow's, one run.

Two kinds of content at 512², 1024² and 2048²: flat artwork (what the preview engine draws)
and photo-like content (blurred noise over a gradient, standing in for diffusion output,
which Pillow's adaptive row filters compress better). Prints one JSON object with median
milliseconds and bytes for each, and the speed and size ratios.

    .venv/bin/python benchmarks/encoding.py
"""

from __future__ import annotations

import io
import json
import statistics
import time
from collections.abc import Callable

from PIL import Image, ImageFilter

from creatix.engines.preview import render
from creatix.jobs.specs import ImageSpec
from creatix.media.encoding import encode_png

REPEATS = 15


def _artwork(side: int) -> Image.Image:
    spec = ImageSpec(prompt="Mountain lake at sunset", width=side, height=side, seed=3)
    return render("creatix-flash", spec, 0)


def _photo_like(side: int) -> Image.Image:
    noise = Image.effect_noise((side, side), 64).filter(ImageFilter.GaussianBlur(2))
    gradient = Image.linear_gradient("L").resize((side, side))
    return Image.merge("RGB", (noise, gradient, Image.blend(noise, gradient, 0.5)))


def _pillow_png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def _measure(encoder: Callable[[Image.Image], bytes], image: Image.Image) -> dict[str, float]:
    data = encoder(image)
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        encoder(image)
        times.append(time.perf_counter() - started)
    return {"ms": round(statistics.median(times) * 1000, 2), "bytes": len(data)}


def main() -> None:
    results = []
    for content, make in (("artwork", _artwork), ("photo_like", _photo_like)):
        for side in (512, 1024, 2048):
            image = make(side)
            ours = _measure(lambda im: encode_png(im, {"engine": "preview"}), image)
            pillow = _measure(_pillow_png, image)
            results.append(
                {
                    "content": content,
                    "size": f"{side}x{side}",
                    "creatix": ours,
                    "pillow_level1": pillow,
                    "speedup": round(pillow["ms"] / ours["ms"], 1),
                    "size_ratio": round(ours["bytes"] / pillow["bytes"], 2),
                }
            )
    print(json.dumps({"repeats": REPEATS, "results": results}, indent=2))


if __name__ == "__main__":
    main()
