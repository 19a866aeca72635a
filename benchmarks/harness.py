"""What the HTTP benchmarks share: a ``creatix serve`` subprocess with an unlimited key, client
threads on loopback, percentiles."""

from __future__ import annotations

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import yaml


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_healthy(url: str, path: str = "/healthz") -> None:
    for _ in range(600):
        try:
            if httpx.get(f"{url}{path}").status_code < 500:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not start")


def start_creatix(
    data_dir: Path,
    catalog: dict[str, Any],
    env: dict[str, str] | None = None,
    rate_limited_plans: frozenset[str] = frozenset(),
) -> tuple[subprocess.Popen[bytes], str, str]:
    """``creatix serve`` on a free port with ``catalog`` (rate limits lifted, except those of
    ``rate_limited_plans``) and an unlimited key: (process, base URL, key)."""
    for plan in catalog["plans"]:
        if plan["id"] not in rate_limited_plans:
            plan["requests_per_minute"] = 10_000_000
    catalog_path = data_dir.parent / "catalog.yaml"
    catalog_path.write_text(yaml.safe_dump(catalog))
    env = {
        **os.environ,
        "CREATIX_LOG_LEVEL": "WARNING",
        "CREATIX_DATA_DIR": str(data_dir),
        **(env or {}),
    }
    creatix = [sys.executable, "-m", "creatix"]
    created = subprocess.run(
        [*creatix, "keys", "create", "--account", "bench", "--plan", "unlimited", "--json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    secret = json.loads(created.stdout)["secret"]
    port = free_port()
    server = subprocess.Popen(
        [*creatix, "serve", "--port", str(port), "--catalog", str(catalog_path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url)
    return server, url, secret


def drive(
    url: str,
    path: str,
    body: dict[str, Any],
    headers: dict[str, str],
    *,
    clients: int,
    total: int,
    expect: int = 200,
) -> dict[str, Any]:
    """``total`` POSTs of ``body`` from ``clients`` threads, each keeping one connection open:
    {"latencies": [(response headers, seconds)], "wall": seconds}.

    The client is the standard library's ``http.client``: it costs the client process ~0.6 ms
    less per request than httpx on this machine, time that is not the server's.
    """
    latencies: list[tuple[http.client.HTTPMessage, float]] = []
    lock = threading.Lock()
    per_client = total // clients
    address = urlsplit(url)
    encoded = json.dumps(body)
    headers = {"Content-Type": "application/json", **headers}

    def client_loop() -> None:
        connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=60)
        try:
            for _ in range(per_client):
                started = time.perf_counter()
                connection.request("POST", path, body=encoded, headers=headers)
                response = connection.getresponse()
                response.read()
                elapsed = time.perf_counter() - started
                if response.status != expect:
                    raise RuntimeError(f"request failed with {response.status}")
                with lock:
                    latencies.append((response.headers, elapsed))
        finally:
            connection.close()

    threads = [threading.Thread(target=client_loop) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"latencies": latencies, "wall": time.perf_counter() - started}


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    cut = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50_ms": round(cut[49] * 1000, 2), "p99_ms": round(cut[98] * 1000, 2)}
