"""Times the preview engine, the watermark and PNG/JPEG encoding, each on its own; and the
peak memory of one large generation.

Run with ``.venv/bin/python benchmarks/preview_engine.py``: one JSON object with the median and
95th percentile in milliseconds per stage and size (512, 1024 and 2048 square). Each run draws
a different prompt and seed, so the numbers cover every scene the engine paints.

``--size 8192x8192`` (repeatable) times those sizes instead, and adds ``peak``: for each scene,
a fresh process that runs only that generation (drawn at ``hd`` quality in a style with every
whole-picture treatment: sepia, grain, reflections), watermarks it as the worker does and
encodes it, and reports how much its peak RSS (``VmHWM``) grew over the process before
drawing, after each stage. ``--runs`` sets the timed runs per size.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial

from PIL import Image

from creatix.engines.preview import render
from creatix.jobs.specs import ImageSpec
from creatix.media.encoding import encode
from creatix.media.watermark import apply_watermark, mark_in_place

SIDES = (512, 1024, 2048)
RUNS = 30
WARM_RUNS = 3
PROMPTS = (
    "A majestic mountain landscape at sunset with a calm lake and pine trees",
    "Minimalist product photo of luxury perfume bottle on marble table",
    "Futuristic cyberpunk city skyline at night with neon lights",
    "Portrait of a woman in a red coat, soft light",
    "Quarterly growth campaign for a fintech startup",
)
STYLES = (None, "photographic", "cinematic", "neon", "watercolor", "3d-render")
PEAK_STYLE = "vintage"
"""Sepia and grain (at hd): the treatments that once copied the whole picture."""
METADATA = {"engine": "preview", "model": "creatix-flash", "seed": "1"}
MIB = 1024 * 1024


def _ms(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return (time.perf_counter() - start) * 1000


def _timed(work: Callable[[], Image.Image]) -> tuple[Image.Image, float]:
    start = time.perf_counter()
    result = work()
    return result, (time.perf_counter() - start) * 1000


def _summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median_ms": round(statistics.median(ordered), 2), "p95_ms": round(p95, 2)}


def bench_size(width: int, height: int, runs: int) -> dict[str, dict[str, float]]:
    timings: dict[str, list[float]] = {"engine": [], "watermark": [], "png": [], "jpeg": []}
    for run in range(runs + WARM_RUNS):
        spec = ImageSpec(
            prompt=PROMPTS[run % len(PROMPTS)],
            width=width,
            height=height,
            seed=run,
            style=STYLES[run % len(STYLES)],
        )
        image, engine_ms = _timed(partial(render, "creatix-flash", spec))
        marked, watermark_ms = _timed(partial(apply_watermark, image))
        del image
        samples = {
            "engine": engine_ms,
            "watermark": watermark_ms,
            "png": _ms(partial(encode, marked, "png", METADATA)),
            "jpeg": _ms(partial(encode, marked, "jpeg", METADATA)),
        }
        if run >= WARM_RUNS:  # the first runs warm font and overlay caches
            for stage, value in samples.items():
                timings[stage].append(value)
    return {stage: _summary(values) for stage, values in timings.items()}


def _peak_mib() -> float:
    """This process's peak RSS: Linux's ``VmHWM``, which starts afresh with the process's
    memory at exec. (``getrusage``'s ``ru_maxrss`` survives exec on Linux, so a child of a
    big parent would start at the parent's peak; it is the fallback elsewhere.)"""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024 / MIB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MIB  # KiB on Linux


def measure_peak(width: int, height: int, prompt: str) -> dict[str, float]:
    """In this process, which does nothing else: the peak RSS growth after each stage."""
    Image.new("RGB", (64, 64)).tobytes()  # Pillow's own start-up belongs to the baseline
    before = _peak_mib()
    spec = ImageSpec(
        prompt=prompt, width=width, height=height, seed=1, style=PEAK_STYLE, quality="hd"
    )
    started = time.perf_counter()
    image = render("nano-banana-pro-ultra", spec)
    figures = {"engine_s": time.perf_counter() - started, "engine_mib": _peak_mib() - before}
    started = time.perf_counter()
    mark_in_place(image)  # what the worker does with the engine's image
    jpeg = encode(image, "jpeg", METADATA)
    figures["watermark_jpeg_s"] = time.perf_counter() - started
    figures["watermark_jpeg_mib"] = _peak_mib() - before
    started = time.perf_counter()
    png = encode(image, "png", METADATA)
    figures["png_s"] = time.perf_counter() - started
    figures["png_mib"] = _peak_mib() - before
    figures["jpeg_file_mib"] = len(jpeg) / MIB
    figures["png_file_mib"] = len(png) / MIB
    figures["picture_mib"] = width * height * 4 / MIB  # Pillow keeps RGB at 4 bytes a pixel
    return {name: round(value, 2) for name, value in figures.items()}


def peaks(width: int, height: int) -> dict[str, dict[str, float]]:
    """``measure_peak`` for each scene, each in a fresh process."""
    results = {}
    for prompt in PROMPTS:
        run = subprocess.run(
            [sys.executable, __file__, "--peak-of", f"{width}x{height}", "--prompt", prompt],
            capture_output=True,
            text=True,
            check=True,
        )
        results[prompt.split()[0].lower() + "…"] = json.loads(run.stdout)
    return results


def _size(text: str) -> tuple[int, int]:
    width, _, height = text.partition("x")
    return int(width), int(height)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", action="append", type=_size, help="WxH; repeatable")
    parser.add_argument("--runs", type=int, default=RUNS, help="timed runs per size")
    parser.add_argument("--peak-of", type=_size, help=argparse.SUPPRESS)
    parser.add_argument("--prompt", default=PROMPTS[0], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak_of is not None:
        print(json.dumps(measure_peak(*args.peak_of, args.prompt)))
        return
    sizes = args.size or [(side, side) for side in SIDES]
    results: dict[str, object] = {f"{w}x{h}": bench_size(w, h, args.runs) for w, h in sizes}
    output: dict[str, object] = {"runs_per_size": args.runs, "results": results}
    if args.size:
        output["peak"] = {f"{w}x{h}": peaks(w, h) for w, h in sizes}
    print(json.dumps(output, indent=2))


if __name__ == "__main__":
    main()
