"""The job core: submit, claim, heartbeat, complete, fail, requeue, get and wait.

Every state change is one transaction that checks the state it expects, so a job finishes
exactly once however often it is retried or its worker dies.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from creatix.accounts.schemas import Principal
from creatix.billing import quotas
from creatix.catalog.schemas import Catalog, ModelEntry
from creatix.engines.base import EngineRejected
from creatix.engines.registry import EngineRegistry
from creatix.jobs import repository
from creatix.jobs.events import JobEvents
from creatix.jobs.models import AssetRow, JobRow
from creatix.jobs.specs import (
    Asset,
    ImageSpec,
    Job,
    JobError,
    JobKind,
    JobStatus,
    StoredOutput,
)
from creatix.kit.clock import utcnow
from creatix.kit.db import Database
from creatix.kit.errors import InvalidRequest, NotFound, Unavailable
from creatix.kit.ids import new_id

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueueSettings:
    lease_seconds: float = 30.0
    poll_interval_seconds: float = 1.0
    max_attempts: int = 3


def _to_asset(row: AssetRow) -> Asset:
    return Asset.model_validate(row, from_attributes=True)


def _to_job(row: JobRow, assets: Sequence[AssetRow] = ()) -> Job:
    error = (
        JobError(code=row.error_code, message=row.error_message or "") if row.error_code else None
    )
    return Job(
        id=row.id,
        account_id=row.account_id,
        kind=JobKind(row.kind),
        model=row.model,
        engine=row.engine,
        spec=ImageSpec.model_validate(row.spec),
        status=JobStatus(row.status),
        attempts=row.attempts,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        engine_seconds=row.engine_seconds,
        error=error,
        assets=[_to_asset(a) for a in assets],
    )


class JobService:
    def __init__(
        self,
        db: Database,
        catalog: Catalog,
        engines: EngineRegistry,
        events: JobEvents,
        settings: QueueSettings,
    ) -> None:
        self.db = db
        self.catalog = catalog
        self.engines = engines
        self.events = events
        self.settings = settings

    # -- submitting --------------------------------------------------------------------------

    def _checked_model(self, model_id: str, kind: JobKind) -> ModelEntry:
        model = self.catalog.model(model_id)
        if model is None or model.kind != kind:
            raise InvalidRequest(
                f"The model '{model_id}' does not exist or is not a {kind} model.",
                param="model",
                code="model_not_found",
            )
        return model

    def _prepared_image_spec(self, model: ModelEntry, spec: ImageSpec) -> ImageSpec:
        limits = model.limits
        if spec.n > limits.max_n:
            raise InvalidRequest(f"n must be at most {limits.max_n} for {model.id}.", param="n")
        if len(spec.prompt) > limits.max_prompt_chars:
            raise InvalidRequest(
                f"prompt must be at most {limits.max_prompt_chars} characters.", param="prompt"
            )
        for side in (spec.width, spec.height):
            if not limits.min_side <= side <= limits.max_side:
                raise InvalidRequest(
                    f"{model.id} makes images {limits.min_side} to {limits.max_side} pixels "
                    f"a side; {spec.width}x{spec.height} is outside that.",
                    param="size",
                )
        if spec.style is None:
            return spec
        style = self.catalog.style(spec.style)
        if style is None:
            known = ", ".join(s.id for s in self.catalog.styles)
            raise InvalidRequest(
                f"Unknown style '{spec.style}'. Known styles: {known}.", param="style"
            )
        negatives = [p for p in (spec.negative_prompt, style.negative_prompt) if p]
        return spec.model_copy(
            update={
                "prompt": style.apply(spec.prompt),
                "negative_prompt": ", ".join(negatives) or None,
            }
        )

    async def submit_image(self, principal: Principal, model_id: str, spec: ImageSpec) -> Job:
        """Check, count against the quota and enqueue, in one transaction."""
        model = self._checked_model(model_id, JobKind.IMAGE)
        engine = self.engines.engine_for(model)
        spec = self._prepared_image_spec(model, spec)
        engine_model = model.engine_model or model.id
        try:
            engine.validate(engine_model, spec)
        except EngineRejected as exc:
            raise InvalidRequest(str(exc), param=exc.param, code=exc.code) from exc
        plan = self.catalog.plan(principal.plan)
        if plan is None:
            raise Unavailable(f"The account's plan '{principal.plan}' is not in the catalog.")
        now = utcnow()
        row = JobRow(
            id=new_id("job"),
            account_id=principal.account_id,
            kind=JobKind.IMAGE,
            model=model.id,
            engine=model.engine,
            batch_key=f"{model.engine}:{engine.batch_key(engine_model, spec)}",
            spec=spec.model_dump(mode="json"),
            status=JobStatus.QUEUED,
            attempts=0,
            max_attempts=self.settings.max_attempts,
            quota_images=spec.n,
            created_at=now,
        )
        async with self.db.write() as session:
            row.quota_period = await quotas.reserve(
                session, principal.account_id, plan, spec.n, now
            )
            session.add(row)
        self.events.job_submitted()
        return _to_job(row)

    # -- reading and waiting -----------------------------------------------------------------

    async def get(self, job_id: str, account_id: str | None = None) -> Job:
        async with self.db.read() as session:
            row = await repository.job(session, job_id)
            if row is None or (account_id is not None and row.account_id != account_id):
                raise NotFound(f"No job found with id '{job_id}'.", param="id")
            return _to_job(row, await repository.assets_of(session, job_id))

    async def wait(self, job_id: str, timeout: float) -> Job:
        """The job once it has ended, or as it stands when ``timeout`` runs out.

        Wakes on the in-process completion event; the periodic re-read only serves jobs that
        a worker in another process completes.
        """
        deadline = time.monotonic() + timeout
        with self.events.watch(job_id) as finished:
            while True:
                job = await self.get(job_id)
                remaining = deadline - time.monotonic()
                if job.status.is_terminal or remaining <= 0:
                    return job
                try:
                    await asyncio.wait_for(
                        finished.wait(), min(remaining, self.settings.poll_interval_seconds)
                    )
                except TimeoutError:
                    continue

    # -- the worker's side -------------------------------------------------------------------

    def _lease_until(self) -> timedelta:
        return timedelta(seconds=self.settings.lease_seconds)

    async def claim(self, worker_id: str) -> list[Job]:
        """Lease a batch of queued jobs that one engine call can serve together."""
        max_batch = self.engines.max_batch_by_engine()
        if not max_batch:
            return []
        now = utcnow()
        async with self.db.write() as session:
            rows = await repository.claim_batch(
                session,
                worker_id=worker_id,
                max_batch=max_batch,
                lease_until=now + self._lease_until(),
                now=now,
            )
        return [_to_job(row) for row in rows]

    async def heartbeat(self, job_ids: Sequence[str], worker_id: str) -> set[str]:
        async with self.db.write() as session:
            return await repository.extend_leases(
                session, job_ids, worker_id, utcnow() + self._lease_until()
            )

    async def complete(
        self,
        job_id: str,
        worker_id: str,
        outputs: Sequence[StoredOutput],
        engine_seconds: float,
    ) -> bool:
        """Record the outputs and end the job; False when this worker no longer held it."""
        now = utcnow()
        async with self.db.write() as session:
            row = await repository.finish_leased(
                session,
                job_id,
                worker_id,
                {
                    "status": JobStatus.SUCCEEDED,
                    "finished_at": now,
                    "engine_seconds": engine_seconds,
                },
            )
            if row is None:
                return False
            session.add_all(
                AssetRow(
                    id=new_id("asset"),
                    job_id=job_id,
                    account_id=row.account_id,
                    index=index,
                    created_at=now,
                    **output.model_dump(),
                )
                for index, output in enumerate(outputs)
            )
        self.events.job_finished(job_id)
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
        async with self.db.write() as session:
            current = await repository.job(session, job_id)
            if current is None:
                return None
            if retryable and current.attempts < current.max_attempts:
                values = {
                    "status": JobStatus.QUEUED,
                    "error_code": error.code,
                    "error_message": error.message,
                }
                row = await repository.finish_leased(session, job_id, worker_id, values)
                outcome = JobStatus.QUEUED
            else:
                row = await repository.finish_leased(
                    session, job_id, worker_id, self._failed_values(error, engine_seconds)
                )
                if row is not None:
                    await self._release_quota(session, row)
                outcome = JobStatus.FAILED
        if row is None:
            return None
        if outcome is JobStatus.QUEUED:
            self.events.job_submitted()
        else:
            self.events.job_finished(job_id)
        return outcome

    async def requeue_expired(self) -> int:
        """Give the jobs of dead workers back to the queue, or fail those out of attempts."""
        now = utcnow()
        failed: list[str] = []
        async with self.db.write() as session:
            expired = await repository.expired_leases(session, now)
            for row in expired:
                row.lease_owner = None
                row.lease_expires_at = None
                if row.attempts < row.max_attempts:
                    row.status = JobStatus.QUEUED
                    continue
                lost = JobError(
                    code="worker_lost",
                    message=f"The job's worker stopped responding {row.attempts} times.",
                )
                for key, value in self._failed_values(lost, None).items():
                    setattr(row, key, value)
                await self._release_quota(session, row)
                failed.append(row.id)
        for job_id in failed:
            self.events.job_finished(job_id)
        if len(expired) > len(failed):
            self.events.job_submitted()
        if expired:
            log.warning("requeued expired leases", extra={"jobs": [r.id for r in expired]})
        return len(expired)

    @staticmethod
    def _failed_values(error: JobError, engine_seconds: float | None) -> dict[str, object]:
        return {
            "status": JobStatus.FAILED,
            "finished_at": utcnow(),
            "engine_seconds": engine_seconds,
            "error_code": error.code,
            "error_message": error.message,
        }

    @staticmethod
    async def _release_quota(session: AsyncSession, row: JobRow) -> None:
        if row.quota_period is not None:
            await quotas.release(session, row.account_id, row.quota_period, row.quota_images)
