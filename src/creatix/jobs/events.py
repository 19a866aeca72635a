"""In-process wake-ups: a worker wakes when a job is submitted, a waiter when its job ends.

These are hints, not the source of truth: a waiter or worker in another process learns the
same from the job table by polling at ``poll_interval_seconds``.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager, suppress


class JobEvents:
    def __init__(self) -> None:
        self._work = asyncio.Event()
        self._watchers: defaultdict[str, set[asyncio.Event]] = defaultdict(set)

    def job_submitted(self) -> None:
        self._work.set()

    async def wait_for_work(self, timeout: float) -> None:
        with suppress(TimeoutError):
            await asyncio.wait_for(self._work.wait(), timeout)
        self._work.clear()

    def job_finished(self, job_id: str) -> None:
        for event in self._watchers.get(job_id, ()):
            event.set()

    @contextmanager
    def watch(self, job_id: str) -> Iterator[asyncio.Event]:
        event = asyncio.Event()
        self._watchers[job_id].add(event)
        try:
            yield event
        finally:
            watchers = self._watchers[job_id]
            watchers.discard(event)
            if not watchers:
                del self._watchers[job_id]
