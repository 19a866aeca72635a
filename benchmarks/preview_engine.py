"""Times the preview engine, the watermark and PNG encoding, each on its own.

Run with ``.venv/bin/python benchmarks/preview_engine.py``; prints one JSON object with the
median and 95th percentile in milliseconds per stage and size. Each run draws a different
prompt and seed, so the numbers cover every scene the engine paints.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from functools import partial

from creatix.engines.preview import render
from creatix.jobs.specs import ImageSpec
from creatix.media.encoding import encode
from creatix.media.watermark import apply_watermark

SIDES = (512, 1024, 2048)
RUNS = 30
PROMPTS = (
    "A majestic mountain landscape at sunset with a calm lake and pine trees",
    "Minimalist product photo of luxury perfume bottle on marble table",
    "Futuristic cyberpunk city skyline at night with neon lights",
    "Portrait of a woman in a red coat, soft light",
    "Quarterly growth campaign for a fintech startup",
)
STYLES = (None, "photographic", "cinematic", "neon", "watercolor", "3d-render")
METADATA = {"engine": "preview", "model": "creatix-flash", "seed": "1"}


def _ms(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return (time.perf_counter() - start) * 1000


def _summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median_ms": round(statistics.median(ordered), 2), "p95_ms": round(p95, 2)}


def bench_side(side: int) -> dict[str, dict[str, float]]:
    timings: dict[str, list[float]] = {"engine": [], "watermark": [], "png": []}
    for run in range(RUNS + 3):
        spec = ImageSpec(
            prompt=PROMPTS[run % len(PROMPTS)],
            width=side,
            height=side,
            seed=run,
            style=STYLES[run % len(STYLES)],
        )
        image = render("creatix-flash", spec)
        marked = apply_watermark(image)
        samples = {
            "engine": _ms(partial(render, "creatix-flash", spec)),
            "watermark": _ms(partial(apply_watermark, image)),
            "png": _ms(partial(encode, marked, "png", METADATA)),
        }
        if run >= 3:  # the first runs warm font and overlay caches
            for stage, value in samples.items():
                timings[stage].append(value)
    return {stage: _summary(values) for stage, values in timings.items()}


def main() -> None:
    result = {f"{side}x{side}": bench_side(side) for side in SIDES}
    print(json.dumps({"runs_per_size": RUNS, "results": result}, indent=2))


if __name__ == "__main__":
    main()
