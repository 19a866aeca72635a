"""The invisible watermark (``creatix.provenance.mark``): robustness, false positives, cost.

Run with ``.venv/bin/python benchmarks/provenance_mark.py``. Prints one JSON object:

- ``robustness``: per size (512 and 1024 square) and transformation, over ``--images`` marked
  pictures (half from the preview engine, half synthetic), the detection rate (the payload
  read back exactly, CRC verified) and the mean and worst bit accuracy of the 96 framed bits
  (payload and CRC-32, best alignment, before error correction);
- ``false_positives``: detections over ``--unmarked`` unmarked pictures (preview engine,
  synthetic, flat and dark; 256 to 1024 pixels);
- ``ms``: median embed and detect time at 512, 1024 and 2048 square, the process pinned to one
  core (NumPy's FFT is single-threaded; no BLAS call is made);
- ``psnr_db``: minimum and mean PSNR of the marked picture against the original.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from creatix.provenance import mark
from mark_samples import TRANSFORMS, flat, preview, synthetic

SIDES = (512, 1024)
TIMED_SIDES = (512, 1024, 2048)


def _payload(index: int) -> bytes:
    return hashlib.sha256(f"bench-{index}".encode()).digest()[: mark.PAYLOAD_BYTES]


def _robustness(side: int, count: int) -> tuple[dict[str, dict[str, float]], list[float]]:
    found = {name: 0 for name in TRANSFORMS}
    accuracy: dict[str, list[float]] = {name: [] for name in TRANSFORMS}
    psnr = []
    for index in range(count):
        picture = (preview if index % 2 else synthetic)(10_000 + index, side)
        payload = _payload(index)
        marked = mark.embed(picture, payload)
        error = np.asarray(picture, np.float64) - np.asarray(marked, np.float64)
        psnr.append(float(10 * np.log10(255**2 / np.mean(error**2))))
        expected = mark.framed_bits(payload)
        for name, transform in TRANSFORMS.items():
            changed = transform(marked)
            found[name] += mark.detect(changed) == payload
            agreement = [
                float(np.mean((soft > 0) == expected)) for soft in mark.candidate_bits(changed)
            ]
            accuracy[name].append(max(agreement, default=0.0))
    table = {
        name: {
            "detected": found[name] / count,
            "bit_accuracy_mean": round(statistics.fmean(accuracy[name]), 4),
            "bit_accuracy_min": round(min(accuracy[name]), 4),
        }
        for name in TRANSFORMS
    }
    return table, psnr


def _false_positives(count: int) -> dict[str, float]:
    sources = (preview, synthetic, flat)
    sides = ((512, 512), (1024, 1024), (256, 384), (768, 512))
    hits = 0
    for index in range(count):
        width, height = sides[index % len(sides)]
        picture = sources[index % len(sources)](50_000 + index, width, height)
        hits += mark.detect(picture) is not None
    return {"unmarked": count, "detected": hits, "rate": hits / count}


def _timings(runs: int) -> dict[str, dict[str, float]]:
    timings = {}
    for side in TIMED_SIDES:
        picture = preview(3, side)
        payload = _payload(side)
        mark.embed(picture, payload)
        embed, detect = [], []
        for _ in range(runs):
            start = time.perf_counter()
            marked = mark.embed(picture, payload)
            embed.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            mark.detect(marked)
            detect.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        mark.detect(picture)
        timings[f"{side}x{side}"] = {
            "embed": round(statistics.median(embed), 2),
            "detect": round(statistics.median(detect), 2),
            "detect_unmarked": round((time.perf_counter() - start) * 1000, 2),
        }
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=200, help="marked pictures per size")
    parser.add_argument("--unmarked", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=15, help="timed runs per size")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    robustness, psnr = {}, []
    for side in SIDES:
        robustness[f"{side}x{side}"], scores = _robustness(side, args.images)
        psnr += scores
    report = {
        "ms": _timings(args.runs),
        "psnr_db": {"min": round(min(psnr), 2), "mean": round(statistics.fmean(psnr), 2)},
        "robustness": robustness,
        "false_positives": _false_positives(args.unmarked),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
