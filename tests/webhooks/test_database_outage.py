"""The deliverer through a database outage: it backs off, logs one line going down and one
coming back, and delivers what was pending once the database is back."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from harness import Hooks
from receiver import Receiver
from sqlalchemy.exc import OperationalError

from creatix.kit.backoff import Outage
from creatix.kit.migrate import upgrade_database
from creatix.webhooks import repository
from creatix.webhooks.delivery import Deliverer
from creatix.webhooks.repository import DueDelivery
from creatix.webhooks.schemas import DeliveryInfo
from support import drop_postgres_database, postgres_database, postgres_database_reachable

LOGGER = "creatix.webhooks.delivery"
NAME = "webhook deliverer's database"
DOWN = f"{NAME}: unavailable"
BACK = f"{NAME}: recovered"
BASE_SECONDS = 0.1
CAP_SECONDS = 2.0


class LeaseSpy:
    """Wraps a deliverer's leasing: when each try started and whether it failed."""

    def __init__(self, deliverer: Deliverer) -> None:
        self.tries: list[tuple[float, bool]] = []
        lease = deliverer._lease

        async def spied(limit: int, now: datetime | None = None) -> list[DueDelivery]:
            started = time.monotonic()
            try:
                leased = await lease(limit, now)
            except Exception:
                self.tries.append((started, False))
                raise
            self.tries.append((started, True))
            return leased

        deliverer._lease = spied  # type: ignore[method-assign]

    @property
    def failures(self) -> int:
        return sum(1 for _, ok in self.tries if not ok)

    def waits_after_failures(self) -> list[float]:
        """The time from each failed try to the next try."""
        return [
            later - started
            for (started, ok), (later, _) in zip(self.tries, self.tries[1:], strict=False)
            if not ok
        ]


def _deliverer(hooks: Hooks) -> Deliverer:
    return Deliverer(
        hooks.jobs,
        hooks.storage,
        hooks.settings,
        poll_interval_seconds=0.05,
        outage=Outage(NAME, logging.getLogger(LOGGER), base=BASE_SECONDS, cap=CAP_SECONDS),
    )


async def _until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def _recorded(hooks: Hooks, delivery: DeliveryInfo, timeout: float = 30.0) -> DeliveryInfo:
    """The delivery once its attempt is recorded (the receiver has it a moment before)."""
    deadline = time.monotonic() + timeout
    while (found := await hooks.delivery(delivery.id, delivery.job_id)).status == "pending":
        assert time.monotonic() < deadline, "the attempt was never recorded"
        await asyncio.sleep(0.02)
    return found


def _lines(caplog: pytest.LogCaptureFixture, start: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.getMessage().startswith(start)]


def _assert_told_once_each_way(caplog: pytest.LogCaptureFixture, spy: LeaseSpy) -> None:
    [down] = _lines(caplog, DOWN)
    [back] = _lines(caplog, BACK)
    assert down.levelno == logging.WARNING
    assert down.exc_info is None, "a database error is one line, not a traceback"
    assert caplog.records.index(down) < caplog.records.index(back)
    assert not [r for r in caplog.records if r.exc_info], "no tracebacks at all"
    assert "OperationalError" in down.getMessage()
    waits = spy.waits_after_failures()
    assert len(waits) == spy.failures >= 4
    for failures, waited in enumerate(waits, start=1):
        shortest = min(CAP_SECONDS, BASE_SECONDS * 2 ** (failures - 1)) / 2
        assert waited >= shortest, f"after failure {failures}: {waits}"


@contextlib.asynccontextmanager
async def _running(deliverer: Deliverer) -> AsyncIterator[None]:
    task = asyncio.create_task(deliverer.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_leasing_that_fails_backs_off_logs_once_each_way_then_delivers(
    hooks: Hooks, receiver: Receiver, caplog: pytest.LogCaptureFixture, monkeypatch: Any
) -> None:
    """The leasing statement raising the driver's error, as SQLite does when its file
    cannot be opened, for six rounds."""
    caplog.set_level(logging.INFO, logger="creatix")
    delivery = await hooks.delivery_to(receiver.url)
    lease_due = repository.lease_due
    rounds = iter(range(6))

    def failing(session: Any, **arguments: Any) -> list[DueDelivery]:
        if next(rounds, None) is not None:
            raise OperationalError(
                "UPDATE webhook_deliveries ...",
                {},
                sqlite3.OperationalError("unable to open database file"),
            )
        return lease_due(session, **arguments)

    monkeypatch.setattr(repository, "lease_due", failing)
    deliverer = _deliverer(hooks)
    spy = LeaseSpy(deliverer)
    async with _running(deliverer):
        [received] = await asyncio.to_thread(receiver.wait_for, 1, 20.0)
        assert (await _recorded(hooks, delivery)).status == "delivered"

    assert received.headers["webhook-id"] == delivery.id
    assert spy.failures == 6
    _assert_told_once_each_way(caplog, spy)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    url = postgres_database()
    if url is None:
        pytest.skip("PostgreSQL is not reachable")
    upgrade_database(url)
    yield url
    postgres_database_reachable(url, True)
    drop_postgres_database(url)


async def test_a_postgresql_outage_is_one_line_down_one_line_back_then_delivery(
    tmp_path: Path, postgres_url: str, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="creatix")
    hooks = Hooks(tmp_path, allow_private_urls=True, database_url=postgres_url)
    try:
        delivery = await hooks.delivery_to(receiver.url)
        deliverer = _deliverer(hooks)
        spy = LeaseSpy(deliverer)
        await asyncio.to_thread(postgres_database_reachable, postgres_url, False)
        try:
            async with _running(deliverer):
                await _until(lambda: spy.failures >= 4, "four failed leases")
                assert receiver.received == []
                await asyncio.to_thread(postgres_database_reachable, postgres_url, True)
                [received] = await asyncio.to_thread(receiver.wait_for, 1, 20.0)
                assert (await _recorded(hooks, delivery)).status == "delivered"
        finally:
            await asyncio.to_thread(postgres_database_reachable, postgres_url, True)
        assert received.headers["webhook-id"] == delivery.id
        _assert_told_once_each_way(caplog, spy)
    finally:
        await hooks.close()
