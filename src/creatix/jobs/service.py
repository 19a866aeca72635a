"""The job core: submit, claim, heartbeat, complete, fail, requeue, get and wait.

Every state change is one transaction that checks the state it expects, so a job finishes
exactly once however often it is retried or its worker dies.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from creatix.accounts.models import ApiKey
from creatix.accounts.schemas import Principal
from creatix.billing import ledger, prices, quotas
from creatix.catalog.schemas import Catalog, ModelEntry
from creatix.engines.base import EngineRejected
from creatix.engines.registry import EngineRegistry, ResolvedRoute
from creatix.jobs import repository
from creatix.jobs.events import JobEvents
from creatix.jobs.models import IdempotencyRecord, JobRow
from creatix.jobs.repository import JobRecord
from creatix.jobs.specs import (
    Asset,
    IdempotencyKey,
    ImageSpec,
    Job,
    JobError,
    JobKind,
    JobScope,
    JobStatus,
    StoredOutput,
    TextResult,
    TextSpec,
    VideoSpec,
)
from creatix.kit.clock import utcnow
from creatix.kit.db import Database
from creatix.kit.errors import (
    Conflict,
    Forbidden,
    InsufficientCredits,
    InvalidRequest,
    NotFound,
    Unavailable,
)
from creatix.kit.ids import new_id, new_uuid
from creatix.kit.logging import request_id_var
from creatix.kit.metrics import Metrics
from creatix.kit.notify import FINISHED_CHANNEL, JOBS_CHANNEL, notify
from creatix.policy.moderation import ModerationEngine
from creatix.policy.service import ContentPolicy
from creatix.uploads import repository as uploads_repository
from creatix.usage import service as usage
from creatix.webhooks import outbox

log = logging.getLogger(__name__)
T = TypeVar("T")
IDEMPOTENCY_WINDOW = timedelta(hours=24)
THUMBNAIL = "thumbnail"
MAX_OFFSET = repository.MAX_OFFSET
"""The largest list offset a database takes: the bound of the dialects' paging parameters."""
SPEC_TYPES: dict[JobKind, type[ImageSpec | TextSpec | VideoSpec]] = {
    JobKind.IMAGE: ImageSpec,
    JobKind.TEXT: TextSpec,
    JobKind.VIDEO: VideoSpec,
}


@dataclass(frozen=True)
class Claim:
    jobs: list[Job]
    more_queued: bool
    """Other queued jobs remain, so the claimer should not wait for a wake-up."""


class DirectDispatch(Protocol):
    """A worker in this process that can take a job the moment it is submitted.

    When one has a free slot, the job is inserted already leased to it, in the transaction
    that enqueues it, and handed over in memory: no claim transaction, no wake-up. Under
    load its slots are full and jobs queue (and batch) as usual. The lease and heartbeat
    make this as crash-safe as a claim.
    """

    id: str

    def try_reserve(self, engine: str) -> bool:
        """Take a free slot for a job of this engine, or say there is none."""
        ...

    def release(self, engine: str) -> None:
        """Give back a slot reserved for a job that was not enqueued after all."""
        ...

    def deliver(self, job: Job) -> None:
        """Start the job, leased to this worker, in the reserved slot."""
        ...


@dataclass(frozen=True)
class QueueSettings:
    lease_seconds: float = 30.0
    poll_interval_seconds: float = 1.0
    max_attempts: int = 3


def _visible(row: JobRow, account_id: str | None, scope: JobScope | None) -> bool:
    """Whether a read for ``account_id`` (any account: None) in ``scope`` may see ``row``."""
    if row.deleted_at is not None:
        return False
    if account_id is not None and row.account_id != account_id:
        return False
    return scope is None or scope.covers(row.source, row.kind)


def _to_job(row: JobRecord, assets: Sequence[Asset] = ()) -> Job:
    error = (
        JobError(code=row.error_code, message=row.error_message or "") if row.error_code else None
    )
    kind = JobKind(row.kind)
    text = (
        TextResult(
            text=row.output_text,
            input_tokens=row.input_tokens or 0,
            output_tokens=row.output_tokens or 0,
        )
        if row.output_text is not None
        else None
    )
    return Job(
        id=row.id,
        account_id=row.account_id,
        source=row.source,
        webhook_url=row.webhook_url,
        request_id=row.request_id,
        kind=kind,
        model=row.model,
        engine=row.engine,
        spec=SPEC_TYPES[kind].model_validate(row.spec),
        text=text,
        status=JobStatus(row.status),
        attempts=row.attempts,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        engine_seconds=row.engine_seconds,
        progress=row.progress,
        error=error,
        credits_reserved=row.credits_reserved,
        credits_charged=row.credits_charged,
        assets=list(assets),
    )


class JobService:
    def __init__(
        self,
        db: Database,
        catalog: Catalog,
        engines: EngineRegistry,
        events: JobEvents,
        settings: QueueSettings,
        *,
        metrics: Metrics | None = None,
        moderation: ModerationEngine | None = None,
    ) -> None:
        self.db = db
        self.catalog = catalog
        self.engines = engines
        self.events = events
        self.settings = settings
        self.metrics = metrics or Metrics()
        self._direct: DirectDispatch | None = None
        self.policy = ContentPolicy(db, catalog, self.metrics, moderation)

    def attach_direct(self, worker: DirectDispatch) -> None:
        self._direct = worker

    def detach_direct(self, worker: DirectDispatch) -> None:
        if self._direct is worker:
            self._direct = None

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
        long_side = model.long_side(spec.engine_params)
        if long_side is not None and max(spec.width, spec.height) < long_side:
            raise InvalidRequest(
                f"{model.id} is priced here for images {long_side} pixels on the long side; "
                f"{spec.width}x{spec.height} is smaller. Choose the resolution of that size.",
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

    async def submit_image(
        self,
        principal: Principal,
        model_id: str,
        spec: ImageSpec,
        *,
        source: str = "creatix_v1",
        webhook_url: str | None = None,
        idempotency: IdempotencyKey | None = None,
    ) -> Job:
        """Check, price, count against the quota, reserve credits and enqueue, in one
        transaction. With an idempotency key seen in the last 24 hours for the same request,
        the job that key created instead (finished or not), and nothing is charged again."""
        model = self._checked_model(model_id, JobKind.IMAGE)
        await self.policy.check_request(
            principal,
            source,
            {"prompt": spec.prompt, "negative_prompt": spec.negative_prompt or ""},
        )
        route = self.engines.route_for(model)
        spec = self._prepared_image_spec(model, spec)
        try:
            route.image_engine.validate(route.engine_model, spec)
        except EngineRejected as exc:
            raise InvalidRequest(str(exc), param=exc.param, code=exc.code) from exc
        plan = self.catalog.plan(principal.plan)
        if plan is None:
            raise Unavailable(f"The account's plan '{principal.plan}' is not in the catalog.")
        per_image = 0 if principal.unlimited else prices.credits_per_image(model, spec)
        row = self._job_row(
            principal,
            model,
            route,
            spec,
            batch_key=route.image_engine.batch_key(route.engine_model, spec),
            source=source,
            webhook_url=webhook_url,
            quota_images=spec.n,
            credits_per_output=per_image,
            credits_reserved=per_image * spec.n,
        )

        def prepare(session: Session) -> None:
            if spec.input_image is not None:
                self._check_input_image(session, principal, model, spec.input_image)
            row.quota_period = quotas.reserve(
                session, principal.account_id, plan, spec.n, row.created_at
            )

        return await self._enqueue(principal, row, idempotency, prepare)

    async def submit_text(
        self,
        principal: Principal,
        model_id: str,
        spec: TextSpec,
        *,
        source: str = "text_generator",
        webhook_url: str | None = None,
        idempotency: IdempotencyKey | None = None,
    ) -> Job:
        """Check, reserve the most the answer can cost, and enqueue, in one transaction.
        Text jobs count against no image quota; they settle at their tokens' exact price."""
        model = self._checked_model(model_id, JobKind.TEXT)
        texts = {f"messages[{i}].content": turn.content for i, turn in enumerate(spec.messages)}
        await self.policy.check_request(
            principal, source, {"system_instruction": spec.system_instruction or "", **texts}
        )
        route = self.engines.route_for(model)
        if spec.config.max_output_tokens is not None and (
            spec.config.max_output_tokens > model.max_output_tokens
        ):
            raise InvalidRequest(
                f"max_output_tokens must be at most {model.max_output_tokens} for {model.id}.",
                param="config.max_output_tokens",
            )
        reserved = 0 if principal.unlimited else prices.text_reservation(model, spec)
        row = self._job_row(
            principal,
            model,
            route,
            spec,
            batch_key=f"text:{new_id('call')}",
            source=source,
            webhook_url=webhook_url,
            credits_reserved=reserved,
        )
        return await self._enqueue(principal, row, idempotency, lambda session: None)

    async def submit_video(
        self,
        principal: Principal,
        model_id: str,
        spec: VideoSpec,
        *,
        source: str = "platform",
        webhook_url: str | None = None,
        idempotency: IdempotencyKey | None = None,
    ) -> Job:
        """Check (the source must be the account's own upload or generated image), reserve
        the duration's price, and enqueue, in one transaction."""
        model = self._checked_model(model_id, JobKind.VIDEO)
        await self.policy.check_request(
            principal,
            source,
            {"prompt": spec.prompt, "negative_prompt": spec.negative_prompt or ""},
        )
        price = prices.video_credits(model, spec)  # refuses a duration the model does not make
        route = self.engines.route_for(model)
        try:
            route.video_engine.validate(route.engine_model, spec)
        except EngineRejected as exc:
            raise InvalidRequest(str(exc), param=exc.param, code=exc.code) from exc
        if principal.unlimited:
            price = 0
        row = self._job_row(
            principal,
            model,
            route,
            spec,
            batch_key=f"video:{new_id('call')}",
            source=source,
            webhook_url=webhook_url,
            credits_per_output=price,
            credits_reserved=price,
        )

        def prepare(session: Session) -> None:
            key = spec.source_image
            if uploads_repository.by_path(session, principal.account_id, key) is None and (
                repository.owned_image_asset(session, principal.account_id, key) is None
            ):
                raise InvalidRequest(
                    "The source image is not one of your uploads or completed generations.",
                    param="source_image",
                )

        return await self._enqueue(principal, row, idempotency, prepare)

    def _job_row(
        self,
        principal: Principal,
        model: ModelEntry,
        route: ResolvedRoute,
        spec: ImageSpec | TextSpec | VideoSpec,
        *,
        batch_key: str,
        source: str,
        webhook_url: str | None,
        credits_reserved: int,
        credits_per_output: int = 0,
        quota_images: int = 0,
    ) -> JobRow:
        """A new queued job of ``model`` on ``route`` (not yet added to a session)."""
        return JobRow(
            id=new_uuid(),
            account_id=principal.account_id,
            kind=model.kind,
            model=model.id,
            engine=route.instance,
            batch_key=f"{route.instance}:{batch_key}",
            spec=spec.model_dump(mode="json"),
            status=JobStatus.QUEUED,
            attempts=0,
            max_attempts=self.settings.max_attempts,
            quota_images=quota_images,
            credits_per_output=credits_per_output,
            credits_reserved=credits_reserved,
            source=source,
            webhook_url=webhook_url,
            request_id=request_id_var.get(),
            created_at=utcnow(),
        )

    async def _enqueue(
        self,
        principal: Principal,
        row: JobRow,
        idempotency: IdempotencyKey | None,
        prepare: Callable[[Session], None],
    ) -> Job:
        """Insert ``row`` (after ``prepare``) with its credit reservation and idempotency
        record, in one transaction, handing it to a free local worker when there is one."""
        now = row.created_at
        plan = self.catalog.plan(principal.plan)
        row.priority = plan.priority if plan is not None else 0
        direct = self._direct if self._direct and self._direct.try_reserve(row.engine) else None
        if direct is not None:
            row.status = JobStatus.RUNNING
            row.lease_owner = direct.id
            row.lease_expires_at = self._lease_until()
            row.attempts = 1
            row.started_at = now

        def enqueue(session: Session) -> tuple[Job, bool]:
            if idempotency is not None:
                earlier = self._idempotent_replay(session, principal, idempotency, now)
                if earlier is not None:
                    return earlier, False
            self._admit_key(session, principal, row, now)
            prepare(session)
            row.fair_seq = repository.next_fair_seq(session, principal.account_id)
            session.add(row)
            session.flush()
            ledger.reserve(session, principal.account_id, row.id, row.credits_reserved, now)
            if row.status == JobStatus.QUEUED:
                notify(session, JOBS_CHANNEL, row.engine)
            if idempotency is not None:
                session.add(
                    IdempotencyRecord(
                        account_id=principal.account_id,
                        key=idempotency.key,
                        fingerprint=idempotency.fingerprint,
                        job_id=row.id,
                        created_at=now,
                    )
                )
            return _to_job(row), True

        try:
            job, created = await self._write_retrying_races(enqueue)
        except BaseException:
            if direct is not None:
                direct.release(row.engine)
            raise
        if direct is not None:
            if created:
                direct.deliver(job)
            else:
                direct.release(row.engine)
        elif created:
            self.events.job_submitted()
        return job

    @staticmethod
    def _admit_key(session: Session, principal: Principal, row: JobRow, now: datetime) -> None:
        """Record the key that submits the job, and hold it to the key's own limits: the
        models it may use (403) and its daily and monthly credit budgets (402), counting
        what its ended jobs were charged and what its unfinished jobs still reserve."""
        key = session.get(ApiKey, principal.key_id)
        if key is None:
            return  # a principal the server made itself (no stored key): nothing to hold
        row.key_id = key.id
        if key.allowed_models is not None and row.model not in key.allowed_models:
            allowed = ", ".join(key.allowed_models) or "none"
            raise Forbidden(
                f"This API key may not use the model '{row.model}'; it may use: {allowed}.",
                param="model",
                code="model_not_allowed",
            )
        today = now.date()
        first_of_month = today.replace(day=1)
        budgets = [
            (key.budget_daily_credits, "daily", "today", today, today + timedelta(days=1)),
            (
                key.budget_monthly_credits,
                "monthly",
                "this month",
                first_of_month,
                (first_of_month + timedelta(days=32)).replace(day=1),
            ),
        ]
        if all(budget is None for budget, *_ in budgets):
            return
        # One budget check at a time per key (PostgreSQL; SQLite writers are serial anyway).
        session.execute(select(ApiKey.id).where(ApiKey.id == key.id).with_for_update())
        reserved = repository.reserved_by_key(session, key.id)
        for budget, name, when, start, resets in budgets:
            if budget is None:
                continue
            spent = reserved + usage.key_charged(
                session, principal.account_id, key.id, start, today
            )
            if spent + row.credits_reserved > budget:
                raise InsufficientCredits(
                    f"This API key's {name} budget of {budget} credits is spent: {spent} "
                    f"are charged or reserved {when}, and this request costs "
                    f"{row.credits_reserved}. It resets at {resets:%Y-%m-%d}T00:00:00Z.",
                    code="key_budget_exceeded",
                )

    @staticmethod
    def _check_input_image(
        session: Session, principal: Principal, model: ModelEntry, path: str
    ) -> None:
        if not model.supports_image_input:
            raise InvalidRequest(
                f"The model '{model.id}' does not take an input image.", param="input_image"
            )
        if uploads_repository.by_path(session, principal.account_id, path) is None:
            raise InvalidRequest(
                f"No upload of yours at '{path}'; upload the image first.", param="input_image"
            )

    async def _write_retrying_races(self, work: Callable[[Session], T]) -> T:
        """Concurrent first uses of one idempotency key: the loser's insert conflicts, and
        its second try finds the winner's job."""
        try:
            return await self.db.write(work)
        except IntegrityError:
            return await self.db.write(work)

    @staticmethod
    def _idempotent_replay(
        session: Session, principal: Principal, idempotency: IdempotencyKey, now: datetime
    ) -> Job | None:
        record = session.get(IdempotencyRecord, (principal.account_id, idempotency.key))
        if record is None:
            return None
        earlier = repository.job(session, record.job_id)
        expired = record.created_at < now - IDEMPOTENCY_WINDOW
        if expired or earlier is None or earlier.deleted_at is not None:
            # The key is free again: its window passed, or its job was deleted by its owner.
            session.delete(record)
            session.flush()
            return None
        if record.fingerprint != idempotency.fingerprint:
            raise Conflict(
                "This Idempotency-Key was already used with a different request.",
                code="idempotency_key_reused",
            )
        assets = repository.assets_of(session, earlier.id)
        return _to_job(earlier, [Asset.model_validate(a, from_attributes=True) for a in assets])

    # -- reading and waiting -----------------------------------------------------------------

    async def get(
        self, job_id: str, account_id: str | None = None, *, scope: JobScope | None = None
    ) -> Job:
        """The job; ``NotFound`` if it is missing, deleted, another account's (with
        ``account_id``) or outside ``scope`` (another dialect's, or of another kind)."""

        def read(session: Session) -> Job | None:
            row = repository.job(session, job_id)
            if row is None or not _visible(row, account_id, scope):
                return None
            assets = repository.assets_of(session, row.id)
            return _to_job(row, [Asset.model_validate(a, from_attributes=True) for a in assets])

        job = await self.db.read(read)
        if job is None:
            raise NotFound(f"No job found with id '{job_id}'.", param="id")
        return job

    async def wait(self, job: Job, timeout: float) -> Job:
        """The job once it has ended, or as it stands when ``timeout`` runs out.

        ``job`` is the caller's latest view of it, such as ``submit_image`` returned: call this
        without awaiting anything in between, so that the completion watch is in place before
        any worker in this process can finish the job. Completions by workers in other
        processes are found by re-reading the job every ``poll_interval_seconds``.
        """
        deadline = time.monotonic() + timeout
        with self.events.watch(job.id) as finished:
            while not job.status.is_terminal:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                poll = min(remaining, self.settings.poll_interval_seconds)
                try:
                    async with asyncio.timeout(poll):  # not wait_for: see JobEvents
                        return await asyncio.shield(finished)
                except TimeoutError:
                    job = await self.get(job.id)
        return job

    async def list_jobs(
        self, account_id: str, scope: JobScope, *, limit: int, offset: int
    ) -> list[Job]:
        """A page of the account's jobs in ``scope``, newest first, without deleted ones;
        an offset past every table (``MAX_OFFSET``) is an empty page."""

        def read(session: Session) -> list[Job]:
            rows = repository.jobs_of(session, account_id, scope, limit=limit, offset=offset)
            assets = repository.assets_of_jobs(session, [row.id for row in rows])
            return [
                _to_job(
                    row, [Asset.model_validate(a, from_attributes=True) for a in assets[row.id]]
                )
                for row in rows
            ]

        return await self.db.read(read)

    def queued_elsewhere(self, engine: str) -> None:
        """Another process queued a job of ``engine`` (a PostgreSQL notification)."""
        if engine in self.engines.max_batch_by_engine():
            self.events.job_submitted()

    async def finished_elsewhere(self, job_id: str) -> None:
        """Another process ended ``job_id``: hand it to waiters in this one, if any."""
        if not self.events.watched(job_id):
            return
        try:
            job = await self.get(job_id)
        except NotFound:
            return
        if job.status.is_terminal:
            self.events.job_finished(job)

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

    async def count_jobs(self, account_id: str, scope: JobScope) -> int:
        """How many jobs in ``scope`` the account has, deleted ones not counted."""
        return await self.db.read(
            lambda session: repository.count_jobs_of(session, account_id, scope)
        )

    async def delete(self, job_id: str, account_id: str, *, scope: JobScope | None = None) -> Job:
        """Hide the account's job from every read and drop its asset records; a job still
        running is canceled (and refunded) first. The returned job still lists the assets,
        whose stored files the caller removes. The row itself stays: the ledger cites it.
        A job outside ``scope`` is a ``NotFound``, and left as it is."""
        # The id as stored (a job made before UUIDs may be named by its old id).
        stored_id = (await self.get(job_id, account_id, scope=scope)).id
        await self.cancel(stored_id, account_id)

        def delete(session: Session) -> Job | None:
            row = repository.job(session, stored_id)
            if row is None or not _visible(row, account_id, scope):
                return None
            assets = repository.assets_of(session, stored_id)
            job = _to_job(row, [Asset.model_validate(a, from_attributes=True) for a in assets])
            row.deleted_at = utcnow()
            repository.delete_assets(session, stored_id)
            return job

        job = await self.db.write(delete)
        if job is None:
            raise NotFound(f"No job found with id '{job_id}'.", param="id")
        return job

    # -- the worker's side -------------------------------------------------------------------

    def _lease_until(self) -> datetime:
        return utcnow() + timedelta(seconds=self.settings.lease_seconds)

    async def claim(
        self,
        worker_id: str,
        engines: Collection[str] | None = None,
        models: Collection[str] | None = None,
    ) -> Claim:
        """Lease a batch of queued jobs that one engine call can serve together, of the given
        engine instances (default: all) and models (default: all)."""
        max_batch = {
            instance: size
            for instance, size in self.engines.max_batch_by_engine().items()
            if engines is None or instance in engines
        }
        if not max_batch:
            return Claim(jobs=[], more_queued=False)
        now = utcnow()

        def claim(session: Session) -> Claim:
            rows = repository.claim_batch(
                session,
                worker_id=worker_id,
                max_batch=max_batch,
                lease_until=self._lease_until(),
                now=now,
                models=models,
            )
            more = bool(rows) and repository.any_queued(session, list(max_batch), models)
            return Claim(jobs=[_to_job(row) for row in rows], more_queued=more)

        return await self.db.write(claim)

    async def heartbeat(self, job_ids: Sequence[str], worker_id: str) -> set[str]:
        return await self.db.write(
            lambda session: repository.extend_leases(
                session, job_ids, worker_id, self._lease_until()
            )
        )

    async def report_progress(
        self, job_ids: Sequence[str], worker_id: str, fraction: float
    ) -> set[str]:
        """Record how far the engine is with these jobs; the ids this worker still holds."""
        return await self.db.write(
            lambda session: repository.set_progress(session, job_ids, worker_id, fraction)
        )

    async def complete(
        self,
        job_id: str,
        worker_id: str,
        outputs: Sequence[StoredOutput],
        engine_seconds: float,
        engine: str | None = None,
    ) -> bool:
        """Record the outputs and end the job; False when this worker no longer held it.
        ``engine`` is the instance that made them, when a fallback route did."""
        now = utcnow()
        values: dict[str, object] = {"engine": engine} if engine else {}
        values |= {
            "status": JobStatus.SUCCEEDED,
            "finished_at": now,
            "engine_seconds": engine_seconds,
            "progress": 1.0,
            # A video's thumbnail rides along with it; it is not charged on its own.
            "credits_charged": JobRow.credits_per_output
            * sum(1 for output in outputs if output.kind != THUMBNAIL),
        }

        def finish(session: Session) -> Job | None:
            row = repository.finish_leased(session, job_id, worker_id, values)
            if row is None:
                return None
            made = sum(1 for output in outputs if output.kind != THUMBNAIL)
            self._ended(session, row, now, outputs=made)
            assets = [
                Asset(
                    id=new_uuid(),
                    job_id=job_id,
                    index=index,
                    **output.model_dump(),
                )
                for index, output in enumerate(outputs)
            ]
            repository.insert_assets(
                session,
                [
                    {**asset.model_dump(), "account_id": row.account_id, "created_at": now}
                    for asset in assets
                ],
            )
            return _to_job(row, assets)

        finished = await self.db.write(finish)
        if finished is None:
            return False
        self.events.job_finished(finished)
        return True

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
            return _to_job(row)

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
            return None if row is None else _to_job(row)

        job = await self.db.write(fail)
        if job is None:
            return None
        if job.status is JobStatus.QUEUED:
            self.events.job_submitted()
        else:
            self.events.job_finished(job)
        return job.status

    async def cancel(self, job_id: str, account_id: str) -> Job:
        """End a queued or running job as canceled, refunding it in full.

        A worker still running it loses its lease, so its completion is refused and what it
        made is discarded. A job that already ended is returned as it is.
        """

        def cancel(session: Session) -> Job | None:
            row = repository.cancel_unfinished(session, job_id, account_id, utcnow())
            if row is None:
                current = repository.job(session, job_id)
                if current is None or current.account_id != account_id or current.deleted_at:
                    return None
                return _to_job(current)
            self._ended(session, row, utcnow())
            return _to_job(row)

        job = await self.db.write(cancel)
        if job is None:
            raise NotFound(f"No job found with id '{job_id}'.", param="id")
        if job.status is JobStatus.CANCELED:
            self.events.job_finished(job)
        return job

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
                failed.append(_to_job(row))
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

    def _ended(self, session: Session, row: JobRecord, now: datetime, *, outputs: int = 0) -> None:
        """What every job's end does, in the transaction that ends it: a job that did not
        succeed gives its quota back; the job is settled and counted in the usage rollup
        (``outputs``: the images or videos it made); its webhook is owed an event; it is
        counted in the metrics once the transaction commits."""
        if row.status != JobStatus.SUCCEEDED:
            self._release_quota(session, row)
        self._settle(session, row, now)
        usage.record_job_end(
            session,
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
        count = functools.partial(
            self.metrics.job_ended,
            model=row.model,
            kind=str(row.kind),
            status=str(row.status),
            engine=row.engine,
            engine_seconds=row.engine_seconds,
        )
        event.listen(session, "after_commit", lambda _: count(), once=True)
        notify(session, FINISHED_CHANNEL, row.id)
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
            charged=JobService._charged(row),
            now=now,
        )

    @staticmethod
    def _charged(row: JobRecord) -> int:
        """What the ended job is charged: what it produced, never beyond its reservation."""
        return min(row.credits_charged or 0, row.credits_reserved)

    @staticmethod
    def _release_quota(session: Session, row: JobRecord) -> None:
        if row.quota_period is not None:
            quotas.release(session, row.account_id, row.quota_period, row.quota_images)
