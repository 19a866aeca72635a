"""``creatix generate image --batch`` against a sequential loop of ``images.generate``.

Starts a local ``creatix serve`` (the shipped catalog: preview engine, rate limits lifted, an
unlimited key), then in the same run:

- the batch: N prompts in a CSV through ``creatix generate image --batch prompts.csv
  --concurrency C`` (a subprocess, timed from start to exit: row checks, requests, downloads,
  the manifest);
- the loop: N single ``Creatix.images.generate`` calls one after another, each image
  downloaded, in this process.

Both at 512x512 (Creatix v1's smallest size). Prints images/s of each and their ratio.

    .venv/bin/python benchmarks/batch_client.py --prompts 500 --concurrency 16
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from creatix.catalog.loader import load_catalog
from creatix.client import Creatix

sys.path.insert(0, str(Path(__file__).parent))
from harness import start_creatix

SIZE = "512x512"


def batch(url: str, key: str, work: Path, prompts: int, concurrency: int) -> float:
    """Seconds for the whole ``creatix generate image --batch`` run."""
    path = work / "prompts.csv"
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["prompt", "size", "seed"])
        for i in range(prompts):
            writer.writerow([f"Batch poster {i}: a red sneaker on a white table", SIZE, i])
    env = {**os.environ, "CREATIX_BASE_URL": url, "CREATIX_API_KEY": key}
    command = [
        sys.executable,
        "-m",
        "creatix",
        "generate",
        "image",
        "--batch",
        str(path),
        "--concurrency",
        str(concurrency),
        "-o",
        str(work / "batch"),
        "--json",
    ]
    started = time.perf_counter()
    ran = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if ran.returncode != 0:
        raise SystemExit(f"the batch failed: {ran.stderr.strip()}")
    summary = json.loads(ran.stdout)
    assert summary["succeeded"] == prompts, summary
    return elapsed


def sequential(url: str, key: str, work: Path, prompts: int) -> float:
    """Seconds for ``prompts`` single ``images.generate`` calls and their downloads."""
    folder = work / "sequential"
    folder.mkdir()
    with Creatix(url, key) as client:
        started = time.perf_counter()
        for i in range(prompts):
            result = client.images.generate(
                f"Loop poster {i}: a red sneaker on a white table", size=SIZE, seed=i
            )
            client.download(result.assets[0], folder / f"{i}.png")
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--worker-concurrency",
        type=int,
        default=16,
        help="the server's CREATIX_WORKER_CONCURRENCY (engine calls at a time)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        catalog = load_catalog().model_dump(mode="json")
        env = {"CREATIX_WORKER_CONCURRENCY": str(args.worker_concurrency)}
        server, url, key = start_creatix(work / "data", catalog, env)
        try:
            batch_seconds = batch(url, key, work, args.prompts, args.concurrency)
            loop_seconds = sequential(url, key, work, args.prompts)
        finally:
            server.terminate()
            server.wait(timeout=30)
    batch_rate = args.prompts / batch_seconds
    loop_rate = args.prompts / loop_seconds
    print(
        f"{args.prompts} images at {SIZE}, preview engine, one local `creatix serve` "
        f"(worker concurrency {args.worker_concurrency}, {os.cpu_count()} CPUs)"
    )
    print(
        f"batch (--concurrency {args.concurrency}): {batch_seconds:7.1f} s  "
        f"{batch_rate:7.1f} images/s"
    )
    print(f"sequential images.generate:     {loop_seconds:7.1f} s  {loop_rate:7.1f} images/s")
    print(f"ratio: {batch_rate / loop_rate:.1f}x")


if __name__ == "__main__":
    main()
