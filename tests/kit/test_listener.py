"""The PostgreSQL listener through a real outage of its database: one line as it loses the
connection, one as it is back, reconnecting with growing waits, and listening again after."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator

import pytest

from creatix.kit.backoff import Outage
from creatix.kit.notify import JOBS_CHANNEL, Listener
from support import drop_postgres_database, postgres_database, postgres_database_reachable

LOGGER = "creatix.kit.notify"
NAME = "listening for notifications"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    url = postgres_database()
    if url is None:
        pytest.skip("PostgreSQL is not reachable")
    yield url
    postgres_database_reachable(url, True)
    drop_postgres_database(url)


async def _until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def _notify(url: str, payload: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("SELECT pg_notify(%s, %s)", (JOBS_CHANNEL, payload))


async def test_a_lost_database_is_one_line_down_one_line_back_then_notifications_again(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    heard: list[str] = []
    reconnects: list[None] = []
    outage = Outage(NAME, logging.getLogger(LOGGER), base=0.1, cap=1.0)
    listener = Listener(
        postgres_url,
        {JOBS_CHANNEL: heard.append},
        on_reconnect=lambda: reconnects.append(None),
        outage=outage,
    )
    running = asyncio.create_task(listener.run())
    try:
        await _until(listener.connected.is_set, "the first connection")
        await asyncio.to_thread(postgres_database_reachable, postgres_url, False)
        await _until(lambda: outage.failures >= 4, "four failed reconnections")
        assert not listener.connected.is_set()
        await asyncio.to_thread(postgres_database_reachable, postgres_url, True)
        await _until(lambda: listener.connected.is_set() and not outage.down, "reconnecting")
        await asyncio.to_thread(_notify, postgres_url, "after")
        await _until(lambda: heard == ["after"], "a notification after the outage")
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running

    [down, back] = [r for r in caplog.records if r.name == LOGGER and r.levelno >= logging.INFO]
    assert down.levelno == logging.WARNING
    assert down.getMessage().startswith(f"{NAME}: unavailable (ConnectionError: ")
    assert down.exc_info is None, "a lost connection is one line, not a traceback"
    assert back.getMessage().startswith(f"{NAME}: recovered after ")
    assert reconnects == [None]
    failures = int(back.getMessage().removeprefix(f"{NAME}: recovered after ").split()[0])
    assert failures >= 4
    shortest_waits = sum(min(1.0, 0.1 * 2 ** (n - 1)) / 2 for n in range(1, failures + 1))
    assert back.created - down.created >= shortest_waits, "it waited longer each time"
