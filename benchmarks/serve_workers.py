"""Images/s of ``creatix serve --workers 1`` against ``--workers 2``, in one run.

Starts each server in turn (embedded SQLite, the shipped catalog's preview engine, a fresh
data directory each), drives it with 8 client threads on loopback sending Creatix v1
``POST /v1/images/generations`` (512x512, n=1, a URL back) and prints one JSON object: both
servers' images/s, p50/p99 latency, the server processes' CPU per image and cores kept
busy, and the ratio. The two are measured in alternating rounds (1, 2, 1, 2, ...) so that
what else the machine does hits both alike; each figure is the median of its rounds. The
issue's target: ``--workers 2`` at least 1.4x ``--workers 1``.

    .venv/bin/python benchmarks/serve_workers.py [--requests 240] [--rounds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from harness import drive, percentiles, start_creatix

from creatix.catalog.loader import load_catalog

PAYLOAD = {
    "prompt": "Minimalist product photo of a perfume bottle on marble",
    "size": "512x512",
    "n": 1,
    "response_format": "url",
}
CLIENTS = 8


def _cpu_seconds(server: subprocess.Popen[bytes]) -> float:
    """User + system CPU so far of the server and its children (the supervisor's
    processes), from Linux's /proc."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            # Fields after the command's closing parenthesis: state, ppid, ..., utime, stime.
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
            stats[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    tree, changed = {server.pid}, True
    while changed:
        grown = tree | {pid for pid, (parent, _) in stats.items() if parent in tree}
        changed, tree = grown != tree, grown
    ticks = sum(stats[pid][1] for pid in tree if pid in stats)
    return ticks / os.sysconf("SC_CLK_TCK")


def _round(server: subprocess.Popen[bytes], url: str, secret: str, total: int) -> dict[str, Any]:
    cpu = _cpu_seconds(server)
    run = drive(
        url,
        "/v1/images/generations",
        PAYLOAD,
        {"Authorization": f"Bearer {secret}"},
        clients=CLIENTS,
        total=total,
    )
    cpu = _cpu_seconds(server) - cpu
    latencies = [seconds for _, seconds in run["latencies"]]
    return {
        "images_per_s": len(latencies) / run["wall"],
        **percentiles(latencies),
        "server_cpu_ms_per_image": 1000 * cpu / len(latencies),
        "server_cores_busy": cpu / run["wall"],
    }


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        server.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=240, help="requests per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per server")
    args = parser.parse_args()
    rounds: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as tmp:
        servers = {}
        try:
            for workers in (1, 2):
                data_dir = Path(tmp) / f"data-{workers}"
                servers[workers] = start_creatix(
                    data_dir,
                    load_catalog().model_dump(mode="json"),
                    env={"CREATIX_WORKERS": str(workers)},
                )
                server, url, secret = servers[workers]
                _round(server, url, secret, 4 * CLIENTS)  # warm up
            for _ in range(args.rounds):
                for workers in (1, 2):
                    server, url, secret = servers[workers]
                    rounds[workers].append(_round(server, url, secret, args.requests))
        finally:
            for server, _, _ in servers.values():
                _stop(server)
    result: dict[str, Any] = {
        "clients": CLIENTS,
        "size": PAYLOAD["size"],
        "requests_per_round": args.requests,
        "rounds": args.rounds,
        "cores": os.cpu_count(),
    }
    for workers, runs in rounds.items():
        result[f"workers_{workers}"] = {
            key: round(statistics.median(run[key] for run in runs), 2) for key in runs[0]
        }
    one, two = result["workers_1"]["images_per_s"], result["workers_2"]["images_per_s"]
    result["ratio_2_over_1"] = round(two / one, 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
