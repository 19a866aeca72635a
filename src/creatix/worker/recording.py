"""Recording a job's end (complete, complete_text, fail) through a database that may go
away: each try is retried with jittered, capped backoff while the lease is known to be
held, so an engine's finished work survives a blip. When the lease is lost, what was stored
for the job is deleted. An attempt whose outcome is unknown (the connection died around its
commit) may have recorded the outputs, so the recorder asks which before deleting anything,
and leaves them to the orphan sweeper (``jobs/sweeper.py``) when the database does not
answer in time."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from creatix.engines.registry import ResolvedRoute
from creatix.jobs.service import JobService
from creatix.jobs.specs import Job, JobError, StoredOutput, TextResult
from creatix.kit.backoff import Outage, backoff_delay, is_transient
from creatix.kit.errors import NotFound
from creatix.storage.base import Storage
from creatix.worker.running import Lease

log = logging.getLogger(__name__)
T = TypeVar("T")
RECORDING_BACKOFF = (0.25, 5.0)
"""Base and cap of the backoff between attempts to record a job's end."""
MAX_RECORDING_SECONDS = 300.0
"""The longest a worker tries to record one job's end, however long heartbeats keep its
lease: well under the orphan sweeper's grace period (ten minutes at least)."""
CLEANUP_WINDOW_SECONDS = 60.0
"""After a batch's lease ran out with a job's outcome unknown: how long the worker keeps
asking whether its outputs were recorded, to delete them if not, before leaving them to
the orphan sweeper."""


class OutOfTime(Exception):
    """The database stayed unavailable until the deadline of what was being recorded."""


class Recorder:
    """Writes one worker's job ends, and the other writes a run needs once its engine has
    worked (marks, policy verdicts), retrying them through a database outage; ``outage``
    logs one line when recording starts failing and one when it recovers."""

    def __init__(self, jobs: JobService, storage: Storage, worker_id: str, outage: Outage):
        self.jobs = jobs
        self.storage = storage
        self.worker_id = worker_id
        self.outage = outage

    @staticmethod
    def deadline(lease: Lease, grace: float = 0.0) -> Callable[[], float]:
        """While recording is worth retrying: the lease is known to be held (and ``grace``
        seconds more), and for no longer than ``MAX_RECORDING_SECONDS`` from now."""
        cap = time.monotonic() + MAX_RECORDING_SECONDS
        return lambda: min(lease.expires + grace, cap)

    async def retrying(
        self, attempt: Callable[[], Awaitable[T]], deadline: Callable[[], float]
    ) -> tuple[T, int]:
        """``attempt``'s result, and how many tries of it failed before: a try that fails on
        a transient database error is retried with jittered, capped backoff until
        ``deadline()`` (read again each time: heartbeats move it), then ``OutOfTime``.
        Other errors propagate at once."""
        failures = 0
        while True:
            try:
                result = await attempt()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                self.outage.failed(exc)
                failures += 1
                remaining = deadline() - time.monotonic()
                if remaining <= 0:
                    raise OutOfTime from exc
                base, cap = RECORDING_BACKOFF
                await asyncio.sleep(min(remaining, backoff_delay(failures, base=base, cap=cap)))
                continue
            self.outage.recovered()
            return result, failures

    async def failed(
        self,
        batch: Sequence[Job],
        lease: Lease,
        error: JobError,
        retryable: bool,
        engine_seconds: float | None,
    ) -> None:
        """Record the failure of each job of the batch (retried while the lease holds)."""
        deadline = self.deadline(lease)
        for job in batch:
            fail = functools.partial(
                self.jobs.lifecycle.fail,
                job.id,
                self.worker_id,
                error,
                retryable=retryable,
                engine_seconds=engine_seconds,
            )
            try:
                await self.retrying(fail, deadline)
            except OutOfTime:
                log.warning(
                    "could not record a job's failure in time; it is retried once its "
                    "lease expires",
                    extra={"job": job.id, "error": error.code},
                )

    async def answered(
        self,
        job: Job,
        result: TextResult,
        engine_seconds: float,
        route: ResolvedRoute,
        lease: Lease,
    ) -> None:
        """Complete a text job with its answer (retried while the lease holds)."""
        engine = route.instance if route.instance != job.engine else None
        complete = functools.partial(
            self.jobs.lifecycle.complete_text,
            job.id,
            self.worker_id,
            result,
            engine_seconds,
            engine,
        )
        try:
            done, _ = await self.retrying(complete, self.deadline(lease))
        except OutOfTime:
            log.warning("could not record a text job's answer in time", extra={"job": job.id})
            return
        if not done:
            log.warning("lost the lease before completing", extra={"job": job.id})

    async def completed(
        self,
        job: Job,
        stored: list[StoredOutput],
        engine_seconds: float,
        route: ResolvedRoute,
        lease: Lease,
    ) -> None:
        """Complete the job with what was stored for it, retrying while the lease holds; when
        the lease was lost, delete what was stored."""
        engine = route.instance if route.instance != job.engine else None
        complete = functools.partial(
            self.jobs.lifecycle.complete, job.id, self.worker_id, stored, engine_seconds, engine
        )
        # Both deadlines count MAX_RECORDING_SECONDS from here.
        deadline = self.deadline(lease)
        cleanup = self.deadline(lease, grace=CLEANUP_WINDOW_SECONDS)
        try:
            done, failures = await self.retrying(complete, deadline)
        except OutOfTime:
            log.warning(
                "the database stayed unavailable until the job's lease ran out",
                extra={"job": job.id},
            )
        else:
            if done:
                return
            if not failures:
                log.warning("lost the lease before completing", extra={"job": job.id})
                await self.delete_keys([output.storage_key for output in stored])
                return

        # The lease ran out, or a retry was refused after a try whose outcome is unknown
        # (the connection died around its commit, which may have recorded these outputs).
        async def settle() -> bool:
            """Complete after all (no one requeued the job meanwhile), or find the outputs
            already recorded; False when the job went on without them."""
            if await complete():
                return True
            recorded = await self._recorded(job.id, [output.storage_key for output in stored])
            if recorded is None:
                return False
            log.info("an earlier try had completed the job", extra={"job": job.id})
            self.jobs.events.job_finished(recorded)
            return True

        await self._settle_or_delete(job, stored, settle, cleanup)

    async def _settle_or_delete(
        self,
        job: Job,
        stored: list[StoredOutput],
        settle: Callable[[], Awaitable[bool]],
        deadline: Callable[[], float],
    ) -> None:
        """Delete what was stored unless ``settle`` finds it recorded; leave it to the orphan
        sweeper when the database does not answer before ``deadline``."""
        keys = [output.storage_key for output in stored]
        try:
            kept, _ = await self.retrying(settle, deadline)
        except OutOfTime:
            log.warning(
                "could not learn whether a job's outputs were recorded; the orphan sweeper "
                "deletes them later if they were not",
                extra={"job": job.id, "keys": keys},
            )
            return
        if not kept:
            log.warning("lost the lease before completing", extra={"job": job.id})
            await self.delete_keys(keys)

    async def _recorded(self, job_id: str, keys: Sequence[str]) -> Job | None:
        """The job, when its assets are these stored outputs (this worker completed it)."""
        try:
            job = await self.jobs.get(job_id)
        except NotFound:  # deleted by its owner since, with its asset rows
            return None
        named = {asset.storage_key for asset in job.assets}
        return job if named.intersection(keys) else None

    async def delete_keys(self, keys: Sequence[str]) -> None:
        """Delete stored objects no row will name; one the storage refuses to delete now is
        left to the orphan sweeper."""
        for key in keys:
            try:
                await self.storage.delete(key)
            except Exception:
                log.warning("could not delete a stored output", extra={"key": key}, exc_info=True)
