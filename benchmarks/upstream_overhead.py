"""What Creatix adds in front of an upstream provider, per request, beside LiteLLM's proxy.

Starts an instant fake OpenAI Images server (a subprocess: one precomputed 512x512 PNG as
``b64_json``, answered at once), ``creatix serve`` (embedded SQLite) with one model routed
to it through the ``openai`` engine, and LiteLLM's proxy (``litellm[proxy]``, one worker, a
master key, no database) in front of the same fake. LiteLLM is installed by this script into
its own virtual environment (``--litellm-venv``, made with ``python -m venv`` and pip on first
use; the project's environment is left alone).

Then the same request (512x512, n=1) goes straight to the fake, through Creatix
(``response_format: url``: the creatix_v1 dialect watermarks every image) and through
LiteLLM, with the same client, at each ``--clients`` count (default 1 and 8), in
``--rounds`` interleaved rounds (the order rotating each round) so that noise on the machine
hits all three alike. One JSON object is printed: per client count, requests/s and p50/p99
latency of each path, each proxy's overhead (its latency minus the direct latency, at p50 and
p99) and the ratio of Creatix's overhead to LiteLLM's at p50.

What Creatix adds: HTTP, auth, rate limit, the job row and its credit reservation, the
provider call, decoding the provider's PNG, watermark, encoding, storage, completion with its
ledger settlement. What LiteLLM adds: HTTP, key check, routing, the provider call, relaying
the provider's JSON. The output also has ``creatix_media_cpu_ms_per_image``: the CPU time of
the media work alone (decoding, the visible and invisible marks, encoding, C2PA signing),
measured here on one thread: a floor under Creatix's overhead that LiteLLM does not have.

    .venv/bin/python benchmarks/upstream_overhead.py [--clients 1 8] [--rounds 5]
        [--requests 160] [--litellm-venv /tmp/creatix-bench-litellm] [--no-litellm]
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
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import yaml
from harness import drive, free_port, percentiles, start_creatix, wait_healthy
from PIL import Image as PILImage

from creatix.catalog.loader import load_catalog
from creatix.config import Settings
from creatix.media.finishing import decode_image, finished_image_bytes
from creatix.provenance.credentials import Claims
from creatix.runtime import output_provenance

SIDE = 512
PROMPT = "A perfume bottle on marble"
PAYLOAD = {"model": "upstream", "prompt": PROMPT, "size": "512x512"}
LITELLM_KEY = "sk-creatix-bench"
LITELLM_PACKAGE = "litellm[proxy]"
DEFAULT_VENV = Path(tempfile.gettempdir()) / "creatix-bench-litellm"


def _fake_png_b64() -> str:
    """The one image the fake answers, base64-encoded: a flat 512x512 PNG."""
    buffer = io.BytesIO()
    PILImage.new("RGB", (SIDE, SIDE), (180, 90, 40)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _fake_provider(port: int) -> None:
    """The instant fake: run in its own process (``--fake PORT``)."""
    import uvicorn
    from fastapi import FastAPI
    from fastapi.responses import Response

    answer = json.dumps({"created": 0, "data": [{"b64_json": _fake_png_b64()}]}).encode()
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


def litellm_binary(venv: Path) -> Path:
    """LiteLLM's proxy command in ``venv``, installing ``litellm[proxy]`` there first when it
    is missing (a virtual environment of its own: its pins are not the project's)."""
    binary = venv / "bin" / "litellm"
    if binary.exists():
        return binary
    print(f"installing {LITELLM_PACKAGE} into {venv} (once)", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", LITELLM_PACKAGE],
        check=True,
    )
    return binary


@contextmanager
def _litellm(venv: Path, fake_url: str, tmp: Path) -> Iterator[str]:
    """LiteLLM's proxy, one worker, a master key and no database, routing ``gpt-image-1`` to
    the fake: its base URL while the block runs."""
    binary = litellm_binary(venv)
    config = {
        "model_list": [
            {
                "model_name": "gpt-image-1",
                "litellm_params": {
                    "model": "openai/gpt-image-1",
                    "api_base": f"{fake_url}/v1",
                    "api_key": "sk-fake",
                },
            }
        ],
        "general_settings": {"master_key": LITELLM_KEY},
        "litellm_settings": {"telemetry": False, "set_verbose": False},
    }
    path = tmp / "litellm.yaml"
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "VIRTUAL_ENV", "PYTHONPATH")
    }
    env |= {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"}
    command = [str(binary), "--config", str(path), "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--num_workers", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=tmp,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, "/health/liveliness")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def _fake() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, __file__, "--fake", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, "/docs")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def _creatix(fake_url: str, clients: int, tmp: Path) -> Iterator[tuple[str, str]]:
    server, url, secret = start_creatix(tmp / "data", _catalog(fake_url, clients))
    try:
        yield url, secret
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument(
        "--requests", type=int, default=160, help="requests per path, client count and round"
    )
    parser.add_argument("--litellm-venv", type=Path, default=DEFAULT_VENV)
    parser.add_argument("--no-litellm", action="store_true", help="measure Creatix alone")
    parser.add_argument("--fake", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fake:
        _fake_provider(args.fake)
        return
    with tempfile.TemporaryDirectory() as tmp_name, ExitStack() as stack:
        tmp = Path(tmp_name)
        fake_url = stack.enter_context(_fake())
        creatix_url, secret = stack.enter_context(_creatix(fake_url, max(args.clients), tmp))
        paths = {
            "direct": Target(fake_url, {"model": "gpt-image-1", "prompt": PROMPT}, {}),
            "creatix": Target(
                creatix_url,
                {**PAYLOAD, "response_format": "url"},
                {"Authorization": f"Bearer {secret}"},
            ),
        }
        if not args.no_litellm:
            litellm_url = stack.enter_context(_litellm(args.litellm_venv, fake_url, tmp))
            paths["litellm"] = Target(
                litellm_url,
                {"model": "gpt-image-1", "prompt": PROMPT, "size": "512x512"},
                {"Authorization": f"Bearer {LITELLM_KEY}"},
            )
        results = measure(paths, args.clients, args.rounds, args.requests)
        results["creatix_media_cpu_ms_per_image"] = media_work_ms(tmp / "media")
    print(json.dumps(results, indent=2))


def media_work_ms(data_dir: Path, runs: int = 40) -> dict[str, float]:
    """The least CPU time (best of ``runs``, one thread) of the media work the worker does to
    each image that the fake answers before storing it: decoding the provider's PNG, the
    visible and invisible marks and encoding, and signing its C2PA manifest. Work LiteLLM
    does not do at all: its sum bounds what Creatix's overhead can come down to."""
    image_bytes = base64.b64decode(_fake_png_b64())
    provenance = output_provenance(Settings(data_dir=data_dir))
    payload = provenance.payload("bench-job")
    claims = Claims(title="x.png", model="upstream", engine="openai", composite=False)
    decoded = decode_image(image_bytes)
    encoded = finished_image_bytes(decoded.copy(), "png", {}, payload=payload)
    steps = {
        "decode": lambda: decode_image(image_bytes),
        "marks_and_encode": lambda: finished_image_bytes(
            decoded.copy(), "png", {}, payload=payload
        ),
        "sign": lambda: provenance.signed_image(encoded, "image/png", claims),
    }
    costs = {}
    for name, step in steps.items():
        step()
        times = []
        for _ in range(runs):
            started = time.thread_time()
            step()
            times.append(time.thread_time() - started)
        costs[name] = round(min(times) * 1000, 2)
    costs["total"] = round(sum(costs.values()), 2)
    return costs


class Target:
    """One way to the fake (straight, or through a proxy): base URL, request body, headers."""

    def __init__(self, url: str, body: dict[str, Any], headers: dict[str, str]) -> None:
        self.url = url
        self.body = {**body, "size": f"{SIDE}x{SIDE}"}
        self.headers = headers

    def run(self, clients: int, total: int) -> dict[str, Any]:
        return drive(
            self.url,
            "/v1/images/generations",
            self.body,
            self.headers,
            clients=clients,
            total=total,
        )


def measure(
    paths: dict[str, Target], client_counts: list[int], rounds: int, requests: int
) -> dict[str, Any]:
    """Every path at every client count, ``rounds`` times interleaved."""
    for path in paths.values():
        path.run(4, 40)  # warm up: connections, caches, the first import of a codec
    names = list(paths)
    results: dict[str, Any] = {"size": f"{SIDE}x{SIDE}", "cpus": os.cpu_count(), "rounds": rounds}
    for clients in client_counts:
        latencies: dict[str, list[float]] = {name: [] for name in names}
        walls: dict[str, float] = dict.fromkeys(names, 0.0)
        for round_index in range(rounds):
            shift = round_index % len(names)
            for name in names[shift:] + names[:shift]:
                run = paths[name].run(clients, requests)
                latencies[name] += [seconds for _, seconds in run["latencies"]]
                walls[name] += run["wall"]
        scenario: dict[str, Any] = {
            name: {
                "requests": len(latencies[name]),
                "requests_per_s": round(len(latencies[name]) / walls[name], 1),
                "latency": percentiles(latencies[name]),
            }
            for name in names
        }
        direct = scenario["direct"]["latency"]
        for name in names[1:]:
            scenario[name]["overhead"] = {
                key: round(scenario[name]["latency"][key] - direct[key], 2)
                for key in ("p50_ms", "p99_ms")
            }
        if "litellm" in scenario:
            theirs = scenario["litellm"]["overhead"]["p50_ms"]
            ours = scenario["creatix"]["overhead"]["p50_ms"]
            scenario["ratio_creatix_to_litellm_p50"] = round(ours / theirs, 2) if theirs else None
        results[f"{clients}_clients"] = scenario
    return results


if __name__ == "__main__":
    main()
