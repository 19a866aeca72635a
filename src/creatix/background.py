"""What runs in a process beside (or instead of) the API: the worker, the webhook deliverer,
the sweeper of orphaned outputs and the listener for other processes' wake-ups (PostgreSQL's
``LISTEN``; on SQLite, ``kit/local_bus.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection, Coroutine
from typing import Any

from creatix.adsets.assembler import AdSetAssembler
from creatix.jobs.sweeper import OrphanSweeper
from creatix.kit.local_bus import LocalListener
from creatix.kit.notify import FINISHED_CHANNEL, JOBS_CHANNEL, PROGRESS_CHANNEL, Listener
from creatix.runtime import Runtime
from creatix.worker import Worker

log = logging.getLogger(__name__)


class BackgroundWork:
    def __init__(
        self, runtime: Runtime, *, worker: bool, models: Collection[str] | None = None
    ) -> None:
        self.runtime = runtime
        self.worker: Worker | None = runtime.worker(models) if worker else None
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        runtime = self.runtime
        if runtime.db.is_sqlite:
            database = runtime.db.engine.url.database
            self._spawn("listener", LocalListener(database, self._handlers()).run())
        else:
            self._spawn("listener", self._listener().run())
        if self.worker is not None:
            self._spawn("worker", self.worker.run())
            self._spawn("deliverer", runtime.deliverer().run())
            self._spawn("ad-sets", self._assembler().run())
            sweeper = self._sweeper()
            if sweeper is not None:
                self._spawn("sweeper", sweeper.run())

    def _assembler(self) -> AdSetAssembler:
        """The ad sets' layout step, beside the worker that makes their parts."""
        runtime = self.runtime
        return AdSetAssembler(
            runtime.jobs,
            runtime.storage,
            runtime.provenance,
            poll_interval_seconds=runtime.settings.poll_interval_seconds,
        )

    def _sweeper(self) -> OrphanSweeper | None:
        settings = self.runtime.settings
        if not settings.orphan_sweep_interval_seconds:
            return None
        return OrphanSweeper(
            self.runtime.db,
            self.runtime.storage,
            grace_seconds=settings.orphan_grace_seconds,
            interval_seconds=settings.orphan_sweep_interval_seconds,
        )

    def _handlers(self) -> dict[str, Callable[[str], None]]:
        jobs = self.runtime.jobs

        def finished(job_id: str) -> None:
            self._spawn("finished", jobs.finished_elsewhere(job_id), keep=False)

        return {
            JOBS_CHANNEL: jobs.queued_elsewhere,
            FINISHED_CHANNEL: finished,
            PROGRESS_CHANNEL: jobs.progressed_elsewhere,
        }

    def _listener(self) -> Listener:
        return Listener(
            self.runtime.settings.resolved_database_url,
            self._handlers(),
            on_reconnect=self.runtime.jobs.events.job_submitted,
        )

    def _spawn(self, name: str, work: Coroutine[Any, Any, None], *, keep: bool = True) -> None:
        task = asyncio.create_task(work)
        task.add_done_callback(lambda done: _report_exit(name, done))
        if keep:
            self._tasks.append(task)

    async def stop(self, drain_seconds: float) -> None:
        """Drain the worker (running jobs finish or go back to the queue), then stop all."""
        if self.worker is not None:
            await self.worker.drain(drain_seconds)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _report_exit(name: str, task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background %s stopped", name, exc_info=task.exception())
