"""What idle job-event streams cost a server process.

Starts ``creatix serve`` without a worker (embedded SQLite), queues ``--jobs`` image jobs
(they stay queued), then opens ``--streams`` streams of ``GET /v1/jobs/{id}/events`` spread
over them, each read up to its ``queued`` event and then held open. Prints one JSON object:
the server's resident memory (VmRSS) before and with the streams open, the cost per stream,
how long opening them took, and the server's CPU time while they sat idle for ``--idle``
seconds (its shared poll of the followed jobs and keep-alives).

    .venv/bin/python benchmarks/job_event_streams.py [--streams 2000] [--jobs 100] [--idle 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path

import httpx
from harness import start_creatix

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


async def _run(
    url: str, secret: str, *, streams: int, jobs: int, idle: float, pid: int
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
        for response in opened:
            await response.aclose()
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
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--idle", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server, url, secret = start_creatix(
            Path(tmp) / "data",
            load_catalog().model_dump(mode="json"),
            env={"CREATIX_RUN_WORKER": "false"},
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
                )
            )
        finally:
            server.terminate()
            server.wait(timeout=60)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
