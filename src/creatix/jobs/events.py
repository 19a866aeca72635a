"""In-process wake-ups: a worker wakes when a job is submitted, a waiter when its job ends.

A waiter is handed the ended job itself, so it needs no read of its own. These are hints, not
the source of truth: a waiter or worker in another process learns the same from the job table
by polling at ``poll_interval_seconds``.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from creatix.jobs.specs import Job


class JobEvents:
    def __init__(self) -> None:
        self._work = asyncio.Event()
        self._watchers: defaultdict[str, set[asyncio.Future[Job]]] = defaultdict(set)

    def job_submitted(self) -> None:
        self._work.set()

    async def wait_for_work(self, timeout: float) -> None:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancel that
        # lands as the event fires, and a draining worker would never stop.
        with suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._work.wait()
        self._work.clear()

    def job_finished(self, job: Job) -> None:
        for future in self._watchers.get(job.id, ()):
            if not future.done():
                future.set_result(job)

    def watched(self, job_id: str) -> bool:
        return job_id in self._watchers

    @contextmanager
    def watch(self, job_id: str) -> Iterator[asyncio.Future[Job]]:
        """A future that resolves to the job when a worker in this process ends it."""
        future: asyncio.Future[Job] = asyncio.get_running_loop().create_future()
        self._watchers[job_id].add(future)
        try:
            yield future
        finally:
            watchers = self._watchers[job_id]
            watchers.discard(future)
            if not watchers:
                del self._watchers[job_id]
