"""What idle job-event streams cost a server process.

Starts ``creatix serve`` without a worker (embedded SQLite), queues ``--jobs`` image jobs
(they stay queued), then opens ``--streams`` streams of ``GET /v1/jobs/{id}/events`` spread
over them, each read up to its ``queued`` event and then held open. Prints one JSON object:
the server's resident memory (VmRSS) before and with the streams open, the cost per stream,
how long opening them took, the server's CPU time while they sat idle for ``--idle``
seconds (its shared poll of the followed jobs and keep-alives), and the latency of other
requests (``GET /v1/models`` and ``GET /api/platform/credits``, ``--requests`` of each, one
at a time on their own connection, from a process of their own) before the streams open,
while they are open and after they closed: p50, p99, and the p99 with the streams over the
lower of the p99s before and after (the target: within 1.2).

    .venv/bin/python benchmarks/job_event_streams.py [--streams 2000] [--jobs 100] [--idle 10]
        [--requests 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from harness import percentiles, start_creatix

from creatix.catalog.loader import load_catalog


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _open(client: httpx.AsyncClient, path: str, opened: list[httpx.Response]) -> None:
    request = client.build_request("GET", path)
    response = await client.send(request, stream=True)
    assert response.status_code == 200, response.status_code
    lines = response.aiter_lines()
    async for line in lines:
        if line.startswith("event: "):
            assert line == "event: queued", line
            break
    opened.append(response)


OTHER_REQUESTS = ("/v1/models", "/api/platform/credits")


def _latencies(url: str, secret: str, requests: int) -> dict[str, dict[str, float]]:
    """p50 and p99 of each of ``OTHER_REQUESTS``, ``requests`` times one after another
    (interleaved), measured by a process of their own: not this one, whose event loop holds
    the streams (and reads their keep-alives)."""
    ran = subprocess.run(
        [sys.executable, __file__, "--latencies", url, "--requests", str(requests)],
        env={**os.environ, "CREATIX_API_KEY": secret},
        capture_output=True,
        text=True,
        check=True,
    )
    measured: dict[str, dict[str, float]] = json.loads(ran.stdout)
    return measured


def _measure_latencies(url: str, secret: str, requests: int) -> dict[str, dict[str, float]]:
    headers = {"Authorization": f"Bearer {secret}"}
    seconds: dict[str, list[float]] = {path: [] for path in OTHER_REQUESTS}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        for _ in range(max(10, requests // 4)):  # warm: a connection, the server's caches
            for path in OTHER_REQUESTS:
                client.get(path).raise_for_status()
        for _ in range(requests):
            for path in OTHER_REQUESTS:
                started = time.perf_counter()
                response = client.get(path)
                seconds[path].append(time.perf_counter() - started)
                assert response.status_code == 200, response.text
    return {path: percentiles(values) for path, values in seconds.items()}


def _ratios(
    before: dict[str, dict[str, float]],
    after: dict[str, dict[str, float]],
    during: dict[str, dict[str, float]],
) -> dict[str, float]:
    """Each path's p99 with the streams over the lower of its p99s before and after them: the
    quiet measurements bracket the machine's drift, and the lower one is the stricter test."""
    return {
        path: round(during[path]["p99_ms"] / min(before[path]["p99_ms"], after[path]["p99_ms"]), 2)
        for path in before
    }


async def _run(
    url: str, secret: str, *, streams: int, jobs: int, idle: float, pid: int, requests: int
) -> dict[str, object]:
    headers = {"Authorization": f"Bearer {secret}"}
    limits = httpx.Limits(max_connections=streams + 10, max_keepalive_connections=streams + 10)
    async with httpx.AsyncClient(
        base_url=url, headers=headers, timeout=120, limits=limits
    ) as client:
        ids = []
        for index in range(jobs):
            body = {"prompt": f"a lamp number {index}", "modelId": "creatix-flash"}
            response = await client.post("/api/platform/generate", json=body)
            assert response.status_code == 202, response.text
            ids.append(response.json()["id"])
        await asyncio.sleep(1)
        latency_before = await asyncio.to_thread(_latencies, url, secret, requests)
        before = _rss_mb(pid)
        opened: list[httpx.Response] = []
        cpu_opening = _cpu_seconds(pid)
        started = time.perf_counter()
        batch = 100
        for start in range(0, streams, batch):
            await asyncio.gather(
                *(
                    _open(client, f"/v1/jobs/{ids[i % jobs]}/events", opened)
                    for i in range(start, min(streams, start + batch))
                )
            )
        opening = time.perf_counter() - started
        cpu_opening = _cpu_seconds(pid) - cpu_opening
        cpu_before = _cpu_seconds(pid)
        await asyncio.sleep(idle)
        cpu_idle = _cpu_seconds(pid) - cpu_before
        with_streams = _rss_mb(pid)
        latency_during = await asyncio.to_thread(_latencies, url, secret, requests)
        for response in opened:
            await response.aclose()
        await asyncio.sleep(1)
        latency_after = await asyncio.to_thread(_latencies, url, secret, requests)
    return {
        "streams": len(opened),
        "jobs": jobs,
        "rss_before_mb": round(before, 1),
        "rss_with_streams_mb": round(with_streams, 1),
        "per_stream_kb": round((with_streams - before) * 1024 / max(1, len(opened)), 1),
        "open_seconds": round(opening, 2),
        "server_cpu_seconds_opening": round(cpu_opening, 2),
        "idle_seconds": idle,
        "server_cpu_seconds_while_idle": round(cpu_idle, 3),
        "other_requests_without_streams": latency_before,
        "other_requests_with_streams": latency_during,
        "other_requests_after_streams": latency_after,
        "other_requests_p99_ratio": _ratios(latency_before, latency_after, latency_during),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--idle", type=float, default=10.0)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--latencies", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.latencies:  # the measuring subprocess of _latencies
        secret = os.environ["CREATIX_API_KEY"]
        print(json.dumps(_measure_latencies(args.latencies, secret, args.requests)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        server, url, secret = start_creatix(
            Path(tmp) / "data",
            load_catalog().model_dump(mode="json"),
            # One API process (serve's --workers 1): the streams' cost is that process's.
            env={"CREATIX_RUN_WORKER": "false", "CREATIX_WORKERS": "1"},
        )
        try:
            result = asyncio.run(
                _run(
                    url,
                    secret,
                    streams=args.streams,
                    jobs=args.jobs,
                    idle=args.idle,
                    pid=server.pid,
                    requests=args.requests,
                )
            )
        finally:
            server.terminate()
            server.wait(timeout=60)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
