"""Making jobs: submit_image, submit_text and submit_video.

Each submission is checked (the model, the spec, the content policy, the key's own limits),
priced, counted against the quota, reserved and enqueued in one transaction; with an
idempotency key seen before, the job that key made instead. A free worker in this process
can be handed the job at once (``DirectDispatch``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from sqlalchemy import select
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
from creatix.jobs.records import QueueSettings, to_job
from creatix.jobs.specs import (
    Asset,
    IdempotencyKey,
    ImageSpec,
    Job,
    JobKind,
    JobStatus,
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
    Unavailable,
)
from creatix.kit.ids import new_id, new_uuid
from creatix.kit.logging import request_id_var
from creatix.kit.notify import JOBS_CHANNEL, notify
from creatix.policy.service import ContentPolicy
from creatix.uploads import repository as uploads_repository
from creatix.usage import service as usage

T = TypeVar("T")
IDEMPOTENCY_WINDOW = timedelta(hours=24)


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


class JobIntake:
    """Everything that makes a job: the submit_* checks, and the one transaction that
    reserves and enqueues it, checking requests against the job core's ``ContentPolicy``."""

    def __init__(
        self,
        db: Database,
        catalog: Catalog,
        engines: EngineRegistry,
        events: JobEvents,
        settings: QueueSettings,
        *,
        policy: ContentPolicy,
    ) -> None:
        self.db = db
        self.catalog = catalog
        self.engines = engines
        self.events = events
        self.settings = settings
        self._direct: DirectDispatch | None = None
        self.policy = policy

    def attach_direct(self, worker: DirectDispatch) -> None:
        self._direct = worker

    def detach_direct(self, worker: DirectDispatch) -> None:
        if self._direct is worker:
            self._direct = None

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

    def _priced_image(
        self, principal: Principal, model: ModelEntry, spec: ImageSpec
    ) -> tuple[ResolvedRoute, ImageSpec, int]:
        """The route, the spec as the engine gets it (its style applied) and the price of one
        image of it; what a request the model or its engine cannot serve is refused for."""
        route = self.engines.route_for(model)
        spec = self._prepared_image_spec(model, spec)
        try:
            route.image_engine.validate(route.engine_model, spec)
        except EngineRejected as exc:
            raise InvalidRequest(str(exc), param=exc.param, code=exc.code) from exc
        per_image = 0 if principal.unlimited else prices.credits_per_image(model, spec)
        return route, spec, per_image

    def _priced_text(
        self, principal: Principal, model: ModelEntry, spec: TextSpec
    ) -> tuple[ResolvedRoute, int]:
        """The route, and the most an answer to ``spec`` can cost (what is reserved)."""
        route = self.engines.route_for(model)
        if spec.config.max_output_tokens is not None and (
            spec.config.max_output_tokens > model.max_output_tokens
        ):
            raise InvalidRequest(
                f"max_output_tokens must be at most {model.max_output_tokens} for {model.id}.",
                param="config.max_output_tokens",
            )
        return route, 0 if principal.unlimited else prices.text_reservation(model, spec)

    def _priced_video(
        self, principal: Principal, model: ModelEntry, spec: VideoSpec
    ) -> tuple[ResolvedRoute, int]:
        """The route, and the price of the video (its duration's)."""
        price = prices.video_credits(model, spec)  # refuses a duration the model does not make
        route = self.engines.route_for(model)
        try:
            route.video_engine.validate(route.engine_model, spec)
        except EngineRejected as exc:
            raise InvalidRequest(str(exc), param=exc.param, code=exc.code) from exc
        return route, 0 if principal.unlimited else price

    def quote(
        self, principal: Principal, model_id: str, spec: ImageSpec | TextSpec | VideoSpec
    ) -> int:
        """The credits submitting ``spec`` on ``model_id`` would reserve now, by the checks
        and prices the submit_* calls use; nothing is enqueued, and neither the content
        policy, the quota, the balance nor an input image's ownership is looked at."""
        if isinstance(spec, ImageSpec):
            model = self._checked_model(model_id, JobKind.IMAGE)
            _, priced, per_image = self._priced_image(principal, model, spec)
            return per_image * priced.n
        if isinstance(spec, TextSpec):
            return self._priced_text(principal, self._checked_model(model_id, JobKind.TEXT), spec)[
                1
            ]
        return self._priced_video(principal, self._checked_model(model_id, JobKind.VIDEO), spec)[1]

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
        row, model, spec = await self._image_row(principal, model_id, spec, source, webhook_url)
        plan = self.catalog.plan(principal.plan)
        if plan is None:
            raise Unavailable(f"The account's plan '{principal.plan}' is not in the catalog.")

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
        row = await self._text_row(principal, model_id, spec, source, webhook_url)
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
        route, price = self._priced_video(principal, model, spec)
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

    async def submit_group(
        self,
        principal: Principal,
        parts: Sequence[tuple[str, ImageSpec | TextSpec]],
        *,
        source: str,
        record: Callable[[Session, list[Job]], None],
        idempotency: IdempotencyKey | None = None,
    ) -> tuple[list[Job], bool]:
        """Several jobs, each (model id, spec) checked and priced as ``submit_image`` and
        ``submit_text`` do, counted against the quota, reserved and enqueued in ONE
        transaction: all of them or none (an ad set's parts). ``record`` runs in that
        transaction with the new jobs (the parent's own rows). They queue (no direct
        hand-off); each settles on its own when it ends. The jobs, and whether they were
        made now: with an ``idempotency`` key seen in the last 24 hours for the same request,
        only the first job that key made (the parent finds itself by it), nothing made."""
        plan = self.catalog.plan(principal.plan)
        if plan is None:
            raise Unavailable(f"The account's plan '{principal.plan}' is not in the catalog.")
        prepared: list[tuple[JobRow, ModelEntry | None, str | None]] = []
        for model_id, asked in parts:
            if isinstance(asked, ImageSpec):
                row, model, spec = await self._image_row(principal, model_id, asked, source, None)
                prepared.append((row, model, spec.input_image))
            else:
                prepared.append(
                    (await self._text_row(principal, model_id, asked, source, None), None, None)
                )

        def enqueue(session: Session) -> tuple[list[Job], bool]:
            if idempotency is not None:
                earlier = self._idempotent_replay(session, principal, idempotency, utcnow())
                if earlier is not None:
                    return [earlier], False
            jobs: list[Job] = []
            for row, model, input_image in prepared:
                row.priority = plan.priority
                self._admit_key(session, principal, row, row.created_at)
                if model is not None and input_image is not None:
                    self._check_input_image(session, principal, model, input_image)
                if row.quota_images:
                    row.quota_period = quotas.reserve(
                        session, principal.account_id, plan, row.quota_images, row.created_at
                    )
                row.fair_seq = repository.next_fair_seq(session, principal.account_id)
                session.add(row)
                session.flush()
                ledger.reserve(
                    session, principal.account_id, row.id, row.credits_reserved, row.created_at
                )
                notify(session, JOBS_CHANNEL, row.engine)
                jobs.append(to_job(row))
            record(session, jobs)
            if idempotency is not None:
                session.add(
                    IdempotencyRecord(
                        account_id=principal.account_id,
                        key=idempotency.key,
                        fingerprint=idempotency.fingerprint,
                        job_id=jobs[0].id,
                        created_at=utcnow(),
                    )
                )
            return jobs, True

        jobs, created = await self._write_retrying_races(enqueue)
        if created:
            self.events.job_submitted()
        return jobs, created

    async def _image_row(
        self,
        principal: Principal,
        model_id: str,
        spec: ImageSpec,
        source: str,
        webhook_url: str | None,
    ) -> tuple[JobRow, ModelEntry, ImageSpec]:
        """An image job's row, checked against the content policy and priced (the spec as the
        engine takes it)."""
        model = self._checked_model(model_id, JobKind.IMAGE)
        await self.policy.check_request(
            principal,
            source,
            {"prompt": spec.prompt, "negative_prompt": spec.negative_prompt or ""},
        )
        route, priced, per_image = self._priced_image(principal, model, spec)
        row = self._job_row(
            principal,
            model,
            route,
            priced,
            batch_key=route.image_engine.batch_key(route.engine_model, priced),
            source=source,
            webhook_url=webhook_url,
            quota_images=priced.n,
            credits_per_output=per_image,
            credits_reserved=per_image * priced.n,
        )
        return row, model, priced

    async def _text_row(
        self,
        principal: Principal,
        model_id: str,
        spec: TextSpec,
        source: str,
        webhook_url: str | None,
    ) -> JobRow:
        """A text job's row, checked against the content policy, reserving the most its
        answer can cost."""
        model = self._checked_model(model_id, JobKind.TEXT)
        texts = {f"messages[{i}].content": turn.content for i, turn in enumerate(spec.messages)}
        await self.policy.check_request(
            principal, source, {"system_instruction": spec.system_instruction or "", **texts}
        )
        route, reserved = self._priced_text(principal, model, spec)
        return self._job_row(
            principal,
            model,
            route,
            spec,
            batch_key=f"text:{new_id('call')}",
            source=source,
            webhook_url=webhook_url,
            credits_reserved=reserved,
        )

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
            row.lease_expires_at = self.settings.lease_until()
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
            return to_job(row), True

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
        account_id = principal.account_id
        if uploads_repository.by_path(session, account_id, path) is None and (
            repository.owned_image_asset(session, account_id, path) is None
        ):
            raise InvalidRequest(
                f"No upload or generated image of yours at '{path}'; upload the image first.",
                param="input_image",
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
        return to_job(earlier, [Asset.model_validate(a, from_attributes=True) for a in assets])
