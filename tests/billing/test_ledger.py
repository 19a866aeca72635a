"""The money rules, through the real job core on SQLite and, where reachable, PostgreSQL.

An account's balance always equals the sum of its ledger and never goes below zero; a job
reserves its full price when it is created and is settled exactly once: it is charged what
it produced and refunded the rest, however it ends and however often it was retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from creatix.accounts import service as accounts
from creatix.accounts.schemas import Principal
from creatix.billing import ledger
from creatix.billing.models import LedgerEntry
from creatix.catalog.loader import load_catalog
from creatix.engines.registry import EngineRegistry
from creatix.jobs import intake as job_intake
from creatix.jobs.events import JobEvents
from creatix.jobs.models import JobRow
from creatix.jobs.records import QueueSettings
from creatix.jobs.service import JobService
from creatix.jobs.specs import IdempotencyKey, ImageSpec, JobError, JobStatus, StoredOutput
from creatix.kit.clock import utcnow
from creatix.kit.db import Database
from creatix.kit.errors import Conflict, InsufficientCredits
from creatix.kit.migrate import upgrade_database
from support import drop_postgres_database, lined_up_before, postgres_database

PRICE = 100  # z-image-turbo, credits per image


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('ledger') / 'ledger.db'}"
        upgrade_database(url)
        yield url
        return
    url = postgres_database()
    if url is None:
        pytest.skip("PostgreSQL is not reachable")
    upgrade_database(url)
    yield url
    drop_postgres_database(url)


class Books:
    """The job core over a real database, and the questions the invariants ask of it."""

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

    async def account(self, credits: int = 0) -> Principal:
        name = f"acct-{uuid.uuid4().hex[:12]}"
        info = await accounts.ensure_account(self.db, name, "paid", "free")
        if credits:
            await self.db.write(lambda s: ledger.grant(s, info.id, credits, utcnow(), None))
        return Principal(account_id=info.id, account_name=name, plan="paid", key_id="key_t")

    async def submit(self, principal: Principal, n: int = 1, key: str | None = None):
        spec = ImageSpec(prompt="ledger", width=512, height=512, n=n, seed=1)
        idempotency = IdempotencyKey(key=key, fingerprint=f"n={n}") if key else None
        return await self.jobs.intake.submit_image(
            principal, "z-image-turbo", spec, idempotency=idempotency
        )

    async def balance(self, principal: Principal) -> int:
        return (await self.db.read(lambda s: ledger.balance_of(s, principal.account_id))).balance

    async def check_invariants(self, principal: Principal) -> None:
        def read(session: Session) -> tuple[int, int, list[tuple[str, str, int, int]]]:
            totals = ledger.balance_of(session, principal.account_id)
            per_job = session.execute(
                select(JobRow.status, LedgerEntry.kind, func.count(), func.sum(LedgerEntry.amount))
                .join(LedgerEntry, LedgerEntry.job_id == JobRow.id)
                .where(JobRow.account_id == principal.account_id)
                .group_by(JobRow.id, JobRow.status, LedgerEntry.kind)
            ).all()
            rows = [(status, kind, count, total) for status, kind, count, total in per_job]
            return totals.balance, ledger.ledger_sum(session, principal.account_id), rows

        balance, ledger_total, per_job = await self.db.read(read)
        assert balance == ledger_total, "the balance is the sum of the ledger"
        assert balance >= 0
        for status, kind, count, _total in per_job:
            assert count == 1, f"one {kind} per job"
            if kind in ("refund", "charge"):
                assert JobStatus(status).is_terminal, "only an ended job is settled"

    async def entries(self, job_id: str) -> dict[str, int]:
        def read(session: Session) -> dict[str, int]:
            rows = session.execute(
                select(LedgerEntry.kind, LedgerEntry.amount).where(LedgerEntry.job_id == job_id)
            ).all()
            return {kind: amount for kind, amount in rows}

        return await self.db.read(read)


def _outputs(count: int) -> list[StoredOutput]:
    return [
        StoredOutput(
            kind="image",
            storage_key=f"k/{uuid.uuid4().hex}.png",
            mime_type="image/png",
            size_bytes=1,
            checksum="sha256:0",
        )
        for _ in range(count)
    ]


@pytest.fixture
async def books(database_url: str) -> AsyncIterator[Books]:
    books = Books(database_url)
    yield books
    await books.db.dispose()


async def test_a_job_reserves_its_price_and_is_charged_what_it_produced(books: Books) -> None:
    principal = await books.account(credits=1000)
    job = await books.submit(principal, n=3)
    assert job.credits_reserved == 300
    assert await books.balance(principal) == 700
    [claimed] = (await books.jobs.lifecycle.claim("w")).jobs
    assert await books.jobs.lifecycle.complete(claimed.id, "w", _outputs(2), 0.1)
    assert await books.entries(job.id) == {"reserve": -300, "refund": 300, "charge": -200}
    assert (await books.jobs.get(job.id)).credits_charged == 200
    statement = await books.db.read(lambda s: ledger.balance_of(s, principal.account_id))
    assert (statement.balance, statement.lifetime_purchased, statement.lifetime_used) == (
        800,
        1000,
        200,
    )
    await books.check_invariants(principal)


async def test_an_unaffordable_job_is_refused_and_nothing_is_created(books: Books) -> None:
    principal = await books.account(credits=150)
    with pytest.raises(InsufficientCredits):
        await books.submit(principal, n=2)
    jobs = await books.db.read(
        lambda s: s.execute(
            select(func.count()).where(JobRow.account_id == principal.account_id)
        ).scalar_one()
    )
    assert jobs == 0
    assert await books.balance(principal) == 150
    await books.check_invariants(principal)


async def test_failure_and_cancel_refund_in_full(books: Books) -> None:
    principal = await books.account(credits=500)
    failing = await books.submit(principal, n=2)
    canceled = await books.submit(principal, n=1)
    await books.jobs.lifecycle.claim("w")
    error = JobError(code="engine_error", message="boom")
    assert (
        await books.jobs.lifecycle.fail(failing.id, "w", error, retryable=False) is JobStatus.FAILED
    )
    assert (
        await books.jobs.lifecycle.cancel(canceled.id, principal.account_id)
    ).status is JobStatus.CANCELED
    assert await books.balance(principal) == 500
    assert await books.entries(failing.id) == {"reserve": -200, "refund": 200}
    assert await books.entries(canceled.id) == {"reserve": -100, "refund": 100}
    assert not await books.jobs.lifecycle.complete(canceled.id, "w", _outputs(1), 0.1)
    await books.check_invariants(principal)


async def test_a_retried_job_settles_once(books: Books) -> None:
    principal = await books.account(credits=100)
    job = await books.submit(principal)
    error = JobError(code="engine_error", message="transient")
    for _ in range(2):
        await books.jobs.lifecycle.claim("w")
        assert (
            await books.jobs.lifecycle.fail(job.id, "w", error, retryable=True) is JobStatus.QUEUED
        )
        assert await books.entries(job.id) == {"reserve": -100}
    await books.jobs.lifecycle.claim("w")
    assert await books.jobs.lifecycle.complete(job.id, "w", _outputs(1), 0.1)
    assert await books.entries(job.id) == {"reserve": -100, "refund": 100, "charge": -100}
    await books.check_invariants(principal)


async def test_concurrent_submits_never_overdraw(books: Books) -> None:
    principal = await books.account(credits=20 * PRICE)

    async def submit() -> bool:
        try:
            await books.submit(principal)
        except InsufficientCredits:
            return False
        return True

    results = await asyncio.gather(*(submit() for _ in range(50)))
    assert sum(results) == 20
    assert await books.balance(principal) == 0
    await books.check_invariants(principal)


RESERVATIONS = 10


def test_concurrent_reservations_never_overdraw(database_url: str) -> None:
    """Ten transactions at once, on threads of their own, each reserve 300 of 1000 credits:
    three hold, seven are refused for want of credits, and the balance is 100.

    ``ledger.reserve`` is called directly: through ``submit`` the account's quota and
    fair-queue rows are locked first, which serialises an account's reservations and would
    hide a reservation that reads the balance before writing it. On PostgreSQL the ten are
    also lined up just before their write of the balance, so that any such read would be
    stale in all of them; on SQLite they contend for the file's write lock.
    """
    books = Books(database_url)
    try:
        principal, job_ids = asyncio.run(_account_with_unreserved_jobs(books, RESERVATIONS))

        def reserve(job_id: str) -> str:
            def hold(session: Session) -> None:
                ledger.reserve(session, principal.account_id, job_id, 3 * PRICE, utcnow())

            try:
                books.db.run_write(hold)
            except InsufficientCredits as refused:  # nothing else counts as a refusal
                return refused.code
            return "held"

        lined_up = (
            contextlib.nullcontext()
            if books.db.is_sqlite
            else lined_up_before([books.db.engine], "credit_balances", RESERVATIONS)
        )
        with lined_up, ThreadPoolExecutor(RESERVATIONS) as pool:
            outcomes = list(pool.map(reserve, job_ids))
        assert outcomes.count("held") == 3, outcomes
        assert outcomes.count("insufficient_credits") == RESERVATIONS - 3, outcomes
        assert asyncio.run(books.balance(principal)) == 100
        asyncio.run(books.check_invariants(principal))
    finally:
        asyncio.run(books.db.dispose())


async def _account_with_unreserved_jobs(books: Books, count: int) -> tuple[Principal, list[str]]:
    """An account with 10 × PRICE credits and ``count`` queued jobs that reserved nothing
    (submitted as an unlimited account), for reservations to name."""
    principal = await books.account(credits=10 * PRICE)
    unlimited = principal.model_copy(update={"unlimited": True})
    jobs = [await books.submit(unlimited) for _ in range(count)]
    assert await books.balance(principal) == 10 * PRICE
    return principal, [job.id for job in jobs]


async def test_one_idempotency_key_creates_one_job_and_one_charge(books: Books) -> None:
    principal = await books.account(credits=1000)
    jobs = await asyncio.gather(*(books.submit(principal, key="order-42") for _ in range(10)))
    assert len({job.id for job in jobs}) == 1
    assert await books.balance(principal) == 900
    with pytest.raises(Conflict):
        await books.submit(principal, n=2, key="order-42")
    await books.check_invariants(principal)


def _park_earlier_examples_jobs(session: Session) -> None:
    """Each example has its own account, and claims must only see that example's jobs."""
    session.execute(
        update(JobRow)
        .where(JobRow.status.in_([JobStatus.QUEUED, JobStatus.RUNNING]))
        .values(status=JobStatus.CANCELED)
    )


async def test_a_deleted_jobs_idempotency_key_is_free_again(books: Books) -> None:
    principal = await books.account(credits=1000)
    first = await books.submit(principal, key="reused-after-delete")
    await books.jobs.delete(first.id, principal.account_id)
    second = await books.submit(principal, key="reused-after-delete")
    assert second.id != first.id
    assert await books.entries(first.id) == {"reserve": -100, "refund": 100}
    await books.check_invariants(principal)


async def test_an_idempotency_key_is_kept_24_hours_then_makes_a_new_job(
    books: Books, monkeypatch: pytest.MonkeyPatch
) -> None:
    principal = await books.account(credits=1000)
    first = await books.submit(principal, key="daily-banner")

    def clock_at(moment: datetime) -> None:
        monkeypatch.setattr(job_intake, "utcnow", lambda: moment)

    clock_at(first.created_at + timedelta(hours=23, minutes=59))
    assert (await books.submit(principal, key="daily-banner")).id == first.id
    clock_at(first.created_at + timedelta(hours=24))
    assert (await books.submit(principal, key="daily-banner")).id == first.id
    assert await books.balance(principal) == 900, "a replay reserves nothing"

    clock_at(first.created_at + timedelta(hours=24, seconds=1))
    second = await books.submit(principal, key="daily-banner")
    assert second.id != first.id
    assert await books.balance(principal) == 800, "the new job reserves its price"
    # The key now names the new job, for 24 hours from its creation.
    clock_at(second.created_at + timedelta(hours=23, minutes=59))
    assert (await books.submit(principal, key="daily-banner")).id == second.id
    assert await books.balance(principal) == 800
    await books.check_invariants(principal)


class LedgerMachine(RuleBasedStateMachine):
    """Random interleavings of grant, submit, claim, complete, fail, retry, cancel and dying
    workers, with every invariant checked after each step."""

    url: str

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.books = Books(self.url, lease_seconds=0)
        self.run(self.books.db.write(_park_earlier_examples_jobs))
        self.principal = self.run(self.books.account())
        self.running: list[str] = []
        self.submitted: list[str] = []

    def run(self, coroutine):
        return self.loop.run_until_complete(coroutine)

    @rule(amount=st.integers(min_value=1, max_value=500))
    def grant(self, amount: int) -> None:
        self.run(
            self.books.db.write(
                lambda s: ledger.grant(s, self.principal.account_id, amount, utcnow(), None)
            )
        )

    @rule(n=st.integers(min_value=1, max_value=4))
    def submit(self, n: int) -> None:
        try:
            job = self.run(self.books.submit(self.principal, n=n))
        except InsufficientCredits:
            return
        self.submitted.append(job.id)

    @rule()
    def claim(self) -> None:
        claim = self.run(self.books.jobs.lifecycle.claim("worker"))
        self.running.extend(job.id for job in claim.jobs)

    @precondition(lambda self: self.running)
    @rule(data=st.data(), produced=st.integers(min_value=0, max_value=4))
    def complete(self, data: st.DataObject, produced: int) -> None:
        job_id = data.draw(st.sampled_from(self.running))
        self.running.remove(job_id)
        self.run(self.books.jobs.lifecycle.complete(job_id, "worker", _outputs(produced), 0.1))

    @precondition(lambda self: self.running)
    @rule(data=st.data(), retryable=st.booleans())
    def fail(self, data: st.DataObject, retryable: bool) -> None:
        job_id = data.draw(st.sampled_from(self.running))
        self.running.remove(job_id)
        error = JobError(code="engine_error", message="random failure")
        self.run(self.books.jobs.lifecycle.fail(job_id, "worker", error, retryable=retryable))

    @precondition(lambda self: self.submitted)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        job_id = data.draw(st.sampled_from(self.submitted))
        self.run(self.books.jobs.lifecycle.cancel(job_id, self.principal.account_id))

    @rule()
    def workers_die(self) -> None:
        self.run(self.books.jobs.lifecycle.requeue_expired())
        self.running.clear()

    @invariant()
    def books_balance(self) -> None:
        self.run(self.books.check_invariants(self.principal))

    def teardown(self) -> None:
        self.run(self.books.db.dispose())
        self.loop.close()


def test_random_interleavings_keep_every_invariant(database_url: str) -> None:
    machine = type("Machine", (LedgerMachine,), {"url": database_url})
    runner = machine.TestCase
    runner.settings = settings(
        max_examples=25,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    runner().runTest()
