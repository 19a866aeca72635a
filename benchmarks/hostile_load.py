"""Normal clients' latency with and without a hostile neighbour, in one run.

Starts ``creatix serve`` (embedded SQLite, preview engine) and drives it with ``--clients``
normal clients generating 512x512 images through Creatix v1 for ``--seconds``, twice: alone,
then while one more client sends the hostile requests of issue 13 in a loop (a catastrophic
JSON Schema pattern, unauthenticated and oversized bodies, lone surrogates and NUL, invalid
UTF-8, huge integers, deep nesting, URLs with bad ports and IPv4 hidden in IPv6, paging
beyond 64 bits, a non-ASCII file signature). Prints one JSON object: the normal clients'
p50/p99 in both phases and their ratio, every 5xx seen (normal or hostile), /healthz's
latency during the hostile phase, and the server's RSS growth.

    .venv/bin/python benchmarks/hostile_load.py [--seconds 30] [--clients 8] [--hostile-plan P]

The hostile tenant is on the ``unlimited`` plan by default, its rate limit lifted like the
normal tenant's (the worst case: every request reaches its handler); ``--hostile-plan paid``
(or ``free``) keeps that plan's per-key limit (600 or 60 a minute), which answers most of its
loop with a cheap 429.

Targets (issue 13): p99 ratio <= 1.5, zero 5xx, RSS growth <= 100 MB.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import multiprocessing
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import percentiles, start_creatix

from creatix.catalog.loader import load_catalog

IMAGE = json.dumps({"prompt": "Minimalist product photo of a perfume bottle", "size": "512x512"})
CATASTROPHIC_SCHEMA = {
    "type": "object",
    "properties": {"code": {"type": "string", "pattern": "^(a|a)*$", "minLength": 40}},
    "required": ["code"],
}
BIG_BODY_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class Hostile:
    """One hostile request: method, path, body (bytes, or ``chunks`` MiB sent chunked), headers."""

    name: str
    method: str
    path: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    chunks: int = 0

    def payload(self) -> bytes | Iterator[bytes] | None:
        if self.chunks:
            chunk = b"x" * (1024 * 1024)
            return (chunk for _ in range(self.chunks))
        return self.body


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def hostile_requests(api_id: str, api_key: str) -> list[Hostile]:
    """The hostile tenant's loop, every authenticated request made with its own key."""
    auth = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
    pair = {"X-API-ID": api_id, "X-API-KEY": api_key, "Content-Type": "application/json"}
    plain = {"Content-Type": "application/json"}
    text_body = {
        "model_name": "gemini-2.5-flash",
        "messages": [{"role": "user", "content": "A code"}],
        "config": {
            "response_mime_type": "application/json",
            "response_json_schema": CATASTROPHIC_SCHEMA,
        },
    }
    bad_urls = [
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://[2002:7f00:1::]/",
        "http://[::127.0.0.1]/",
        "http://127.0.0.1:99999/",
        "http://127.0.0.1:abc/",
        "http://[::1/",
    ]
    requests = [
        Hostile("regex_pattern", "POST", "/api/text_generator/", _json(text_body), pair),
        Hostile("unauthenticated_50mb", "POST", "/v1/images/generations", None, plain, chunks=50),
        Hostile("oversized_authenticated", "POST", "/api/platform/generate", None, auth, chunks=50),
        Hostile("surrogate_v1", "POST", "/v1/generate", b'{"prompt": "\\ud800 cat"}', auth),
        Hostile(
            "surrogate_text",
            "POST",
            "/api/text_generator/",
            _json({"model_name": "gemini-2.5-flash", "messages": []})[:-3]
            + b'[{"role": "user", "content": "\\udfff"}]}',
            pair,
        ),
        Hostile(
            "nul_asset",
            "POST",
            "/api/asset_generator/",
            b'{"model_name": "creatix-flash", "input_params": {"prompt": "a\\u0000b"}}',
            pair,
        ),
        Hostile("invalid_utf8", "POST", "/v1/images/generations", b'{"prompt": "\xff\xfe"}', auth),
        Hostile("huge_int", "POST", "/v1/images/generations", b'{"n": ' + b"9" * 5000 + b"}", auth),
        Hostile("deep_nesting", "POST", "/v1/images/generations", b"[" * 200_000, auth),
        Hostile(
            "offset_beyond_64bit",
            "GET",
            "/api/platform/generations?offset=" + "9" * 30,
            headers=auth,
        ),
        Hostile("page_beyond_64bit", "GET", "/api/text_generator/?page=" + "9" * 30, headers=pair),
        Hostile("non_ascii_signature", "GET", "/files/x.png?expires=9999999999&signature=%C3%A9"),
    ]
    for index, url in enumerate(bad_urls):
        image = {
            "model_name": "kling-video/v1.6/pro/image-to-video",
            "input_params": {"prompt": "a slow pan", "image_url": url},
        }
        requests.append(
            Hostile(f"image_url_{index}", "POST", "/api/asset_generator/", _json(image), pair)
        )
        webhook = {
            "model_name": "creatix-flash",
            "input_params": {"prompt": "a"},
            "webhook_url": url,
        }
        requests.append(
            Hostile(f"webhook_url_{index}", "POST", "/api/asset_generator/", _json(webhook), pair)
        )
    return requests


def _send(port: int, request: Hostile) -> int:
    """The status, or 0 when the server closed the connection before answering (what it
    should do to a body it refuses to read)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        payload = request.payload()
        connection.request(
            request.method,
            request.path,
            body=payload,
            headers=request.headers,
            encode_chunked=request.chunks > 0,
        )
        response = connection.getresponse()
        response.read()
        return response.status
    except (ConnectionError, http.client.HTTPException, TimeoutError):
        return 0
    finally:
        connection.close()


def _normal_client(
    port: int, bearer: str, until: float, out: list[float], statuses: Counter[int]
) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"}
    try:
        while time.perf_counter() < until:
            started = time.perf_counter()
            connection.request("POST", "/v1/images/generations", body=IMAGE, headers=headers)
            response = connection.getresponse()
            response.read()
            out.append(time.perf_counter() - started)
            statuses[response.status] += 1
    finally:
        connection.close()


def _attack(
    port: int,
    hostile: list[Hostile],
    seconds: float,
    results: multiprocessing.Queue[dict[str, dict[int, int]]],
) -> None:
    until = time.perf_counter() + seconds
    statuses: dict[str, Counter[int]] = {}
    for request in itertools.cycle(hostile):
        if time.perf_counter() >= until:
            break
        statuses.setdefault(request.name, Counter())[_send(port, request)] += 1
    results.put({name: dict(counts) for name, counts in statuses.items()})


def _healthz_sampler(
    port: int, until: float, out: list[float], pid: int, peak_rss: list[float]
) -> None:
    while time.perf_counter() < until:
        peak_rss[0] = max(peak_rss[0], _rss_mb(pid))
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        started = time.perf_counter()
        connection.request("GET", "/healthz")
        connection.getresponse().read()
        out.append(time.perf_counter() - started)
        connection.close()
        time.sleep(0.1)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _phase(
    port: int, bearer: str, *, clients: int, seconds: float, hostile: list[Hostile] | None, pid: int
) -> dict[str, Any]:
    until = time.perf_counter() + seconds
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    hostile_statuses: dict[str, dict[int, int]] = {}
    healthz: list[float] = []
    peak_rss = [_rss_mb(pid)]
    threads = [
        threading.Thread(target=_normal_client, args=(port, bearer, until, latencies, statuses))
        for _ in range(clients)
    ]
    attacker: multiprocessing.Process | None = None
    results: multiprocessing.Queue[dict[str, dict[int, int]]] = multiprocessing.Queue()
    if hostile is not None:
        # Its own process: the attacker's Python work must not take the normal clients' GIL,
        # or their latency would measure this client, not the server.
        attacker = multiprocessing.Process(target=_attack, args=(port, hostile, seconds, results))
        threads.append(
            threading.Thread(target=_healthz_sampler, args=(port, until, healthz, pid, peak_rss))
        )
        attacker.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if attacker is not None:
        hostile_statuses = results.get()
        attacker.join()
    result: dict[str, Any] = {
        "requests": len(latencies),
        **percentiles(latencies),
        "statuses": dict(statuses),
    }
    if hostile is not None:
        result["hostile"] = {name: counts for name, counts in sorted(hostile_statuses.items())}
        result["healthz"] = {**percentiles(healthz), "max_ms": round(max(healthz) * 1000, 1)}
        result["peak_rss_mb"] = round(peak_rss[0], 1)
    return result


def _second_key(data_dir: Path, plan: str) -> tuple[str, str]:
    created = subprocess.run(
        [
            sys.executable,
            "-m",
            "creatix",
            "keys",
            "create",
            "--account",
            "mallory",
            "--plan",
            plan,
            "--json",
            "--data-dir",
            str(data_dir),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "creatix",
            "credits",
            "grant",
            "mallory",
            "100000000",
            "--data-dir",
            str(data_dir),
        ],
        check=True,
        capture_output=True,
    )
    key = json.loads(created.stdout)
    return key["key_id"], key["secret"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each phase")
    parser.add_argument("--clients", type=int, default=8, help="normal clients")
    parser.add_argument(
        "--hostile-plan",
        choices=("free", "paid", "unlimited"),
        default="unlimited",
        help="the hostile tenant's plan: its per-key rate limit (60, 600, 6000 a minute)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        server, url, bearer = start_creatix(
            data_dir,
            load_catalog().model_dump(mode="json"),
            # serve on loopback would let private URLs through for local development; the
            # hostile URLs must meet the guard a public listener has, and reach nothing.
            env={"CREATIX_ALLOW_PRIVATE_URLS": "false"},
            # the normal tenant is unlimited; a hostile tenant on another plan keeps its limit
            rate_limited_plans=frozenset({args.hostile_plan} - {"unlimited"}),
        )
        port = int(url.rsplit(":", 1)[1])
        try:
            api_id, api_key = _second_key(data_dir, args.hostile_plan)
            hostile = hostile_requests(api_id, api_key)
            _phase(
                port, bearer, clients=args.clients, seconds=3, hostile=None, pid=server.pid
            )  # warm up
            rss_before = _rss_mb(server.pid)
            alone = _phase(
                port,
                bearer,
                clients=args.clients,
                seconds=args.seconds,
                hostile=None,
                pid=server.pid,
            )
            attacked = _phase(
                port,
                bearer,
                clients=args.clients,
                seconds=args.seconds,
                hostile=hostile,
                pid=server.pid,
            )
            rss_after = _rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
    server_errors = sum(n for s, n in attacked["statuses"].items() if s >= 500) + sum(
        n for counts in attacked["hostile"].values() for s, n in counts.items() if s >= 500
    )
    print(
        json.dumps(
            {
                "seconds_per_phase": args.seconds,
                "normal_clients": args.clients,
                "hostile_plan": args.hostile_plan,
                "alone": alone,
                "with_hostile_client": attacked,
                "p50_ratio": round(attacked["p50_ms"] / alone["p50_ms"], 2),
                "p99_ratio": round(attacked["p99_ms"] / alone["p99_ms"], 2),
                "server_errors_5xx": server_errors,
                "rss_mb": {
                    "before": round(rss_before, 1),
                    "peak": attacked["peak_rss_mb"],
                    "after": round(rss_after, 1),
                    "growth": round(max(attacked["peak_rss_mb"], rss_after) - rss_before, 1),
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
