"""Times the ad-set layout step (``creatix.layout.compose``) per creative, for each preset.

Run with ``.venv/bin/python benchmarks/ad_set_layout.py``: one core (the process is pinned to
one CPU and numpy's thread pools are set to one thread before numpy loads), three key visuals
(a flat one with a subject, a busy bright one, a dark one, each 1536×1536, as an image
engine's variants would be), the kit's logo from a PNG and its font bundled. Prints the median
and 95th percentile in milliseconds per preset (wall clock, and the process's CPU time, which
is what one core spends even when other work shares the machine), and the time for a
3-variant set across the
nine presets (27 creatives). Target: ≤ 60 ms per creative at 1080×1920 (story).
``--runs`` sets the timed runs per preset and visual.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial

import numpy as np
from PIL import Image, ImageDraw

from creatix.layout import PLACEMENTS, AdCopy, BrandStyle, bundled_fonts, compose, rasterize_logo

COPY = AdCopy(
    headline="Fresh coffee, roasted daily",
    body="Beans from small farms, at your door in two days.",
    cta="Order now",
    legal="Offer ends 31 May. Terms apply.",
)


def _visuals() -> list[Image.Image]:
    flat = Image.new("RGB", (1536, 1536), (200, 180, 90))
    ImageDraw.Draw(flat).ellipse((900, 300, 1300, 700), fill=(30, 60, 200))
    rng = np.random.default_rng(1)
    busy = Image.fromarray(rng.integers(100, 256, (1536, 1536, 3), dtype=np.uint8), "RGB")
    dark = Image.new("RGB", (1536, 1536), (12, 14, 22))
    ImageDraw.Draw(dark).rectangle((300, 400, 800, 1200), fill=(50, 50, 70))
    return [flat, busy, dark]


def _style() -> BrandStyle:
    logo = Image.new("RGBA", (480, 160), (0, 0, 0, 0))
    ImageDraw.Draw(logo).rounded_rectangle((0, 0, 479, 159), radius=40, fill=(220, 40, 30, 255))
    buffer = io.BytesIO()
    logo.save(buffer, "PNG")
    return BrandStyle(
        primary=(230, 80, 20),
        secondary=(20, 20, 80),
        background=(250, 248, 240),
        text=(255, 255, 255),
        font=bundled_fonts()["open-sans-bold"],
        logo=rasterize_logo(buffer.getvalue()),
    )


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _one_thread() -> None:
    """Re-run this script with numpy's thread pools at one thread (they are sized when numpy
    loads, which the imports above have done)."""
    if all(os.environ.get(name) == "1" for name in THREAD_VARIABLES):
        return
    os.environ.update(dict.fromkeys(THREAD_VARIABLES, "1"))
    os.execv(sys.executable, [sys.executable, *sys.argv])


def _timed(action: Callable[[], object]) -> tuple[float, float]:
    """Wall and CPU milliseconds of one call (CPU time is what one core spends, whatever else
    shares the machine)."""
    wall, cpu = time.perf_counter(), time.process_time()
    action()
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    _one_thread()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    visuals, style = _visuals(), _style()
    for visual in visuals:  # warm the font caches
        for placement in PLACEMENTS.values():
            compose(visual, COPY, style, placement)
    report: dict[str, dict[str, float]] = {}
    for name, placement in PLACEMENTS.items():
        walls, cpus = [], []
        for _ in range(args.runs):
            for visual in visuals:
                wall, cpu = _timed(partial(compose, visual, COPY, style, placement))
                walls.append(wall)
                cpus.append(cpu)
        report[name] = {
            "p50_ms": round(statistics.median(walls), 1),
            "p95_ms": round(_percentile(walls, 0.95), 1),
            "cpu_p50_ms": round(statistics.median(cpus), 1),
            "cpu_p95_ms": round(_percentile(cpus, 0.95), 1),
        }
    sets = []
    for _ in range(max(1, args.runs // 4)):
        start = time.perf_counter()
        for visual in visuals:
            for placement in PLACEMENTS.values():
                compose(visual, COPY, style, placement)
        sets.append(time.perf_counter() - start)
    summary = {
        "per_creative": report,
        "set_of_27_s": {"p50": round(statistics.median(sets), 3), "max": round(max(sets), 3)},
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
