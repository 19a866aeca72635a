"""Leases: two deliverers never make the same attempt, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from harness import Hooks
from receiver import Receiver

from creatix.kit.migrate import upgrade_database
from creatix.webhooks import repository
from creatix.webhooks.delivery import Deliverer
from support import drop_postgres_database, postgres_database


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str | None]:
    if request.param == "sqlite":
        yield None
        return
    url = postgres_database()
    if url is None:
        pytest.skip("PostgreSQL is not reachable")
    upgrade_database(url)
    yield url
    drop_postgres_database(url)


@pytest.fixture
async def shared(tmp_path: Path, database_url: str | None) -> AsyncIterator[Hooks]:
    harness = Hooks(tmp_path, allow_private_urls=True, database_url=database_url)
    yield harness
    await harness.close()


async def test_a_leased_delivery_is_not_leased_again_until_its_lease_expires(
    shared: Hooks,
) -> None:
    delivery = await shared.delivery_to("http://127.0.0.1:9/hook")
    now = shared.clock.now

    def lease(owner: str, after: timedelta = timedelta(0)) -> list[str]:
        leased = shared.db.run_write(
            lambda session: repository.lease_due(
                session,
                owner=owner,
                now=now + after,
                lease_until=now + after + timedelta(seconds=60),
                limit=10,
                per_account=10,
            )
        )
        return [due.id for due in leased]

    assert lease("first") == [delivery.id]
    assert lease("second") == []
    assert lease("second", timedelta(seconds=61)) == [delivery.id], "the first one died"


async def test_accounts_take_turns_and_each_deliverer_holds_at_most_its_cap_of_one_account(
    shared: Hooks,
) -> None:
    busy = [await shared.delivery_to("http://127.0.0.1:9/busy", "busy") for _ in range(2)]
    quiet = await shared.delivery_to("http://127.0.0.1:9/quiet", "quiet")
    busy += [await shared.delivery_to("http://127.0.0.1:9/busy", "busy") for _ in range(3)]

    def lease(owner: str, limit: int) -> list[str]:
        now = shared.clock.now
        leased = shared.db.run_write(
            lambda session: repository.lease_due(
                session,
                owner=owner,
                now=now,
                lease_until=now + timedelta(seconds=60),
                limit=limit,
                per_account=2,
            )
        )
        return [due.id for due in leased]

    assert sorted(lease("first", 2)) == sorted([busy[0].id, quiet.id]), "one each first"
    assert lease("first", 10) == [busy[1].id]
    assert lease("first", 10) == [], "busy's two in flight are first's cap"

    later = await shared.delivery_to("http://127.0.0.1:9/quiet", "quiet")
    assert lease("first", 1) == [later.id], "busy's older backlog, past its cap, is passed over"
    assert lease("second", 10) == [busy[2].id, busy[3].id], "a cap per deliverer"


async def test_two_deliverers_send_each_event_exactly_once(
    shared: Hooks, receiver: Receiver
) -> None:
    receiver.status = 200
    deliveries = [await shared.delivery_to(receiver.url) for _ in range(6)]
    twins = [
        Deliverer(shared.jobs, shared.storage, shared.settings, clock=shared.clock, concurrency=2)
        for _ in range(2)
    ]
    try:
        while sum(await asyncio.gather(*(twin.run_due() for twin in twins))):
            pass
    finally:
        for twin in twins:
            await twin.aclose()
    sent = Counter(received.headers["webhook-id"] for received in receiver.received)
    assert sent == Counter(delivery.id for delivery in deliveries)
    for delivery in deliveries:
        found = await shared.delivery(delivery.id, delivery.job_id)
        assert found.status == "delivered"
        assert len(found.attempt_log) == 1
