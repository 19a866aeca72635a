"""``creatix generate image --batch`` against a sequential loop of ``images.generate``.

Starts a local ``creatix serve`` (the shipped catalog: preview engine, rate limits lifted, an
unlimited key), then in the same run:

- the batch: N prompts in a CSV through ``creatix generate image --batch prompts.csv
  --concurrency C`` (a subprocess, timed from start to exit: row checks, requests, downloads,
  the manifest);
- the loop: N single ``Creatix.images.generate`` calls one after another, each image
  downloaded, in this process.

Both at 512x512 (Creatix v1's smallest size). Prints images/s of each and their ratio, and
where the CPU went: the server's (its process tree's user + system seconds) and the client's
(the CLI subprocess, or this process for the loop) per image, and the ceiling they set on
this machine: ``CPUs / (server + client CPU seconds per image)`` images/s, however many
requests are in flight. The batch cannot beat the loop by more than that ceiling over the
loop's rate.

    .venv/bin/python benchmarks/batch_client.py --prompts 500 --concurrency 16
        [--serve-workers N]  (serve's --workers; default: serve's own default)
        [--engine-delay S]   (the preview engine's delay_seconds per engine call: time an
                              engine spends off this machine's CPUs, as a GPU's or an upstream
                              provider's; default 0)
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from creatix.catalog.loader import load_catalog
from creatix.client import Creatix

sys.path.insert(0, str(Path(__file__).parent))
from harness import start_creatix

SIZE = "512x512"
TICKS = os.sysconf("SC_CLK_TCK")


def _tree_cpu_seconds(root: int) -> float:
    """User + system CPU seconds of ``root`` and its live descendants (serve's processes)."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdecimal():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        cpu[pid] = (int(fields[11]) + int(fields[12])) / TICKS
    total = 0.0
    for pid, seconds in cpu.items():
        ancestor = pid
        while ancestor > 1 and ancestor != root:
            ancestor = parents.get(ancestor, 0)
        if ancestor == root:
            total += seconds
    return total


@dataclass(frozen=True)
class Phase:
    seconds: float
    server_cpu: float
    client_cpu: float


def batch(url: str, key: str, work: Path, prompts: int, *, concurrency: int, server: int) -> Phase:
    """The whole ``creatix generate image --batch`` run: its time and CPU."""
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
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_cpu = _tree_cpu_seconds(server)
    started = time.perf_counter()
    ran = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    server_cpu = _tree_cpu_seconds(server) - server_cpu
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    if ran.returncode != 0:
        raise SystemExit(f"the batch failed: {ran.stderr.strip()}")
    summary = json.loads(ran.stdout)
    assert summary["succeeded"] == prompts, summary
    return Phase(elapsed, server_cpu, client_cpu)


def sequential(url: str, key: str, work: Path, prompts: int, *, server: int) -> Phase:
    """``prompts`` single ``images.generate`` calls and their downloads: time and CPU."""
    folder = work / "sequential"
    folder.mkdir()
    with Creatix(url, key) as client:
        own = resource.getrusage(resource.RUSAGE_SELF)
        server_cpu = _tree_cpu_seconds(server)
        started = time.perf_counter()
        for i in range(prompts):
            result = client.images.generate(
                f"Loop poster {i}: a red sneaker on a white table", size=SIZE, seed=i
            )
            client.download(result.assets[0], folder / f"{i}.png")
        elapsed = time.perf_counter() - started
        server_cpu = _tree_cpu_seconds(server) - server_cpu
        after = resource.getrusage(resource.RUSAGE_SELF)
    client_cpu = after.ru_utime + after.ru_stime - own.ru_utime - own.ru_stime
    return Phase(elapsed, server_cpu, client_cpu)


def _line(name: str, phase: Phase, prompts: int) -> str:
    server, client = phase.server_cpu / prompts, phase.client_cpu / prompts
    ceiling = (os.cpu_count() or 1) / (server + client)
    return (
        f"{name:32s}{phase.seconds:7.1f} s {prompts / phase.seconds:7.1f} images/s   CPU per "
        f"image: server {server * 1000:5.0f} ms, client {client * 1000:4.0f} ms "
        f"(ceiling {ceiling:5.1f} images/s)"
    )


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
    parser.add_argument(
        "--serve-workers", type=int, default=None, help="serve's --workers (CREATIX_WORKERS)"
    )
    parser.add_argument(
        "--engine-delay", type=float, default=0.0, help="the preview engine's delay_seconds"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        catalog = load_catalog().model_dump(mode="json")
        if args.engine_delay:
            catalog["engines"]["preview"]["options"] = {"delay_seconds": args.engine_delay}
        env = {"CREATIX_WORKER_CONCURRENCY": str(args.worker_concurrency)}
        if args.serve_workers is not None:
            env["CREATIX_WORKERS"] = str(args.serve_workers)
        server, url, key = start_creatix(work / "data", catalog, env)
        try:
            batched = batch(
                url, key, work, args.prompts, concurrency=args.concurrency, server=server.pid
            )
            looped = sequential(url, key, work, args.prompts, server=server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
    workers = args.serve_workers if args.serve_workers is not None else "serve's default"
    print(
        f"{args.prompts} images at {SIZE}, preview engine, one local `creatix serve` "
        f"(--workers {workers}, worker concurrency {args.worker_concurrency}, "
        f"engine delay {args.engine_delay} s a call, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f})"
    )
    print(_line(f"batch (--concurrency {args.concurrency}):", batched, args.prompts))
    print(_line("sequential images.generate:", looped, args.prompts))
    print(f"ratio: {looped.seconds / batched.seconds:.1f}x")


if __name__ == "__main__":
    main()
