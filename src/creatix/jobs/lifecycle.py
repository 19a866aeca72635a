"""What happens to a job once it is queued: claim, heartbeat, report_progress, complete,
complete_text, fail, release, cancel and requeue_expired, and the settlement every end does.

Every state change is one transaction that checks the state it expects, so a job finishes
exactly once however often it is retried or its worker dies.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import event
from sqlalchemy.orm import Session

from creatix.billing import ledger, prices, quotas
from creatix.catalog.schemas import Catalog
from creatix.engines.registry import EngineRegistry
from creatix.jobs import repository
from creatix.jobs.events import STARTED, JobEvents, Progress, progress_payloads
from creatix.jobs.group_commit import GroupCommit
from creatix.jobs.models import JobRow
from creatix.jobs.records import THUMBNAIL, QueueSettings, to_job
from creatix.jobs.repository import JobRecord
from creatix.jobs.specs import (
    Asset,
    Job,
    JobError,
    JobKind,
    JobStatus,
    StoredOutput,
    TextResult,
)
from creatix.kit.clock import utcnow
from creatix.kit.db import Database
from creatix.kit.errors import NotFound
from creatix.kit.ids import new_uuid
from creatix.kit.metrics import Metrics
from creatix.kit.notify import (
    FINISHED_CHANNEL,
    JOBS_CHANNEL,
    PROGRESS_CHANNEL,
    notify,
    notify_many,
)
from creatix.provenance import repository as provenance
from creatix.usage import service as usage
from creatix.webhooks import outbox

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Claim:
    batches: list[list[Job]]
    """Each a batch one engine call can serve together."""
    more_queued: bool
    """Other queued jobs remain, so the claimer should not wait for a wake-up."""

    @property
    def jobs(self) -> list[Job]:
        """Every job claimed, batch after batch (one batch unless more were asked for)."""
        return [job for batch in self.batches for job in batch]


@dataclass(frozen=True)
class Completion:
    """A job's outputs, for ``complete_many``: what ``complete`` takes."""

    job_id: str
    outputs: Sequence[StoredOutput]
    engine_seconds: float
    engine: str | None = None
    """The instance that made them, when a fallback route did."""


class JobLifecycle:
    """What is done to a job once it exists: a worker's claim, heartbeat, progress,
    completion, failure and release; the owner's cancel; the requeue of dead workers'
    jobs. Every end settles the job in its own transaction (``_ended``)."""

    def __init__(
        self,
        db: Database,
        catalog: Catalog,
        engines: EngineRegistry,
        events: JobEvents,
        settings: QueueSettings,
        *,
        metrics: Metrics,
    ) -> None:
        self.db = db
        self.catalog = catalog
        self.engines = engines
        self.events = events
        self.settings = settings
        self.metrics = metrics
        self._completions: GroupCommit[tuple[str, Completion], bool] = GroupCommit(
            self._complete_group
        )
        """Concurrent completions in this process share a transaction."""

    async def claim(
        self,
        worker_id: str,
        engines: Collection[str] | None = None,
        models: Collection[str] | None = None,
        *,
        batches: int = 1,
    ) -> Claim:
        """Lease a batch of queued jobs that one engine call can serve together, of the given
        engine instances (default: all) and models (default: all); up to ``batches`` such
        batches in the same statement."""
        max_batch = {
            instance: size
            for instance, size in self.engines.max_batch_by_engine().items()
            if engines is None or instance in engines
        }
        if not max_batch:
            return Claim(batches=[], more_queued=False)
        now = utcnow()

        def claim(session: Session) -> Claim:
            leased = repository.claim_batches(
                session,
                worker_id=worker_id,
                max_batch=max_batch,
                lease_until=self.settings.lease_until(),
                now=now,
                batches=batches,
                models=models,
            )
            more = bool(leased) and repository.any_queued(session, list(max_batch), models)
            _announce_progress(session, [row.id for rows in leased for row in rows], STARTED)
            return Claim(
                batches=[[to_job(row) for row in rows] for rows in leased], more_queued=more
            )

        claimed = await self.db.write(claim)
        self.events.job_progressed([job.id for job in claimed.jobs], STARTED)
        return claimed

    async def heartbeat(self, job_ids: Sequence[str], worker_id: str) -> set[str]:
        return await self.db.write(
            lambda session: repository.extend_leases(
                session, job_ids, worker_id, self.settings.lease_until()
            )
        )

    async def report_progress(
        self, job_ids: Sequence[str], worker_id: str, progress: Progress, *, announce: bool = True
    ) -> set[str]:
        """Record how far the engine is with these jobs; the ids this worker still holds.
        Followers in this process hear of it; with ``announce``, those in other processes
        too (a notification on PostgreSQL)."""

        def record(session: Session) -> set[str]:
            held = repository.set_progress(
                session,
                job_ids,
                worker_id,
                progress.fraction,
                step=progress.step,
                steps=progress.steps,
            )
            if announce:
                _announce_progress(session, sorted(held), progress)
            return held

        held = await self.db.write(record)
        self.events.job_progressed(held, progress)
        return held

    async def complete(
        self,
        job_id: str,
        worker_id: str,
        outputs: Sequence[StoredOutput],
        engine_seconds: float,
        engine: str | None = None,
    ) -> bool:
        """Record the outputs and end the job; False when this worker no longer held it.
        ``engine`` is the instance that made them, when a fallback route did.

        Completions made while another is being committed share the next transaction
        (``GroupCommit``); each job is still settled on its own."""
        completion = Completion(job_id, outputs, engine_seconds, engine)
        return await self._completions.submit((worker_id, completion))

    async def _complete_group(self, items: Sequence[tuple[str, Completion]]) -> list[bool]:
        return await self._complete(items)

    async def complete_many(self, worker_id: str, completions: Sequence[Completion]) -> list[bool]:
        """Complete several jobs this worker holds in one transaction: for each, whether it
        was still held (and is now succeeded). Each job is settled exactly as ``complete``
        settles it; if anything fails, nothing of the transaction is recorded."""
        return await self._complete([(worker_id, completion) for completion in completions])

    async def _complete(self, items: Sequence[tuple[str, Completion]]) -> list[bool]:
        now = utcnow()

        def finish(session: Session) -> list[Job | None]:
            # Job rows first (each only its leaseholder's; those ending alike in one
            # statement); then the settlements in account order: concurrent groups take the
            # shared rows (balances, usage rollups) in one order, and never deadlock.
            alike: dict[tuple[str, str | None, float, int], list[int]] = {}
            for index, (worker_id, completion) in enumerate(items):
                made = sum(1 for output in completion.outputs if output.kind != THUMBNAIL)
                key = (worker_id, completion.engine, completion.engine_seconds, made)
                alike.setdefault(key, []).append(index)
            rows: dict[int, JobRecord] = {}
            for (worker_id, engine, engine_seconds, made), indexes in sorted(
                alike.items(), key=lambda pair: items[pair[1][0]][1].job_id
            ):
                values = _completed_values(engine, engine_seconds, made, now)
                by_job = {items[index][1].job_id: index for index in indexes}
                for row in repository.finish_leased_many(session, list(by_job), worker_id, values):
                    rows[by_job[row.id]] = row
            finished: list[Job | None] = [None] * len(items)
            together = _Together()
            for index in sorted(rows, key=lambda index: (rows[index].account_id, index)):
                finished[index] = self._ended_with_outputs(
                    session, rows[index], items[index][1].outputs, now, together
                )
            together.write(session)
            return finished

        finished = await self.db.write(finish)
        for job in finished:
            if job is not None:
                self.events.job_finished(job)
        return [job is not None for job in finished]

    def _ended_with_outputs(
        self,
        session: Session,
        row: JobRecord,
        outputs: Sequence[StoredOutput],
        now: datetime,
        together: _Together,
    ) -> Job:
        """End a job that made ``outputs``; its asset rows, usage and notification join
        ``together``, for the caller to write with those of the others."""
        made = sum(1 for output in outputs if output.kind != THUMBNAIL)
        self._ended(session, row, now, outputs=made, together=together)
        assets = [
            Asset(id=new_uuid(), job_id=row.id, index=index, **output.model_dump())
            for index, output in enumerate(outputs)
        ]
        together.assets.extend(
            {**asset.model_dump(), "account_id": row.account_id, "created_at": now}
            for asset in assets
        )
        return to_job(row, assets)

    async def complete_text(
        self,
        job_id: str,
        worker_id: str,
        result: TextResult,
        engine_seconds: float,
        engine: str | None = None,
    ) -> bool:
        """Record a text job's answer and charge its tokens; False when this worker no longer
        held it. ``engine`` is the instance that answered, when a fallback route did."""
        now = utcnow()

        def finish(session: Session) -> Job | None:
            current = repository.job(session, job_id)
            if current is None:
                return None
            model = self.catalog.model(current.model)
            price = prices.text_charge(model, result) if model is not None else 0
            values: dict[str, object] = {"engine": engine} if engine else {}
            values |= {
                "status": JobStatus.SUCCEEDED,
                "finished_at": now,
                "engine_seconds": engine_seconds,
                "progress": 1.0,
                "output_text": result.text,
                "input_tokens": result.input_tokens,
                "output_tokens": result.output_tokens,
                # The reservation was the most the answer could cost; never charge beyond it.
                "credits_charged": min(price, current.credits_reserved),
            }
            row = repository.finish_leased(session, job_id, worker_id, values)
            if row is None:
                return None
            self._ended(session, row, now)
            provenance.record_text(session, job_id, result.text, now)
            return to_job(row)

        finished = await self.db.write(finish)
        if finished is None:
            return False
        self.events.job_finished(finished)
        return True

    async def fail(
        self,
        job_id: str,
        worker_id: str,
        error: JobError,
        *,
        retryable: bool,
        engine_seconds: float | None = None,
    ) -> JobStatus | None:
        """Requeue the job if it may be retried, else end it failed; None if the lease was lost."""

        def fail(session: Session) -> Job | None:
            current = repository.job(session, job_id)
            if current is None:
                return None
            if retryable and current.attempts < current.max_attempts:
                requeue = {
                    "status": JobStatus.QUEUED,
                    "progress": None,
                    "error_code": error.code,
                    "error_message": error.message,
                }
                row = repository.finish_leased(session, job_id, worker_id, requeue)
                if row is not None:
                    notify(session, JOBS_CHANNEL, row.engine)
            else:
                failed = self._failed_values(error, engine_seconds)
                row = repository.finish_leased(session, job_id, worker_id, failed)
                if row is not None:
                    self._ended(session, row, utcnow())
            return None if row is None else to_job(row)

        job = await self.db.write(fail)
        if job is None:
            return None
        if job.status is JobStatus.QUEUED:
            self.events.job_submitted()
        else:
            self.events.job_finished(job)
        return job.status

    async def release(self, job_ids: Sequence[str], worker_id: str) -> list[str]:
        """Give jobs this worker holds back to the queue without spending an attempt (a
        worker shutting down); the ids released."""

        def release(session: Session) -> list[str]:
            rows = repository.release_leased(session, job_ids, worker_id)
            for row in rows:
                notify(session, JOBS_CHANNEL, row.engine)
            return [row.id for row in rows]

        released = await self.db.write(release)
        if released:
            self.events.job_submitted()
        return released

    async def cancel(self, job_id: str, account_id: str) -> Job:
        """End a queued or running job as canceled, refunding it in full.

        A worker still running it loses its lease, so its completion is refused and what it
        made is discarded. A job that already ended is returned as it is.
        """

        def cancel(session: Session) -> Job | None:
            canceled = self.cancel_unfinished_in(session, job_id, account_id)
            if canceled is not None:
                return canceled
            current = repository.job(session, job_id)
            if current is None or current.account_id != account_id or current.deleted_at:
                return None
            return to_job(current)

        job = await self.db.write(cancel)
        if job is None:
            raise NotFound(f"No job found with id '{job_id}'.", param="id")
        if job.status is JobStatus.CANCELED:
            self.events.job_finished(job)
        return job

    def cancel_unfinished_in(self, session: Session, job_id: str, account_id: str) -> Job | None:
        """``cancel`` in the caller's transaction: the job, ended canceled and refunded, or
        None when it was not the account's unfinished job. The caller tells
        ``events.job_finished`` once the transaction commits."""
        row = repository.cancel_unfinished(session, job_id, account_id, utcnow())
        if row is None:
            return None
        self._ended(session, row, utcnow())
        return to_job(row)

    async def requeue_expired(self) -> int:
        """Give the jobs of dead workers back to the queue, or fail those out of attempts."""

        def requeue(session: Session) -> tuple[list[str], list[Job]]:
            expired = repository.expired_leases(session, utcnow())
            failed: list[Job] = []
            for row in expired:
                row.lease_owner = None
                row.lease_expires_at = None
                row.progress = None
                if row.attempts < row.max_attempts:
                    row.status = JobStatus.QUEUED
                    notify(session, JOBS_CHANNEL, row.engine)
                    continue
                lost = JobError(
                    code="worker_lost",
                    message=f"The job's worker stopped responding {row.attempts} times.",
                )
                for key, value in self._failed_values(lost, None).items():
                    setattr(row, key, value)
                session.flush()
                self._ended(session, row, utcnow())
                failed.append(to_job(row))
            return [row.id for row in expired], failed

        expired, failed = await self.db.write(requeue)
        for job in failed:
            self.events.job_finished(job)
        if len(expired) > len(failed):
            self.events.job_submitted()
        if expired:
            failed_ids = [job.id for job in failed]
            log.warning("requeued expired leases", extra={"jobs": expired, "failed": failed_ids})
        return len(expired)

    @staticmethod
    def _failed_values(error: JobError, engine_seconds: float | None) -> dict[str, object]:
        return {
            "status": JobStatus.FAILED,
            "finished_at": utcnow(),
            "engine_seconds": engine_seconds,
            "error_code": error.code,
            "error_message": error.message,
            "credits_charged": 0,
        }

    def _ended(
        self,
        session: Session,
        row: JobRecord,
        now: datetime,
        *,
        outputs: int = 0,
        together: _Together | None = None,
    ) -> None:
        """What every job's end does, in the transaction that ends it: a job that did not
        succeed gives its quota back, one that made fewer images than it counted (the content
        policy dropped some) gives back the rest; the job is settled and counted in the usage rollup
        (``outputs``: the images or videos it made); its webhook is owed an event; it is
        counted in the metrics once the transaction commits. Its usage and its notification
        join ``together`` when given, for the caller to write with those of other jobs."""
        if row.status != JobStatus.SUCCEEDED:
            self._release_quota(session, row, row.quota_images)
        elif row.kind == JobKind.IMAGE and outputs < row.quota_images:
            self._release_quota(session, row, row.quota_images - outputs)
        self._settle(session, row, now)
        end = usage.JobEnd(
            account_id=row.account_id,
            key_id=row.key_id,
            model=row.model,
            kind=str(row.kind),
            ended_at=now,
            outputs=outputs if row.status == JobStatus.SUCCEEDED else 0,
            input_tokens=row.input_tokens or 0,
            output_tokens=row.output_tokens or 0,
            credits=self._charged(row),
        )
        alone = together is None
        together = _Together() if together is None else together
        together.ends.append(end)
        together.finished.append(row.id)
        if alone:
            together.write(session)
        count = functools.partial(
            self.metrics.job_ended,
            model=row.model,
            kind=str(row.kind),
            status=str(row.status),
            engine=row.engine,
            engine_seconds=row.engine_seconds,
        )
        event.listen(session, "after_commit", lambda _: count(), once=True)
        if row.webhook_url:
            outbox.enqueue(
                session,
                account_id=row.account_id,
                job_id=row.id,
                url=row.webhook_url,
                event_type=f"job.{row.status}",
                now=now,
            )

    @staticmethod
    def _settle(session: Session, row: JobRecord, now: datetime) -> None:
        """The job's one settlement: release its hold, charge what it produced."""
        ledger.settle(
            session,
            row.account_id,
            row.id,
            reserved=row.credits_reserved,
            charged=JobLifecycle._charged(row),
            now=now,
        )

    @staticmethod
    def _charged(row: JobRecord) -> int:
        """What the ended job is charged: what it produced, never beyond its reservation."""
        return min(row.credits_charged or 0, row.credits_reserved)

    @staticmethod
    def _release_quota(session: Session, row: JobRecord, images: int) -> None:
        if row.quota_period is not None and images > 0:
            quotas.release(session, row.account_id, row.quota_period, images)


@dataclass
class _Together:
    """What the ends of several jobs in one transaction write at once: their asset rows
    (one INSERT), usage (one upsert per distinct rollup row) and notifications (one
    statement)."""

    assets: list[dict[str, object]] = field(default_factory=list)
    ends: list[usage.JobEnd] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)

    def write(self, session: Session) -> None:
        repository.insert_assets(session, self.assets)
        usage.record_job_ends(session, self.ends)
        notify_many(session, FINISHED_CHANNEL, self.finished)


def _completed_values(
    engine: str | None, engine_seconds: float, made: int, now: datetime
) -> dict[str, object]:
    """A completed job row's values: ``made`` outputs (a video's thumbnail rides along with
    it, and is not charged on its own) by ``engine`` (when a fallback route's) in
    ``engine_seconds``."""
    values: dict[str, object] = {"engine": engine} if engine else {}
    return values | {
        "status": JobStatus.SUCCEEDED,
        "finished_at": now,
        "engine_seconds": engine_seconds,
        "progress": 1.0,
        "credits_charged": JobRow.credits_per_output * made,
    }


def _announce_progress(session: Session, job_ids: Sequence[str], progress: Progress) -> None:
    """Tell other processes (PostgreSQL) that these jobs are at ``progress``, at commit."""
    for payload in progress_payloads(job_ids, progress):
        notify(session, PROGRESS_CHANNEL, payload)
