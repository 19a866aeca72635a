"""Claiming is fair across accounts and honours plan priority, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from creatix.accounts import service as accounts
from creatix.accounts.schemas import Principal
from creatix.catalog.loader import load_catalog
from creatix.engines.registry import EngineRegistry
from creatix.jobs.events import JobEvents
from creatix.jobs.records import QueueSettings
from creatix.jobs.service import JobService
from creatix.jobs.specs import ImageSpec, StoredOutput
from creatix.kit.db import Database
from creatix.kit.migrate import upgrade_database

WORKER = "fair-worker"


@pytest.fixture
async def jobs(empty_database_url: str) -> AsyncIterator[JobService]:
    upgrade_database(empty_database_url)
    db = Database(empty_database_url)
    catalog = load_catalog()
    service = JobService(
        db, catalog, EngineRegistry.from_catalog(catalog), JobEvents(), QueueSettings()
    )
    yield service
    await db.dispose()


async def _principal(jobs: JobService, name: str, plan: str) -> Principal:
    info = await accounts.ensure_account(jobs.db, name, plan, "free")
    return Principal(account_id=info.id, account_name=info.name, plan=plan, key_id="key_t")


def _spec(seed: int) -> ImageSpec:
    return ImageSpec(prompt="fair", width=256, height=256, seed=seed)


async def _drain(jobs: JobService) -> list[str]:
    """Claim and complete until the queue is empty; the job ids in the order they started."""
    started: list[str] = []
    while True:
        claim = await jobs.lifecycle.claim(WORKER)
        if not claim.jobs:
            return started
        for job in claim.jobs:
            started.append(job.id)
            output = StoredOutput(
                kind="image",
                storage_key=f"k/{job.id}",
                mime_type="image/png",
                size_bytes=1,
                checksum="sha256:0",
            )
            assert await jobs.lifecycle.complete(job.id, WORKER, [output], 0.0)


async def test_one_accounts_burst_does_not_starve_another(jobs: JobService) -> None:
    burst = await _principal(jobs, "bursty", "paid")
    single = await _principal(jobs, "patient", "paid")
    burst_ids = [
        (await jobs.intake.submit_image(burst, "creatix-flash", _spec(seed))).id
        for seed in range(200)
    ]
    lone = (await jobs.intake.submit_image(single, "creatix-flash", _spec(1))).id
    started = await _drain(jobs)
    assert sorted(started) == sorted([*burst_ids, lone])
    burst_before = started.index(lone)
    assert burst_before < 100, f"the single job started after {burst_before} of the burst"


async def test_higher_priority_plans_are_claimed_first(jobs: JobService) -> None:
    free = await _principal(jobs, "free-acct", "free")
    paid = await _principal(jobs, "paid-acct", "paid")
    # Another model than the free jobs': no batch key in common, so no batch to share.
    early = [(await jobs.intake.submit_image(free, "creatix-pro", _spec(s))).id for s in range(3)]
    late = (await jobs.intake.submit_image(paid, "creatix-flash", _spec(9))).id
    started = await _drain(jobs)
    assert started == [late, *early]
