"""What Creatix adds in front of an upstream provider, per request.

Starts an instant fake OpenAI Images server (a subprocess: one precomputed 512x512 PNG as
``b64_json``, answered at once) and ``creatix serve`` (embedded SQLite) with one model routed
to it through the ``openai`` engine. Then, in one run and with the same client, the same
request (512x512, n=1) goes ``--clients`` at a time (default 32) straight to the fake and
through Creatix (``response_format: url``), and one JSON object is printed: requests/s and
p50/p99 latency of both, and Creatix's overhead = its latency minus the direct latency, at
p50 and p99. What Creatix adds: HTTP, auth, rate limit, the job row, the provider call,
decoding the provider's PNG, watermark, encoding, storage, completion.

    .venv/bin/python benchmarks/upstream_overhead.py [--requests 640] [--clients 32]
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from harness import drive, free_port, percentiles, start_creatix, wait_healthy

from creatix.catalog.loader import load_catalog

SIDE = 512
PAYLOAD = {"model": "upstream", "prompt": "A perfume bottle on marble", "size": "512x512"}


def _fake_provider(port: int) -> None:
    """The instant fake: run in its own process (``--fake PORT``)."""
    import uvicorn
    from fastapi import FastAPI
    from fastapi.responses import Response
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (SIDE, SIDE), (180, 90, 40)).save(buffer, format="PNG")
    answer = json.dumps(
        {"created": 0, "data": [{"b64_json": base64.b64encode(buffer.getvalue()).decode()}]}
    ).encode()
    app = FastAPI()

    @app.post("/v1/images/generations")
    async def generate() -> Response:
        return Response(answer, media_type="application/json")

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _catalog(fake_url: str, clients: int) -> dict[str, Any]:
    catalog = load_catalog().model_dump(mode="json")
    catalog["engines"]["provider"] = {
        "type": "openai",
        "options": {"base_url": f"{fake_url}/v1", "requires_key": False, "concurrency": clients},
    }
    catalog["models"].append(
        {"id": "upstream", "engine": "provider", "engine_model": "gpt-image-1", "display_name": "U"}
    )
    return catalog


def _scenario(run: dict[str, Any]) -> dict[str, Any]:
    latencies = [seconds for _, seconds in run["latencies"]]
    return {
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / run["wall"], 1),
        "latency": percentiles(latencies),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=640, help="requests per scenario")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--fake", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fake:
        _fake_provider(args.fake)
        return
    port = free_port()
    fake = subprocess.Popen(
        [sys.executable, __file__, "--fake", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    fake_url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(fake_url, "/docs")
        with tempfile.TemporaryDirectory() as tmp:
            data_dir = Path(tmp) / "data"
            server, url, secret = start_creatix(data_dir, _catalog(fake_url, args.clients))
            try:
                results = _measure(fake_url, url, secret, args.clients, args.requests)
            finally:
                server.terminate()
                server.wait(timeout=30)
    finally:
        fake.terminate()
        fake.wait(timeout=30)
    print(json.dumps(results, indent=2))


def _measure(fake_url: str, url: str, secret: str, clients: int, requests: int) -> dict[str, Any]:
    auth = {"Authorization": f"Bearer {secret}"}
    direct_body = {"model": "gpt-image-1", "prompt": PAYLOAD["prompt"], "size": "512x512"}
    through_body = {**PAYLOAD, "response_format": "url"}
    drive(url, "/v1/images/generations", through_body, auth, clients=4, total=40)  # warm up
    direct = drive(
        fake_url, "/v1/images/generations", direct_body, {}, clients=clients, total=requests
    )
    through = drive(
        url, "/v1/images/generations", through_body, auth, clients=clients, total=requests
    )
    lone = drive(url, "/v1/images/generations", through_body, auth, clients=1, total=100)
    lone_direct = drive(fake_url, "/v1/images/generations", direct_body, {}, clients=1, total=100)
    results = {
        "size": f"{SIDE}x{SIDE}",
        "cpus": os.cpu_count(),
        "clients": clients,
        "direct": _scenario(direct),
        "through_creatix": _scenario(through),
        "one_client": {"direct": _scenario(lone_direct), "through_creatix": _scenario(lone)},
    }
    for label, pair in (
        ("overhead", (results["through_creatix"], results["direct"])),
        (
            "one_client_overhead",
            (results["one_client"]["through_creatix"], results["one_client"]["direct"]),
        ),
    ):
        via, straight = pair
        results[label] = {
            key: round(via["latency"][key] - straight["latency"][key], 2)
            for key in ("p50_ms", "p99_ms")
        }
    return results


if __name__ == "__main__":
    main()
