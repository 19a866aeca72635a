"""Times the preview video engine on its target: a 5 s 1280x720 24 fps video with audio.

Run with ``.venv/bin/python benchmarks/video_preview.py``; prints one JSON object.

Each run is a fresh subprocess (so its memory high-water mark is its own): it renders a
1024x1024 source with the image preview engine, makes one tiny video to load the codecs and
fonts, notes its baseline memory, then times one ``PreviewVideoEngine.generate_video`` call
writing a real file in a temporary directory. The first run is a warm-up (disk cache, shared
libraries) and is left out; ``seconds`` is the best of the rest. Peak memory is the process's
RSS high-water mark (``getrusage(RUSAGE_SELF).ru_maxrss``) after the call. ``cpu_seconds`` is
the process's CPU time over the call (all threads): on a shared machine it says how much work
the call was even when other processes stretch its wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET_SECONDS = 3.0
TARGET_PEAK_MB = 500.0
WIDTH, HEIGHT, FPS, DURATION = 1280, 720, 24, 5
SOURCE_SIDE = 1024


def _rss_mb() -> float:
    """The current resident set size."""
    with open("/proc/self/statm") as statm:
        resident_pages = int(statm.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def child(movement: str, preset: str | None) -> dict[str, Any]:
    """One measured run, in this (fresh) process."""
    import av

    from creatix.engines.preview import render
    from creatix.engines.preview_video import PreviewVideoEngine
    from creatix.jobs.specs import ImageSpec, VideoSpec

    source = render(
        "creatix-flash",
        ImageSpec(
            prompt="A majestic mountain landscape at sunset with a calm lake and pine trees",
            width=SOURCE_SIDE,
            height=SOURCE_SIDE,
            seed=1,
        ),
    )
    options: dict[str, str | int] = {"preset": preset} if preset else {}
    engine = PreviewVideoEngine.from_options(options)

    def spec(width: int, height: int, seconds: int) -> VideoSpec:
        return VideoSpec.model_validate(
            {
                "prompt": "a slow drift over the lake",
                "source_image": "bench/source.png",
                "duration_seconds": seconds,
                "width": width,
                "height": height,
                "fps": FPS,
                "generate_audio": True,
                "background_music": True,
                "movement": movement,
                "seed": 7,
            }
        )

    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        asyncio.run(engine.generate_video("m", spec(64, 64, 1), source, workdir / "warm"))
        baseline_peak, baseline_rss = _peak_mb(), _rss_mb()
        target = spec(WIDTH, HEIGHT, DURATION)
        cpu_start, start = time.process_time(), time.perf_counter()
        output = asyncio.run(engine.generate_video("m", target, source, workdir / "run"))
        seconds = time.perf_counter() - start
        cpu_seconds = time.process_time() - cpu_start
        peak = _peak_mb()
        size = output.path.stat().st_size
        with av.open(str(output.path)) as container:
            video = container.streams.video[0]
            frames = sum(1 for _ in container.demux(video) if _.size)
            duration = (container.duration or 0) / av.time_base
            streams = [s.codec_context.name for s in container.streams]
    return {
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu_seconds, 3),
        "peak_rss_mb": round(peak, 1),
        "baseline_peak_rss_mb": round(baseline_peak, 1),
        "baseline_rss_mb": round(baseline_rss, 1),
        "file_bytes": size,
        "frames": frames,
        "container_seconds": round(duration, 3),
        "streams": streams,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="measured runs after the warm-up")
    parser.add_argument("--movement", default="medium")
    parser.add_argument("--preset", default=None, help="x264 preset (the engine's default)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.movement, args.preset)))
        return
    command = [sys.executable, __file__, "--child", "--movement", args.movement]
    if args.preset:
        command += ["--preset", args.preset]
    runs = []
    for _ in range(args.runs + 1):
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    warmup, measured = runs[0], runs[1:]
    best = min(measured, key=lambda run: run["seconds"])
    peak = max(run["peak_rss_mb"] for run in measured)
    result = {
        "video": f"{WIDTH}x{HEIGHT} {FPS} fps {DURATION} s, AAC audio (music)",
        "source": f"{SOURCE_SIDE}x{SOURCE_SIDE}",
        "movement": args.movement,
        "preset": args.preset or "default",
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "seconds": best["seconds"],
        "seconds_all": [run["seconds"] for run in measured],
        "warmup_seconds": warmup["seconds"],
        "cpu_seconds_all": [run["cpu_seconds"] for run in measured],
        "peak_rss_mb": peak,
        "baseline_rss_mb": best["baseline_rss_mb"],
        "baseline_peak_rss_mb": best["baseline_peak_rss_mb"],
        "file_bytes": best["file_bytes"],
        "frames": best["frames"],
        "container_seconds": best["container_seconds"],
        "streams": best["streams"],
        "targets": {
            "seconds": {"max": TARGET_SECONDS, "pass": best["seconds"] <= TARGET_SECONDS},
            "peak_rss_mb": {"max": TARGET_PEAK_MB, "pass": peak <= TARGET_PEAK_MB},
        },
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
