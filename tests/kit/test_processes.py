"""A process runner starts its pool without stalling the event loop that first calls it.

Starting the fork server means importing its preload modules before the first worker exists,
which takes a second or more; done on the event loop, every request of the process waited.
The check runs in a fresh interpreter, since a fork server, once running, serves the whole
process (and the test session has one already).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

IMPORT_SECONDS = 2.0

FIRST_CALL = """
import asyncio, json, time

from creatix.kit.processes import ProcessRunner


async def main() -> None:
    runner = ProcessRunner(workers=1, budget_seconds=60, preload=["slow_to_import"])
    gaps = []

    async def tick() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    answer = await runner.run(len, b"four")
    took = time.perf_counter() - started
    ticker.cancel()
    await runner.close()
    print(json.dumps({"answer": answer, "took": took, "longest_gap": max(gaps)}))


asyncio.run(main())
"""


def test_the_first_call_starts_the_pool_off_the_event_loop(tmp_path: Path) -> None:
    (tmp_path / "slow_to_import.py").write_text(f"import time\ntime.sleep({IMPORT_SECONDS})\n")
    # On PYTHONPATH, so that the fork server, started with the same environment, finds it.
    path = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    environment = {**os.environ, "PYTHONPATH": path}
    finished = subprocess.run(
        [sys.executable, "-c", FIRST_CALL],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    measured = json.loads(finished.stdout.strip().splitlines()[-1])
    assert measured["answer"] == 4
    assert measured["took"] >= IMPORT_SECONDS * 0.9, "the fork server imported the preload"
    assert measured["longest_gap"] < IMPORT_SECONDS / 2, measured
