"""The job core: ``JobService`` makes jobs through its ``intake`` (``JobIntake``), moves
them through its ``lifecycle`` (``JobLifecycle``), and reads them: get, wait, follow,
queue_position, list_jobs, count_jobs and delete.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from creatix.catalog.schemas import Catalog
from creatix.engines.registry import EngineRegistry
from creatix.jobs import repository
from creatix.jobs.events import Follower, JobEvents, parse_progress_payload
from creatix.jobs.following import JobFollowing
from creatix.jobs.intake import JobIntake
from creatix.jobs.lifecycle import JobLifecycle
from creatix.jobs.models import JobRow
from creatix.jobs.records import QueueSettings, to_job
from creatix.jobs.specs import Asset, Job, JobScope
from creatix.kit.clock import utcnow
from creatix.kit.db import Database
from creatix.kit.errors import NotFound
from creatix.kit.metrics import Metrics
from creatix.policy.moderation import ModerationEngine
from creatix.policy.service import ContentPolicy

MAX_OFFSET = repository.MAX_OFFSET
"""The largest list offset a database takes: the bound of the dialects' paging parameters."""


def _visible(row: JobRow, account_id: str | None, scope: JobScope | None) -> bool:
    """Whether a read for ``account_id`` (any account: None) in ``scope`` may see ``row``."""
    if row.deleted_at is not None:
        return False
    if account_id is not None and row.account_id != account_id:
        return False
    return scope is None or scope.covers(row.source, row.kind)


class JobService:
    """The job core a runtime holds: ``intake`` makes jobs, ``lifecycle`` moves and ends
    them, ``policy`` is the content policy both the intake and the worker's output checks
    apply, and the reads are here."""

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
        models_dir: Path | None = None,
    ) -> None:
        self.db = db
        self.catalog = catalog
        self.engines = engines
        self.events = events
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.policy = ContentPolicy(db, catalog, self.metrics, moderation, models_dir=models_dir)
        self.intake = JobIntake(db, catalog, engines, events, settings, policy=self.policy)
        self.lifecycle = JobLifecycle(db, catalog, engines, events, settings, metrics=self.metrics)
        self.following = JobFollowing(db, events, settings)

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
            return to_job(row, [Asset.model_validate(a, from_attributes=True) for a in assets])

        job = await self.db.read(read)
        if job is None:
            raise NotFound(f"No job found with id '{job_id}'.", param="id")
        return job

    async def wait(self, job: Job, timeout: float) -> Job:
        """The job once it has ended, or as it stands when ``timeout`` runs out.

        ``job`` is the caller's latest view of it, such as ``intake.submit_image`` returned:
        call this without awaiting anything in between, so that the completion watch is in
        place before any worker in this process can finish the job. Completions by workers in
        other processes are found by re-reading the job every ``poll_interval_seconds``.
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

    @contextmanager
    def follow(self, job: Job) -> Iterator[Follower]:
        """A ``Follower`` of ``job`` (as the caller last read it, e.g. by ``get``), told of
        its start, progress and end while the block runs, whichever process makes them."""
        with self.following.follow(job) as follower:
            yield follower

    async def queue_position(self, job_id: str) -> int | None:
        """Where the queued job stands in the claim order (1: next), None if not queued;
        an approximation (``repository.queue_position``)."""
        return await self.db.read(lambda session: repository.queue_position(session, job_id))

    async def list_jobs(
        self, account_id: str, scope: JobScope, *, limit: int, offset: int
    ) -> list[Job]:
        """A page of the account's jobs in ``scope``, newest first, without deleted ones;
        an offset past every table (``MAX_OFFSET``) is an empty page."""

        def read(session: Session) -> list[Job]:
            rows = repository.jobs_of(session, account_id, scope, limit=limit, offset=offset)
            assets = repository.assets_of_jobs(session, [row.id for row in rows])
            return [
                to_job(row, [Asset.model_validate(a, from_attributes=True) for a in assets[row.id]])
                for row in rows
            ]

        return await self.db.read(read)

    async def page(
        self,
        account_id: str,
        found: repository.JobFilter,
        *,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Job]:
        """A keyset page of the account's jobs of every source, newest first, without
        deleted ones: those after ``after`` (the created_at and id of the page before's
        last job)."""

        def read(session: Session) -> list[Job]:
            rows = repository.jobs_page(session, account_id, found, after=after, limit=limit)
            assets = repository.assets_of_jobs(session, [row.id for row in rows])
            return [
                to_job(row, [Asset.model_validate(a, from_attributes=True) for a in assets[row.id]])
                for row in rows
            ]

        return await self.db.read(read)

    async def image_asset(self, account_id: str, asset_id: str) -> Asset | None:
        """The account's image ``asset_id`` of a succeeded job not deleted, if there is one."""

        def read(session: Session) -> Asset | None:
            row = repository.image_asset_by_id(session, account_id, asset_id)
            return None if row is None else Asset.model_validate(row, from_attributes=True)

        return await self.db.read(read)

    async def asset_ids(self, account_id: str, storage_keys: Collection[str]) -> dict[str, str]:
        """The ids of the account's assets still stored at ``storage_keys``, by key."""
        return await self.db.read(
            lambda session: repository.asset_ids_by_key(session, account_id, storage_keys)
        )

    def queued_elsewhere(self, engine: str) -> None:
        """Another process queued a job of ``engine`` (a PostgreSQL notification)."""
        if engine in self.engines.max_batch_by_engine():
            self.events.job_submitted()

    def progressed_elsewhere(self, payload: str) -> None:
        """Another process started jobs or recorded their progress (a PostgreSQL
        notification, ``events.progress_payloads``): tell their followers here."""
        parsed = parse_progress_payload(payload)
        if parsed is not None:
            self.events.job_progressed(*parsed)

    async def finished_elsewhere(self, job_id: str) -> None:
        """Another process ended ``job_id``: hand it to waiters and followers in this one,
        if any."""
        if not self.events.watched(job_id):
            return
        try:
            job = await self.get(job_id)
        except NotFound:
            return
        if job.status.is_terminal:
            self.events.job_finished(job)

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
        await self.lifecycle.cancel(stored_id, account_id)

        def delete(session: Session) -> Job | None:
            row = repository.job(session, stored_id)
            if row is None or not _visible(row, account_id, scope):
                return None
            assets = repository.assets_of(session, stored_id)
            job = to_job(row, [Asset.model_validate(a, from_attributes=True) for a in assets])
            row.deleted_at = utcnow()
            repository.delete_assets(session, stored_id)
            return job

        job = await self.db.write(delete)
        if job is None:
            raise NotFound(f"No job found with id '{job_id}'.", param="id")
        return job
