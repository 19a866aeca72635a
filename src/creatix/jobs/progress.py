"""How far a running batch is, from the engine to the job rows."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence

from creatix.jobs.events import Progress
from creatix.jobs.lifecycle import JobLifecycle
from creatix.kit.backoff import Outage

log = logging.getLogger(__name__)


class ProgressReporter:
    """An engine's ``ProgressCallback`` for one batch: records the latest progress (the
    fraction and, where the engine counts them, its step of its steps) on the batch's jobs,
    at most once per ``interval`` seconds, and announces it to other processes (a PostgreSQL
    notification, for their streams of job events) at most once per ``announce_interval``
    seconds; followers in this process hear of every write.

    A report without a step keeps the step last reported (a video engine's denoising steps
    are done while it writes the file), so followers never see the step vanish.

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
        self._latest: Progress | None = None
        self._written: Progress | None = None
        self._reported = asyncio.Event()

    def __call__(
        self, fraction: float, *, step: int | None = None, steps: int | None = None
    ) -> None:
        if fraction >= 1.0:
            return  # done: the completion that follows records it, in its own write
        if step is not None and steps is not None and steps > 0:
            progress = Progress(max(0.0, fraction), max(0, min(step, steps)), steps)
        else:
            progress = Progress(max(0.0, fraction))
        with contextlib.suppress(RuntimeError):  # the loop closed under a finishing thread
            self._loop.call_soon_threadsafe(self._note, progress)

    def _note(self, progress: Progress) -> None:
        latest = self._latest
        if progress.steps is None and latest is not None and latest.steps is not None:
            progress = Progress(progress.fraction, latest.step, latest.steps)
        self._latest = progress
        self._reported.set()

    async def run(self) -> None:
        """Write reports until cancelled."""
        while True:
            await self._reported.wait()
            self._reported.clear()
            progress = self._latest
            if progress is not None and progress != self._written:
                await self._write(progress)
            await asyncio.sleep(self._interval)

    async def _write(self, progress: Progress) -> None:
        self._written = progress
        now = time.monotonic()
        announce = self._announced_at is None or now - self._announced_at >= self._announce_interval
        if announce:
            self._announced_at = now
        try:
            await self._lifecycle.report_progress(
                self._job_ids, self._worker_id, progress, announce=announce
            )
        except Exception as exc:
            await asyncio.sleep(self._outage.failed(exc))
            return
        self._outage.recovered()
