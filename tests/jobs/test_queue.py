"""The job table as a queue: claims, batches, leases, retries, exactly-once completion."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from creatix.accounts import service as accounts
from creatix.accounts.schemas import Principal
from creatix.billing import quotas
from creatix.catalog.loader import load_catalog
from creatix.catalog.schemas import PlanEntry
from creatix.engines.registry import EngineRegistry
from creatix.jobs.events import JobEvents
from creatix.jobs.models import JobRow
from creatix.jobs.records import QueueSettings
from creatix.jobs.service import JobService
from creatix.jobs.specs import ImageSpec, Job, JobError, JobStatus, StoredOutput
from creatix.kit.clock import utcnow
from creatix.kit.db import Database
from creatix.kit.errors import TooManyRequests
from creatix.kit.migrate import upgrade_database
from support import lined_up_before


class Core:
    def __init__(self, tmp_path: Path, settings: QueueSettings) -> None:
        url = f"sqlite:///{tmp_path / 'queue.db'}"
        upgrade_database(url)
        self.db = Database(url)
        self.catalog = load_catalog()
        self.jobs = JobService(
            self.db, self.catalog, EngineRegistry.from_catalog(self.catalog), JobEvents(), settings
        )

    async def principal(self, plan: str = "free") -> Principal:
        info = await accounts.ensure_account(self.db, f"acct-{plan}", plan, "free")
        return Principal(account_id=info.id, account_name=info.name, plan=plan, key_id="key_t")

    async def quota_used(self, principal: Principal) -> int:
        plan = self.catalog.plan(principal.plan)
        assert plan is not None
        assert plan.quota is not None
        period = quotas.period_key(plan.quota, utcnow())
        return await self.db.read(
            lambda session: quotas.used(session, principal.account_id, period)
        )


def _spec(n: int = 1, seed: int = 1) -> ImageSpec:
    return ImageSpec(prompt="queue", width=512, height=512, n=n, seed=seed)


def _output(key: str) -> StoredOutput:
    return StoredOutput(
        kind="image", storage_key=key, mime_type="image/png", size_bytes=1, checksum="sha256:0"
    )


@pytest.fixture
async def core(tmp_path: Path) -> AsyncIterator[Core]:
    core = Core(tmp_path, QueueSettings(lease_seconds=30, poll_interval_seconds=30))
    yield core
    await core.db.dispose()


async def test_claim_leases_a_batch_of_compatible_jobs_oldest_first(core: Core) -> None:
    principal = await core.principal()
    submitted = [
        await core.jobs.intake.submit_image(principal, "creatix-flash", _spec()) for _ in range(3)
    ]
    other_model = await core.jobs.intake.submit_image(principal, "creatix-pro", _spec())
    first = await core.jobs.lifecycle.claim("worker-a")
    assert [job.id for job in first.jobs] == [job.id for job in submitted]
    assert all(job.status is JobStatus.RUNNING and job.attempts == 1 for job in first.jobs)
    assert all(job.started_at is not None for job in first.jobs)
    assert first.more_queued, "the creatix-pro job is still waiting"
    second = await core.jobs.lifecycle.claim("worker-b")
    assert [job.id for job in second.jobs] == [other_model.id]
    assert not second.more_queued
    third = await core.jobs.lifecycle.claim("worker-c")
    assert third.jobs == []
    assert not third.more_queued


async def test_completion_records_assets_and_timings_once(core: Core) -> None:
    principal = await core.principal()
    job = await core.jobs.intake.submit_image(principal, "creatix-flash", _spec(n=2))
    await core.jobs.lifecycle.claim("worker-a")
    outputs = [_output("a/0.png"), _output("a/1.png")]
    assert await core.jobs.lifecycle.complete(job.id, "worker-a", outputs, engine_seconds=0.25)
    assert not await core.jobs.lifecycle.complete(job.id, "worker-a", outputs, engine_seconds=0.25)
    done = await core.jobs.get(job.id)
    assert done.status is JobStatus.SUCCEEDED
    assert [a.storage_key for a in done.assets] == ["a/0.png", "a/1.png"]
    assert done.engine_seconds == 0.25
    assert done.started_at is not None
    assert done.finished_at is not None
    assert done.created_at <= done.started_at <= done.finished_at


async def test_a_dead_workers_job_is_requeued_and_its_late_completion_refused(
    tmp_path: Path,
) -> None:
    core = Core(tmp_path, QueueSettings(lease_seconds=0.05, poll_interval_seconds=30))
    principal = await core.principal()
    job = await core.jobs.intake.submit_image(principal, "creatix-flash", _spec())
    await core.jobs.lifecycle.claim("dead-worker")
    await asyncio.sleep(0.1)
    assert await core.jobs.lifecycle.requeue_expired() == 1
    [again] = (await core.jobs.lifecycle.claim("live-worker")).jobs
    assert again.id == job.id
    assert again.attempts == 2
    assert not await core.jobs.lifecycle.complete(job.id, "dead-worker", [_output("dead.png")], 1.0)
    assert await core.jobs.lifecycle.complete(job.id, "live-worker", [_output("live.png")], 1.0)
    done = await core.jobs.get(job.id)
    assert [a.storage_key for a in done.assets] == ["live.png"]
    await core.db.dispose()


async def test_heartbeats_keep_a_lease_alive(tmp_path: Path) -> None:
    # Three beats a second apart outlive the 2 s lease; each leaves 2 s for the check after it.
    core = Core(tmp_path, QueueSettings(lease_seconds=2, poll_interval_seconds=30))
    principal = await core.principal()
    job = await core.jobs.intake.submit_image(principal, "creatix-flash", _spec())
    await core.jobs.lifecycle.claim("worker-a")
    for _ in range(3):
        await asyncio.sleep(1)
        assert await core.jobs.lifecycle.heartbeat([job.id], "worker-a") == {job.id}
        assert await core.jobs.lifecycle.requeue_expired() == 0
    assert await core.jobs.lifecycle.heartbeat([job.id], "worker-b") == set()
    await core.db.dispose()


async def test_retryable_failures_retry_then_fail_and_give_the_quota_back(core: Core) -> None:
    principal = await core.principal("free")
    job = await core.jobs.intake.submit_image(principal, "creatix-flash", _spec(n=3))
    assert await core.quota_used(principal) == 3
    error = JobError(code="engine_error", message="out of memory")
    for attempt in (1, 2):
        [claimed] = (await core.jobs.lifecycle.claim("worker-a")).jobs
        assert claimed.attempts == attempt
        assert (
            await core.jobs.lifecycle.fail(job.id, "worker-a", error, retryable=True)
            is JobStatus.QUEUED
        )
    await core.jobs.lifecycle.claim("worker-a")
    assert (
        await core.jobs.lifecycle.fail(job.id, "worker-a", error, retryable=True)
        is JobStatus.FAILED
    )
    failed = await core.jobs.get(job.id)
    assert failed.status is JobStatus.FAILED
    assert failed.error == error
    assert failed.attempts == 3
    assert await core.quota_used(principal) == 0


async def test_a_job_whose_workers_keep_dying_fails_as_worker_lost(tmp_path: Path) -> None:
    core = Core(
        tmp_path, QueueSettings(lease_seconds=0.01, poll_interval_seconds=30, max_attempts=2)
    )
    principal = await core.principal("free")
    job = await core.jobs.intake.submit_image(principal, "creatix-flash", _spec())
    for _ in range(2):
        await core.jobs.lifecycle.claim("doomed")
        await asyncio.sleep(0.05)
        await core.jobs.lifecycle.requeue_expired()
    lost = await core.jobs.get(job.id)
    assert lost.status is JobStatus.FAILED
    assert lost.error is not None
    assert lost.error.code == "worker_lost"
    assert await core.quota_used(principal) == 0
    await core.db.dispose()


async def test_wait_wakes_on_completion_not_on_a_polling_tick(core: Core) -> None:
    principal = await core.principal()
    job = await core.jobs.intake.submit_image(principal, "creatix-flash", _spec())
    await core.jobs.lifecycle.claim("worker-a")

    async def complete_soon() -> None:
        await asyncio.sleep(0.05)
        await core.jobs.lifecycle.complete(job.id, "worker-a", [_output("w.png")], 0.01)

    started = time.monotonic()
    completer = asyncio.create_task(complete_soon())
    done = await core.jobs.wait(job, timeout=10)
    await completer
    assert done.status is JobStatus.SUCCEEDED
    # Without a wake-up the job is re-read only when the 10 s wait runs out (the poll
    # interval is 30 s); the bound is half of that, far from the 0.05 s a wake-up takes.
    assert time.monotonic() - started < 5, "this was a wake-up, not a re-read"


async def test_wait_returns_the_running_job_at_its_timeout(core: Core) -> None:
    principal = await core.principal()
    job = await core.jobs.intake.submit_image(principal, "creatix-flash", _spec())
    assert (await core.jobs.wait(job, timeout=0.05)).status is JobStatus.QUEUED


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    """A migrated database of the backend, for tests that open their own connections."""
    upgrade_database(empty_database_url)
    return empty_database_url


THREADS, SUBMITS_EACH = 4, 5
"""Twenty submits of 3 images, at once, against the 48 the free plan has left: 16 fit."""


def test_quota_is_never_counted_past_its_limit_under_concurrency(database_url: str) -> None:
    """Four OS threads, each with its own event loop and database connections (as four
    processes would be), submit five jobs each at once. On PostgreSQL the twenty
    transactions are also lined up just before their quota write, so that any read the
    reservation made before writing would be stale in all of them; on SQLite they contend
    for the file's write lock."""
    catalog = load_catalog()
    registry = EngineRegistry.from_catalog(catalog)
    setup = Database(database_url)
    settings = QueueSettings(lease_seconds=30, poll_interval_seconds=30)
    setup_jobs = JobService(setup, catalog, registry, JobEvents(), settings)

    async def first_job() -> Principal:
        info = await accounts.ensure_account(setup, "acct-free", "free", "free")
        principal = Principal(
            account_id=info.id, account_name=info.name, plan="free", key_id="key_t"
        )
        # Two images first: the day's quota row exists before the rush, as it would after
        # any earlier job of the day.
        await setup_jobs.intake.submit_image(principal, "creatix-flash", _spec(n=2))
        return principal

    principal = asyncio.run(first_job())
    databases = [Database(database_url) for _ in range(THREADS)]

    def submit_from_a_thread(db: Database) -> list[str]:
        jobs = JobService(db, catalog, registry, JobEvents(), settings)

        async def attempt() -> str:
            try:
                await jobs.intake.submit_image(principal, "creatix-flash", _spec(n=3))
            except TooManyRequests as refused:  # nothing else counts as a refusal
                return refused.code
            return "accepted"

        async def attempts() -> list[str]:
            return list(await asyncio.gather(*(attempt() for _ in range(SUBMITS_EACH))))

        return asyncio.run(attempts())

    lined_up = (
        contextlib.nullcontext()
        if setup.is_sqlite
        else lined_up_before([db.engine for db in databases], "quota_usage", THREADS * SUBMITS_EACH)
    )
    try:
        with lined_up, ThreadPoolExecutor(THREADS) as pool:
            outcomes = [o for batch in pool.map(submit_from_a_thread, databases) for o in batch]
        assert outcomes.count("accepted") == 16, outcomes  # 2 + 16 × 3 = 50
        assert outcomes.count("quota_exceeded") == THREADS * SUBMITS_EACH - 16, outcomes
        assert asyncio.run(_quota_and_jobs(setup, catalog.plan("free"), principal)) == (50, 17)
    finally:
        for db in [setup, *databases]:
            asyncio.run(db.dispose())


async def _quota_and_jobs(
    db: Database, plan: PlanEntry | None, principal: Principal
) -> tuple[int, int]:
    """The images counted against the account's quota today, and its number of jobs."""
    assert plan is not None
    assert plan.quota is not None
    period = quotas.period_key(plan.quota, utcnow())

    def read(session: Session) -> tuple[int, int]:
        jobs = session.execute(
            select(func.count()).where(JobRow.account_id == principal.account_id)
        ).scalar_one()
        return quotas.used(session, principal.account_id, period), jobs

    return await db.read(read)


class RecordingWorker:
    """A DirectDispatch that records what it is handed."""

    id = "direct-worker"

    def __init__(self, slots: int) -> None:
        self.free = slots
        self.delivered: list[Job] = []

    def try_reserve(self, engine: str) -> bool:
        if self.free == 0:
            return False
        self.free -= 1
        return True

    def release(self, engine: str) -> None:
        self.free += 1

    def deliver(self, job: Job) -> None:
        self.delivered.append(job)


async def test_a_free_local_worker_gets_the_job_leased_in_the_enqueueing_transaction(
    core: Core,
) -> None:
    worker = RecordingWorker(slots=1)
    core.jobs.intake.attach_direct(worker)
    principal = await core.principal()
    direct = await core.jobs.intake.submit_image(principal, "creatix-flash", _spec())
    assert [job.id for job in worker.delivered] == [direct.id]
    assert worker.delivered[0].status is JobStatus.RUNNING
    stored = await core.jobs.get(direct.id)
    assert stored.status is JobStatus.RUNNING
    assert stored.attempts == 1
    assert (await core.jobs.lifecycle.claim("other-worker")).jobs == [], "nothing left to claim"

    queued = await core.jobs.intake.submit_image(principal, "creatix-flash", _spec())
    assert len(worker.delivered) == 1, "no slot free: the job queues"
    assert (await core.jobs.get(queued.id)).status is JobStatus.QUEUED
    assert await core.jobs.lifecycle.complete(direct.id, "direct-worker", [_output("d.png")], 0.1)


async def test_a_refused_submit_gives_the_reserved_slot_back(core: Core) -> None:
    worker = RecordingWorker(slots=100)
    core.jobs.intake.attach_direct(worker)
    principal = await core.principal("free")
    for _ in range(12):
        await core.jobs.intake.submit_image(principal, "creatix-flash", _spec(n=4))
    with pytest.raises(TooManyRequests):
        await core.jobs.intake.submit_image(principal, "creatix-flash", _spec(n=4))
    assert worker.free == 100 - 12
    assert len(worker.delivered) == 12
