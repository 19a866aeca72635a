"""The worker's loops: one claimer fills free slots with claimed batches or directly handed
jobs; each batch runs in its slot with a heartbeat extending its leases and a reporter
writing its progress; a requeue loop returns expired leases to the queue.

Leases are extended by a heartbeat while the engine runs; a worker that dies stops
heartbeating and its jobs go back to the queue when their leases expire. The database may go
away at any moment (a restart, a failover): every loop then backs off and logs one line when
it fails and one when it recovers (``Worker.outages``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Collection, Sequence

from creatix.jobs import health
from creatix.jobs.progress import ProgressReporter
from creatix.jobs.service import JobService
from creatix.jobs.specs import Job
from creatix.kit.backoff import Outage
from creatix.kit.clock import utcnow
from creatix.kit.logging import request_id_var
from creatix.provenance.service import OutputProvenance
from creatix.storage.base import Storage
from creatix.worker.checks import OutputChecks
from creatix.worker.outputs import Outputs
from creatix.worker.recording import Recorder
from creatix.worker.running import Lease, Running
from creatix.worker.runs import BatchRuns
from creatix.worker.slots import SlotPools

log = logging.getLogger(__name__)
MAX_BACKOFF_SECONDS = 30.0
MAX_CLAIM_BATCHES = 8
"""The most batches one claim leases (as many as the pool has free slots)."""


class Worker:
    def __init__(
        self,
        jobs: JobService,
        storage: Storage,
        *,
        concurrency: int = 2,
        lease_seconds: float = 30.0,
        poll_interval_seconds: float = 1.0,
        models: Collection[str] | None = None,
        provenance: OutputProvenance | None = None,
    ) -> None:
        self.jobs = jobs
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self.poll_interval_seconds = poll_interval_seconds
        self.models = frozenset(models) if models is not None else None
        """Only jobs of these catalog models are claimed (all when None)."""
        self.id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._engines = set(jobs.engines.max_batch_by_engine())
        self._slots = SlotPools(concurrency, jobs.engines.concurrency_by_engine())
        self._inflight: dict[asyncio.Task[None], list[str]] = {}
        self._claimer: asyncio.Task[None] | None = None
        self.outages = {
            name: Outage(what, log, cap=MAX_BACKOFF_SECONDS)
            for name, what in (
                ("claim", "claiming jobs"),
                ("heartbeat", "renewing leases"),
                ("requeue", "requeueing expired leases"),
                ("progress", "recording progress"),
                ("record", "recording job results"),
            )
        }
        """Each loop's view of the database, shared by the batches: one log line per
        change of state, however many batches or rounds fail."""
        recorder = Recorder(jobs, storage, self.id, self.outages["record"])
        outputs = Outputs(jobs, storage, recorder, provenance)
        self._runs = BatchRuns(jobs, recorder, outputs, OutputChecks(jobs, recorder))

    async def run(self) -> None:
        """Work until cancelled (or drained): claimed batches and directly handed jobs share
        the slots. Batches still running when it is cancelled are abandoned: their leases
        expire and other workers take them up."""
        log.info("worker started", extra={"worker": self.id, "concurrency": self.concurrency})
        requeuer = asyncio.create_task(self._requeue_loop())
        self._claimer = asyncio.create_task(self._claim_loop())
        if self.models is None:
            self.jobs.intake.attach_direct(self)
        try:
            await asyncio.wait({self._claimer})  # returns when the claimer ends (a drain)
            if not self._claimer.cancelled():
                self._claimer.result()  # the claim loop only ends by an error: raise it
            await asyncio.Event().wait()  # drained: the requeue loop goes on until cancelled
        finally:
            self.jobs.intake.detach_direct(self)
            for task in (requeuer, self._claimer, *self._inflight):
                task.cancel()
            await asyncio.gather(requeuer, *self._inflight, return_exceptions=True)

    async def drain(self, grace_seconds: float) -> None:
        """Stop taking work, let running batches finish for up to ``grace_seconds``, and give
        the jobs of those that did not back to the queue (no attempt spent)."""
        self.jobs.intake.detach_direct(self)
        if self._claimer is not None:
            self._claimer.cancel()
        running = set(self._inflight)
        if running:
            _, running = await asyncio.wait(running, timeout=grace_seconds)
        held = [job_id for task in running for job_id in self._inflight.get(task, [])]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        released = await self.jobs.lifecycle.release(held, self.id) if held else []
        log.info("worker drained", extra={"worker": self.id, "released": released})

    async def _claim_loop(self) -> None:
        outage = self.outages["claim"]
        while True:
            pools = self._slots.take_one_of_each()
            if not pools:
                await self._slots.wait_freed()
                continue
            engines = [engine for engine in self._engines if self._slots.pool(engine) in pools]
            # With one pool in play, every batch a claim returns is that pool's: take more of
            # its free slots and lease as many batches in the same statement.
            extra: list[str] = []
            if len(pools) == 1:
                [only] = pools
                extra = [only] * self._slots.take_up_to(only, MAX_CLAIM_BATCHES - 1)
            asked = time.monotonic()
            try:
                claim = await self.jobs.lifecycle.claim(
                    self.id, engines, self.models, batches=1 + len(extra)
                )
            except BaseException as exc:  # cancelled mid-claim too: the slots are not used
                for pool in [*pools, *extra]:
                    self._slots.release(pool)
                if not isinstance(exc, Exception):
                    raise
                await asyncio.sleep(outage.failed(exc))
                continue
            outage.recovered()
            used = self._slots.pool(claim.jobs[0].engine) if claim.jobs else None
            for pool in [*(pools - {used}), *extra[max(0, len(claim.batches) - 1) :]]:
                self._slots.release(pool)
            for batch in claim.batches:
                self._start(batch, asked)
            if not claim.more_queued:
                await self.jobs.events.wait_for_work(self.poll_interval_seconds)

    # DirectDispatch: the job core hands over a job it has already leased to this worker.

    def try_reserve(self, engine: str) -> bool:
        return engine in self._engines and self._slots.try_take(engine)

    def release(self, engine: str) -> None:
        self._slots.release(engine)

    def deliver(self, job: Job) -> None:
        # The lease was set moments ago, in the transaction that just committed the job.
        self._start([job], time.monotonic())

    def _start(self, batch: Sequence[Job], leased_at: float) -> None:
        """Process a batch in the slot already taken for it; its leases were set no earlier
        than ``leased_at`` (monotonic)."""
        task = asyncio.create_task(self._process_in_slot(batch, leased_at))
        self._inflight[task] = [job.id for job in batch]
        task.add_done_callback(self._inflight.pop)

    async def _requeue_loop(self) -> None:
        outage = self.outages["requeue"]
        interval = max(0.2, self.lease_seconds / 2)
        presence = health.WorkerPresence(
            self.id,
            socket.gethostname(),
            sorted(self.models) if self.models is not None else None,
            self.concurrency,
            utcnow(),
        )
        while True:
            try:
                await health.record_presence(self.jobs.db, presence)
                await self.jobs.lifecycle.requeue_expired()
            except Exception as exc:
                await asyncio.sleep(max(interval, outage.failed(exc)))
                continue
            outage.recovered()
            await asyncio.sleep(interval)

    async def _process_in_slot(self, batch: Sequence[Job], leased_at: float) -> None:
        # Everything logged for this batch (engine and provider calls included) carries the
        # request ids of the requests that submitted its jobs.
        request_id_var.set(",".join(sorted({j.request_id for j in batch if j.request_id})) or None)
        try:
            log.info(
                "processing jobs",
                extra={"jobs": [j.id for j in batch], "model": batch[0].model, "worker": self.id},
            )
            await self.process(batch, leased_at)
        except Exception:
            # The batch's leases expire and its jobs are retried; this worker goes on.
            log.exception("processing a batch failed", extra={"jobs": [j.id for j in batch]})
        finally:
            self._slots.release(batch[0].engine)

    async def process(self, batch: Sequence[Job], leased_at: float | None = None) -> None:
        """Run a batch leased to this worker (no earlier than ``leased_at``, monotonic;
        default now) to its end."""
        job_ids = [job.id for job in batch]
        progress = ProgressReporter(
            self.jobs.lifecycle, job_ids, self.id, outage=self.outages["progress"]
        )
        lease = Lease(self.lease_seconds, time.monotonic() if leased_at is None else leased_at)
        lost = asyncio.Event()
        helpers = [
            asyncio.create_task(self._heartbeat(job_ids, lost, lease)),
            asyncio.create_task(progress.run()),
        ]
        try:
            await self._runs.run(batch, Running(progress, lost, lease))
        finally:
            for helper in helpers:
                helper.cancel()
            for helper in helpers:
                with contextlib.suppress(asyncio.CancelledError):
                    await helper

    async def _heartbeat(self, job_ids: list[str], lost: asyncio.Event, lease: Lease) -> None:
        """Extend the batch's leases until cancelled, moving ``lease`` on; set ``lost`` once
        none is held any more (the jobs were canceled, or their leases expired and went to
        another worker). While the database is unavailable, retry sooner than every third
        of the lease (backing off up to that), to renew as soon as it is back."""
        outage = self.outages["heartbeat"]
        every = self.lease_seconds / 3
        delay = every
        while True:
            await asyncio.sleep(delay)
            asked = time.monotonic()
            try:
                held = await self.jobs.lifecycle.heartbeat(job_ids, self.id)
            except Exception as exc:
                delay = min(every, outage.failed(exc))
                continue
            outage.recovered()
            delay = every
            if held:
                lease.renewed(asked)
            else:
                lost.set()
