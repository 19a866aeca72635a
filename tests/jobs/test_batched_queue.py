"""Batched claims and completions: several batches leased by one statement, several jobs
completed in one transaction (and concurrent completions grouped into one), on SQLite and
PostgreSQL; no job is ever leased twice at once, lost, or settled twice."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from creatix.accounts import service as accounts
from creatix.accounts.schemas import Principal
from creatix.billing import ledger
from creatix.billing.models import LedgerEntry
from creatix.catalog.loader import load_catalog
from creatix.engines.registry import EngineRegistry
from creatix.jobs.events import JobEvents
from creatix.jobs.lifecycle import Claim, Completion
from creatix.jobs.models import AssetRow, JobRow
from creatix.jobs.records import QueueSettings
from creatix.jobs.service import JobService
from creatix.jobs.specs import ImageSpec, Job, JobStatus, StoredOutput
from creatix.kit.clock import utcnow
from creatix.kit.db import Database
from creatix.kit.migrate import upgrade_database
from creatix.storage.local import LocalStorage
from creatix.storage.signing import UrlSigner
from creatix.usage.models import ALL_KEYS, UsageDaily
from creatix.worker import SlotPools, Worker
from support import drop_postgres_database, postgres_database

PRICE = 100
"""z-image-turbo's credits per image; creatix-flash is drawn by the same preview engine,
under another batch key."""
MODELS = ("z-image-turbo", "creatix-flash")
PREVIEW_MAX_BATCH = 8


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('batched') / 'queue.db'}"
        upgrade_database(url)
        yield url
        return
    url = postgres_database()
    if url is None:
        pytest.skip("PostgreSQL is not reachable")
    upgrade_database(url)
    yield url
    drop_postgres_database(url)


class Queue:
    def __init__(self, url: str, lease_seconds: float = 30) -> None:
        self.db = Database(url)
        catalog = load_catalog()
        self.jobs = JobService(
            self.db,
            catalog,
            EngineRegistry.from_catalog(catalog),
            JobEvents(),
            QueueSettings(lease_seconds=lease_seconds, poll_interval_seconds=30),
        )

    async def account(self, credits: int) -> Principal:
        name = f"acct-{uuid.uuid4().hex[:12]}"
        info = await accounts.ensure_account(self.db, name, "paid", "free")
        await self.db.write(lambda s: ledger.grant(s, info.id, credits, utcnow(), None))
        return Principal(account_id=info.id, account_name=name, plan="paid", key_id="key_b")

    async def submit(self, principal: Principal, count: int, model: str = MODELS[0]) -> list[Job]:
        spec = ImageSpec(prompt="batched", width=512, height=512, seed=1)
        return [await self.jobs.intake.submit_image(principal, model, spec) for _ in range(count)]

    async def settlement(self, principal: Principal) -> tuple[int, int, dict[str, list[str]]]:
        """(balance, ledger sum, the kinds of ledger entry of each job)."""

        def read(session: Session) -> tuple[int, int, dict[str, list[str]]]:
            entries: dict[str, list[str]] = {}
            rows = session.execute(
                select(LedgerEntry.job_id, LedgerEntry.kind)
                .where(LedgerEntry.account_id == principal.account_id)
                .order_by(LedgerEntry.kind)
            )
            for job_id, kind in rows:
                entries.setdefault(job_id, []).append(kind)
            balance = ledger.balance_of(session, principal.account_id).balance
            return balance, ledger.ledger_sum(session, principal.account_id), entries

        return await self.db.read(read)

    async def statuses(self, job_ids: list[str]) -> dict[str, str]:
        def read(session: Session) -> dict[str, str]:
            rows = session.execute(select(JobRow.id, JobRow.status).where(JobRow.id.in_(job_ids)))
            return {job_id: status for job_id, status in rows}

        return await self.db.read(read)

    async def counted(self, principal: Principal) -> tuple[int, int]:
        """(jobs, images) the usage rollup counts for the account, all keys."""

        def read(session: Session) -> tuple[int, int]:
            jobs, images = session.execute(
                select(func.sum(UsageDaily.jobs), func.sum(UsageDaily.images)).where(
                    UsageDaily.account_id == principal.account_id,
                    UsageDaily.key_id == ALL_KEYS,
                )
            ).one()
            return int(jobs or 0), int(images or 0)

        return await self.db.read(read)

    async def assets(self, job_ids: list[str]) -> dict[str, int]:
        def read(session: Session) -> dict[str, int]:
            rows = session.execute(
                select(AssetRow.job_id, func.count())
                .where(AssetRow.job_id.in_(job_ids))
                .group_by(AssetRow.job_id)
            )
            return {job_id: count for job_id, count in rows}

        return await self.db.read(read)


def _output(size_bytes: int = 1) -> StoredOutput:
    return StoredOutput(
        kind="image",
        storage_key=f"k/{uuid.uuid4().hex}.png",
        mime_type="image/png",
        size_bytes=size_bytes,
        checksum="sha256:0",
    )


UNSTORABLE = 2**70
"""A size no database integer column holds: the completion's INSERT of its asset fails."""


@pytest.fixture
async def queue(database_url: str) -> AsyncIterator[Queue]:
    queue = Queue(database_url)
    yield queue
    await queue.db.dispose()


async def test_one_claim_leases_several_batches_each_of_one_batch_key(queue: Queue) -> None:
    principal = await queue.account(credits=100 * PRICE)
    first = await queue.submit(principal, 10, MODELS[0])
    second = await queue.submit(principal, 3, MODELS[1])

    claim = await queue.jobs.lifecycle.claim("w", batches=3)

    sizes = [len(batch) for batch in claim.batches]
    assert sizes == [PREVIEW_MAX_BATCH, 10 - PREVIEW_MAX_BATCH, 3], "full batches, in order"
    for batch in claim.batches:
        assert len({job.model for job in batch}) == 1, "a batch shares one batch key"
        assert all(job.status is JobStatus.RUNNING and job.attempts == 1 for job in batch)
    assert {job.id for job in claim.jobs} == {job.id for job in first + second}
    assert not claim.more_queued
    assert (await queue.jobs.lifecycle.claim("other", batches=3)).jobs == []


async def test_two_workers_claiming_batches_at_once_never_share_a_job(
    database_url: str, queue: Queue
) -> None:
    """Two workers, each with its own connections on its own thread, claim in rounds, both
    at once in each round (on SQLite one waits for the other's write lock; on PostgreSQL
    neither waits: ``SKIP LOCKED``)."""
    principal = await queue.account(credits=100 * PRICE)
    submitted = await queue.submit(principal, 30, MODELS[0]) + await queue.submit(
        principal, 30, MODELS[1]
    )
    rounds = 3
    in_step = threading.Barrier(2)

    def worker(name: str) -> list[str]:
        async def claims() -> list[str]:
            own = Queue(database_url)
            held: list[str] = []
            for _ in range(rounds):
                in_step.wait()
                claim = await own.jobs.lifecycle.claim(name, batches=2)
                held += [job.id for job in claim.jobs]
            await own.db.dispose()
            return held

        return asyncio.run(claims())

    with ThreadPoolExecutor(2) as pool:
        held_a, held_b = pool.map(worker, ["a", "b"])

    assert not set(held_a) & set(held_b), "no job leased to both"
    assert sorted(held_a + held_b) == sorted(job.id for job in submitted)
    assert len(held_a) >= 2 * PREVIEW_MAX_BATCH, "both claimed full rounds"
    assert len(held_b) >= 2 * PREVIEW_MAX_BATCH


async def test_completions_in_one_transaction_settle_each_job_exactly_once(queue: Queue) -> None:
    principal = await queue.account(credits=20 * PRICE)
    submitted = await queue.submit(principal, 12)
    claimed = (await queue.jobs.lifecycle.claim("w", batches=2)).jobs
    assert len(claimed) == 12

    done = await queue.jobs.lifecycle.complete_many(
        "w", [Completion(job.id, [_output()], 0.5) for job in claimed]
    )
    again = await queue.jobs.lifecycle.complete_many(
        "w", [Completion(job.id, [_output()], 0.5) for job in claimed[:3]]
    )

    assert done == [True] * 12
    assert again == [False] * 3, "a job ends once"
    balance, ledger_sum, entries = await queue.settlement(principal)
    assert balance == ledger_sum == 20 * PRICE - 12 * PRICE
    assert all(entries[job.id] == ["charge", "refund", "reserve"] for job in submitted)
    assert await queue.counted(principal) == (12, 12)
    assert await queue.assets([job.id for job in submitted]) == {job.id: 1 for job in submitted}


async def test_a_crash_mid_batch_requeues_every_job_of_it_and_each_is_settled_once(
    database_url: str,
) -> None:
    """Worker A leases two batches, completes three jobs and dies: the rest of its batches go
    back to the queue when their leases expire, worker B finishes them, and A's late
    completions are refused. Every job is charged once and refunded once."""
    queue = Queue(database_url, lease_seconds=0.2)
    principal = await queue.account(credits=40 * PRICE)
    submitted = await queue.submit(principal, 16)
    claim = await queue.jobs.lifecycle.claim("a", batches=2)
    assert len(claim.jobs) == 16
    finished_by_a = claim.jobs[:3]
    assert (
        await queue.jobs.lifecycle.complete_many(
            "a", [Completion(job.id, [_output()], 0.1) for job in finished_by_a]
        )
        == [True] * 3
    )

    await asyncio.sleep(0.3)  # A is gone: its leases run out
    assert await queue.jobs.lifecycle.requeue_expired() == 13
    rest = (await queue.jobs.lifecycle.claim("b", batches=2)).jobs
    assert sorted(job.id for job in rest) == sorted(job.id for job in claim.jobs[3:])
    assert all(job.attempts == 2 for job in rest)
    late = await queue.jobs.lifecycle.complete_many(
        "a", [Completion(job.id, [_output()], 0.1) for job in rest]
    )
    by_b = await queue.jobs.lifecycle.complete_many(
        "b", [Completion(job.id, [_output()], 0.1) for job in rest]
    )

    assert late == [False] * 13, "the dead worker's completions are refused"
    assert by_b == [True] * 13
    statuses = await queue.statuses([job.id for job in submitted])
    assert set(statuses.values()) == {JobStatus.SUCCEEDED}
    balance, ledger_sum, entries = await queue.settlement(principal)
    assert balance == ledger_sum == 40 * PRICE - 16 * PRICE
    assert all(entries[job.id] == ["charge", "refund", "reserve"] for job in submitted)
    assert await queue.counted(principal) == (16, 16)
    await queue.db.dispose()


async def test_a_failing_completion_records_nothing_of_its_transaction(queue: Queue) -> None:
    principal = await queue.account(credits=10 * PRICE)
    await queue.submit(principal, 4)
    claimed = (await queue.jobs.lifecycle.claim("w")).jobs
    completions = [Completion(job.id, [_output()], 0.1) for job in claimed]
    completions[2] = Completion(claimed[2].id, [_output(UNSTORABLE)], 0.1)

    with pytest.raises(Exception):  # noqa: B017, PT011 (each driver names its overflow its own way)
        await queue.jobs.lifecycle.complete_many("w", completions)

    statuses = await queue.statuses([job.id for job in claimed])
    assert set(statuses.values()) == {JobStatus.RUNNING}, "all still leased, none half-ended"
    balance, ledger_sum, entries = await queue.settlement(principal)
    assert balance == ledger_sum == 10 * PRICE - 4 * PRICE, "only the reservations"
    assert all(entries[job.id] == ["reserve"] for job in claimed)
    assert await queue.counted(principal) == (0, 0)
    assert (
        await queue.jobs.lifecycle.complete_many(
            "w", [Completion(job.id, [_output()], 0.1) for job in claimed]
        )
        == [True] * 4
    ), "and they can still be completed"


async def test_concurrent_completions_share_a_transaction_and_a_bad_one_fails_alone(
    queue: Queue,
) -> None:
    """Completions made at the same time commit together; one that fails does not take its
    neighbours with it."""
    principal = await queue.account(credits=10 * PRICE)
    await queue.submit(principal, 6)
    claimed = (await queue.jobs.lifecycle.claim("w")).jobs
    commits: list[object] = []

    def committed(connection: object) -> None:
        commits.append(connection)

    event.listen(queue.db.engine, "commit", committed)

    outcomes = await asyncio.gather(
        *(queue.jobs.lifecycle.complete(job.id, "w", [_output()], 0.1) for job in claimed[:4])
    )
    event.remove(queue.db.engine, "commit", committed)
    assert outcomes == [True] * 4
    assert len(commits) == 1

    good, bad = claimed[4], claimed[5]
    mixed = await asyncio.gather(
        queue.jobs.lifecycle.complete(good.id, "w", [_output()], 0.1),
        queue.jobs.lifecycle.complete(bad.id, "w", [_output(UNSTORABLE)], 0.1),
        return_exceptions=True,
    )

    assert mixed[0] is True
    assert isinstance(mixed[1], Exception)
    statuses = await queue.statuses([job.id for job in claimed])
    assert statuses[bad.id] == JobStatus.RUNNING
    assert [statuses[job.id] for job in claimed[:5]] == [JobStatus.SUCCEEDED] * 5
    balance, ledger_sum, entries = await queue.settlement(principal)
    assert balance == ledger_sum == 10 * PRICE - 6 * PRICE
    assert all(entries[job.id] == ["charge", "refund", "reserve"] for job in claimed[:5])
    assert entries[bad.id] == ["reserve"]


async def test_a_worker_with_free_slots_leases_a_batch_for_each_in_one_claim(
    queue: Queue, tmp_path: Path
) -> None:
    """A worker with three free slots leases three full batches in its first claim, runs
    them all to success, and has every slot free again afterwards."""
    principal = await queue.account(credits=30 * PRICE)
    spec = ImageSpec(prompt="batched", width=256, height=256, seed=1)
    submitted = [
        await queue.jobs.intake.submit_image(principal, MODELS[0], spec)
        for _ in range(3 * PREVIEW_MAX_BATCH)
    ]
    storage = LocalStorage(tmp_path / "files", UrlSigner("secret"))
    worker = Worker(
        queue.jobs, storage, concurrency=3, poll_interval_seconds=0.05, models=[MODELS[0]]
    )
    claims: list[tuple[int, int]] = []
    claim = queue.jobs.lifecycle.claim

    async def recorded(*args: Any, batches: int = 1, **kwargs: Any) -> Claim:
        claimed = await claim(*args, batches=batches, **kwargs)
        claims.append((batches, len(claimed.batches)))
        return claimed

    queue.jobs.lifecycle.claim = recorded  # type: ignore[method-assign]
    with contextlib.ExitStack() as watching:
        endings = [watching.enter_context(queue.jobs.events.watch(job.id)) for job in submitted]
        running = asyncio.create_task(worker.run())
        try:
            async with asyncio.timeout(120):
                ended = await asyncio.gather(*endings)
                # Each batch gives its slot back once its last job is recorded.
                if worker._inflight:
                    await asyncio.wait(set(worker._inflight))
        finally:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running

    assert [job.status for job in ended] == [JobStatus.SUCCEEDED] * len(submitted)
    assert claims[0] == (3, 3), "three slots free: three batches in one claim"
    assert worker._slots.take_up_to(SlotPools.SHARED, 10) == 3, "every slot given back"
    balance, ledger_sum, entries = await queue.settlement(principal)
    assert balance == ledger_sum == 30 * PRICE - 3 * PREVIEW_MAX_BATCH * PRICE
    assert all(entries[job.id] == ["charge", "refund", "reserve"] for job in submitted)
