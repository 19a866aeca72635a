"""How far a running batch is, from the engine to the job rows."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence

from creatix.jobs.lifecycle import JobLifecycle
from creatix.kit.backoff import Outage

log = logging.getLogger(__name__)


class ProgressReporter:
    """An engine's ``ProgressCallback`` for one batch: records the latest fraction on the
    batch's jobs, at most once per ``interval`` seconds, and announces it to other processes
    (a PostgreSQL notification, for their streams of job events) at most once per
    ``announce_interval`` seconds; followers in this process hear of every write.

    Engines report from their inference threads; the reporter hops to the event loop and
    writes from there, so a pipeline step never waits on the database. A failed write (the
    database is unavailable) is reported to ``outage``, which logs the change of state once,
    and the reporter waits out its backoff before the next write.
    """

    def __init__(
        self,
        lifecycle: JobLifecycle,
        job_ids: Sequence[str],
        worker_id: str,
        *,
        interval: float = 0.25,
        announce_interval: float = 0.5,
        outage: Outage | None = None,
    ) -> None:
        self._lifecycle = lifecycle
        self._job_ids = list(job_ids)
        self._worker_id = worker_id
        self._interval = interval
        self._announce_interval = announce_interval
        self._announced_at: float | None = None
        self._outage = outage or Outage("recording progress", log)
        self._loop = asyncio.get_running_loop()
        self._latest: float | None = None
        self._written: float | None = None
        self._reported = asyncio.Event()

    def __call__(self, fraction: float) -> None:
        if fraction >= 1.0:
            return  # done: the completion that follows records it, in its own write
        with contextlib.suppress(RuntimeError):  # the loop closed under a finishing thread
            self._loop.call_soon_threadsafe(self._note, max(0.0, fraction))

    def _note(self, fraction: float) -> None:
        self._latest = fraction
        self._reported.set()

    async def run(self) -> None:
        """Write reports until cancelled."""
        while True:
            await self._reported.wait()
            self._reported.clear()
            fraction = self._latest
            if fraction is not None and fraction != self._written:
                await self._write(fraction)
            await asyncio.sleep(self._interval)

    async def _write(self, fraction: float) -> None:
        self._written = fraction
        now = time.monotonic()
        announce = self._announced_at is None or now - self._announced_at >= self._announce_interval
        if announce:
            self._announced_at = now
        try:
            await self._lifecycle.report_progress(
                self._job_ids, self._worker_id, fraction, announce=announce
            )
        except Exception as exc:
            await asyncio.sleep(self._outage.failed(exc))
            return
        self._outage.recovered()
