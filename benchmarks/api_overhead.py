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
import http.client
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import yaml

from creatix.catalog.loader import load_catalog

PAYLOAD = {"prompt": "Minimalist product photo of a perfume bottle", "size": "512x512", "n": 1}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start_server(data_dir: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    catalog = load_catalog().model_dump(mode="json")
    for plan in catalog["plans"]:
        plan["requests_per_minute"] = 10_000_000
    catalog_path = data_dir.parent / "catalog.yaml"
    catalog_path.write_text(yaml.safe_dump(catalog))
    env = {**os.environ, "CREATIX_LOG_LEVEL": "WARNING", "CREATIX_DATA_DIR": str(data_dir)}
    creatix = [sys.executable, "-m", "creatix"]
    created = subprocess.run(
        [*creatix, "keys", "create", "--account", "bench", "--plan", "unlimited", "--json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    secret = json.loads(created.stdout)["secret"]
    port = _free_port()
    server = subprocess.Popen(
        [*creatix, "serve", "--port", str(port), "--catalog", str(catalog_path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                return server, url, secret
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def _drive(url: str, secret: str, response_format: str, clients: int, total: int) -> dict[str, Any]:
    """Each client thread keeps one connection open and sends its share of the requests.

    The client is the standard library's ``http.client``: it costs the client process ~0.6 ms
    less per request than httpx on this machine, time that is not Creatix's.
    """
    latencies: list[tuple[str, float]] = []
    lock = threading.Lock()
    per_client = total // clients
    address = urlsplit(url)
    body = json.dumps({**PAYLOAD, "response_format": response_format})
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}

    def client_loop() -> None:
        connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=60)
        try:
            for _ in range(per_client):
                started = time.perf_counter()
                connection.request("POST", "/v1/images/generations", body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                elapsed = time.perf_counter() - started
                if response.status != 200:
                    raise RuntimeError(f"request failed with {response.status}")
                with lock:
                    latencies.append((response.headers["X-Creatix-Job-Id"], elapsed))
        finally:
            connection.close()

    threads = [threading.Thread(target=client_loop) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {"latencies": latencies, "wall": wall}


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    cut = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50_ms": round(cut[49] * 1000, 2), "p99_ms": round(cut[98] * 1000, 2)}


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
        server, url, secret = _start_server(data_dir)
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
                            "latency": _percentiles(latencies),
                            "engine_p50_ms": round(statistics.median(engine.values()) * 1000, 2),
                            "overhead": _percentiles(overhead),
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
