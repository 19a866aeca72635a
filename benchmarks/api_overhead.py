"""Platform overhead of Creatix v1: what Creatix adds around the engine, per request.

Starts ``creatix serve`` as a subprocess (embedded SQLite, preview engine), drives it from
client threads on loopback and prints one JSON object: requests/s and p50/p99 latency for
512x512 n=1 with b64_json and with url, at 1 and at 16 concurrent clients, and the overhead
per request: end-to-end latency minus the engine time recorded on the job. That leaves HTTP,
auth, database, queue hand-off, watermark, encoding and storage.

    .venv/bin/python benchmarks/api_overhead.py [--requests 300]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import tempfile
from pathlib import Path
from typing import Any

from harness import drive, percentiles, start_creatix

from creatix.catalog.loader import load_catalog

PAYLOAD = {"prompt": "Minimalist product photo of a perfume bottle", "size": "512x512", "n": 1}


def _drive(url: str, secret: str, response_format: str, clients: int, total: int) -> dict[str, Any]:
    body = {**PAYLOAD, "response_format": response_format}
    auth = {"Authorization": f"Bearer {secret}"}
    run = drive(url, "/v1/images/generations", body, auth, clients=clients, total=total)
    latencies = [(headers["X-Creatix-Job-Id"], seconds) for headers, seconds in run["latencies"]]
    return {"latencies": latencies, "wall": run["wall"]}


def _engine_seconds(db: Path, job_ids: list[str]) -> dict[str, float]:
    with sqlite3.connect(db) as connection:
        rows = connection.execute(
            f"SELECT id, engine_seconds FROM jobs WHERE id IN ({','.join('?' * len(job_ids))})",
            job_ids,
        ).fetchall()
    return dict(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=320, help="requests per scenario")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        server, url, secret = start_creatix(data_dir, load_catalog().model_dump(mode="json"))
        try:
            _drive(url, secret, "b64_json", 4, 40)  # warm up
            results = []
            for response_format in ("b64_json", "url"):
                for clients in (1, 16):
                    run = _drive(url, secret, response_format, clients, args.requests)
                    latencies = [seconds for _, seconds in run["latencies"]]
                    engine = _engine_seconds(
                        data_dir / "creatix.db", [j for j, _ in run["latencies"]]
                    )
                    overhead = [seconds - engine[job] for job, seconds in run["latencies"]]
                    results.append(
                        {
                            "response_format": response_format,
                            "clients": clients,
                            "requests": len(latencies),
                            "requests_per_s": round(len(latencies) / run["wall"], 1),
                            "latency": percentiles(latencies),
                            "engine_p50_ms": round(statistics.median(engine.values()) * 1000, 2),
                            "overhead": percentiles(overhead),
                        }
                    )
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(
        json.dumps(
            {"size": "512x512", "n": 1, "cpus": os.cpu_count(), "results": results}, indent=2
        )
    )


if __name__ == "__main__":
    main()
