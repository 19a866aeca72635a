"""The usage rollup, written in each job's final transaction, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from creatix.accounts import service as accounts
from creatix.accounts.schemas import KeyLimits, Principal
from creatix.billing import service as billing
from creatix.catalog.loader import load_catalog
from creatix.engines.registry import EngineRegistry
from creatix.jobs.events import JobEvents
from creatix.jobs.models import JobRow
from creatix.jobs.records import QueueSettings
from creatix.jobs.service import JobService
from creatix.jobs.specs import ImageSpec, JobError, StoredOutput
from creatix.kit.clock import utcnow
from creatix.kit.db import Database
from creatix.kit.errors import InsufficientCredits
from creatix.kit.migrate import upgrade_database
from creatix.usage import service as usage
from creatix.usage.models import ALL_KEYS, UsageDaily
from creatix.usage.schemas import UsageReport
from support import drop_postgres_database, postgres_database

MODEL = "z-image-turbo"  # 100 credits an image


@pytest.fixture(params=["sqlite", "postgresql"])
async def core(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[JobService]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'rollup.db'}"
    else:
        found = postgres_database()
        if found is None:
            pytest.skip("no PostgreSQL reachable")
        url = found
    upgrade_database(url)
    db = Database(url)
    catalog = load_catalog()
    jobs = JobService(
        db, catalog, EngineRegistry.from_catalog(catalog), JobEvents(), QueueSettings()
    )
    try:
        yield jobs
    finally:
        await db.dispose()
        if request.param == "postgresql":
            drop_postgres_database(url)


async def _principal(jobs: JobService, credits: int = 10_000) -> Principal:
    await accounts.ensure_account(jobs.db, "rollup", "paid", "free")
    if credits:
        await billing.grant(jobs.db, "rollup", credits, None)
    key = await accounts.create_key(jobs.db, "rollup")
    return await accounts.authenticate(jobs.db, key.secret)


def _outputs(n: int) -> list[StoredOutput]:
    return [
        StoredOutput(
            kind="image",
            storage_key=f"images/{i}-{utcnow().timestamp()}.png",
            mime_type="image/png",
            size_bytes=1,
            checksum="sha256:0",
        )
        for i in range(n)
    ]


def _spec(n: int) -> ImageSpec:
    return ImageSpec(prompt="rollup", width=512, height=512, n=n, seed=1)


async def _rows(jobs: JobService, account_id: str) -> list[UsageDaily]:
    def read(session: Session) -> list[UsageDaily]:
        query = select(UsageDaily).where(UsageDaily.account_id == account_id)
        return list(session.execute(query).scalars())

    return await jobs.db.read(read)


async def test_completed_failed_and_canceled_jobs_are_rolled_up_with_their_key(
    core: JobService,
) -> None:
    principal = await _principal(core)
    made = await core.intake.submit_image(principal, MODEL, _spec(2))
    broken = await core.intake.submit_image(principal, MODEL, _spec(1))
    canceled = await core.intake.submit_image(principal, MODEL, _spec(3))
    claim = await core.lifecycle.claim("w")
    claimed = {job.id for job in claim.jobs}
    assert {made.id, broken.id} <= claimed
    assert await core.lifecycle.complete(made.id, "w", _outputs(2), 0.1)
    await core.lifecycle.fail(broken.id, "w", JobError(code="boom", message="x"), retryable=False)
    if canceled.id in claimed:
        await core.lifecycle.fail(
            canceled.id, "w", JobError(code="boom", message="x"), retryable=False
        )
    else:
        await core.lifecycle.cancel(canceled.id, principal.account_id)

    by_key = {row.key_id: row for row in await _rows(core, principal.account_id)}
    assert set(by_key) == {principal.key_id, ALL_KEYS}
    for row in by_key.values():
        assert (row.day, row.model, row.kind) == (utcnow().date(), MODEL, "image")
        assert (row.images, row.credits, row.jobs) == (2, 200, 3)
    stored = await core.db.read(lambda s: s.get(JobRow, made.id))
    assert stored is not None
    assert stored.key_id == principal.key_id


async def test_concurrent_upserts_lose_no_count(core: JobService) -> None:
    principal = await _principal(core, credits=0)
    day = date(2026, 1, 2)

    ended = datetime(2026, 1, 2, 23, 59, tzinfo=UTC)

    def add(session: Session) -> None:
        usage.record_job_end(
            session,
            account_id=principal.account_id,
            key_id=principal.key_id,
            model=MODEL,
            kind="image",
            ended_at=ended,
            outputs=1,
            input_tokens=0,
            output_tokens=0,
            credits=100,
        )

    await asyncio.gather(*(core.db.write(add) for _ in range(40)))
    for groups in (["day", "model"], ["day", "key"]):
        report = await usage.usage(core.db, principal.account_id, day, day, groups)
        (row,) = report.rows
        assert (row.day, row.images, row.credits, row.jobs) == (day, 40, 4000, 40)


async def test_a_budget_counts_the_reservations_of_unfinished_jobs(core: JobService) -> None:
    principal = await _principal(core)
    await accounts.set_key_limits(core.db, principal.key_id, KeyLimits(budget_daily_credits=300))
    await core.intake.submit_image(principal, MODEL, _spec(2))  # 200 reserved, still queued
    with pytest.raises(InsufficientCredits) as refused:
        await core.intake.submit_image(principal, MODEL, _spec(2))
    assert refused.value.code == "key_budget_exceeded"
    assert "200 are charged or reserved today" in refused.value.message
    await core.intake.submit_image(principal, MODEL, _spec(1))  # exactly 300: allowed


async def test_the_json_drawn_from_rows_is_the_documented_report(core: JobService) -> None:
    principal = await _principal(core, credits=0)
    for day, key in ((2, principal.key_id), (3, None)):
        await core.db.write(
            lambda session, day=day, key=key: usage.record_job_end(
                session,
                account_id=principal.account_id,
                key_id=key,
                model=MODEL,
                kind="image",
                ended_at=datetime(2026, 1, day, 12, tzinfo=UTC),
                outputs=2,
                input_tokens=0,
                output_tokens=0,
                credits=200,
            )
        )
    start, end = date(2026, 1, 1), date(2026, 1, 31)
    for groups in ([], ["day"], ["key", "model"], ["day", "model", "key"]):
        table = await usage.usage_table(core.db, principal.account_id, start, end, groups)
        drawn = UsageReport.model_validate_json(usage.render_json(table))
        assert drawn == table.report()
        assert drawn.model_dump(mode="json") == json.loads(usage.render_json(table))
    by_key = await usage.usage(core.db, principal.account_id, start, end, ["key"])
    assert {(r.key_id, r.images) for r in by_key.rows} == {(principal.key_id, 2), (None, 2)}
    lines = usage.render_csv(table).splitlines()
    assert lines[0] == "day,model,key_id,images,videos,input_tokens,output_tokens,credits,jobs"
    assert lines[1] == f"2026-01-02,{MODEL},{principal.key_id},2,0,0,0,200,1"
    assert lines[2] == f"2026-01-03,{MODEL},,2,0,0,0,200,1"
