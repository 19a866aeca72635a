"""One account's stuck receiver cannot hold up another account's webhooks.

A real deliverer loop, real HTTP to loopback receivers: one that answers, one that accepts
connections and never answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from harness import Hooks
from receiver import HangingReceiver, Receiver

from creatix.webhooks.delivery import Deliverer

SLOTS = 8
PER_ACCOUNT = 2
TIMEOUT_SECONDS = 30.0
"""Longer than the default 15 s so that the stuck deliveries stay in flight however slowly
the test runs; a webhook held up behind them would wait this long."""
ALLOWED_DELAY_SECONDS = 10.0
"""The issue asks for at most a second more than usual. Single samples on a loaded CI
machine vary by seconds; a third of the timeout still tells a held-up webhook apart."""


@pytest.fixture
async def hooks(tmp_path: Path) -> AsyncIterator[Hooks]:
    harness = Hooks(
        tmp_path,
        allow_private_urls=True,
        webhook_concurrency=SLOTS,
        webhook_account_concurrency=PER_ACCOUNT,
        webhook_timeout_seconds=TIMEOUT_SECONDS,
    )
    yield harness
    await harness.close()


@pytest.fixture
def hanging() -> Iterator[HangingReceiver]:
    running = HangingReceiver().start()
    yield running
    running.stop()


async def _webhook_delay(hooks: Hooks, receiver: Receiver, account: str) -> float:
    """Seconds from asking for the job that ends with a webhook to the receiver having it."""
    expected = len(receiver.received) + 1
    started = time.monotonic()
    await hooks.delivery_to(receiver.url, account)
    await asyncio.to_thread(receiver.wait_for, expected, 30.0)
    return time.monotonic() - started


async def test_an_account_whose_receiver_hangs_does_not_hold_up_another_accounts_webhook(
    hooks: Hooks, receiver: Receiver, hanging: HangingReceiver
) -> None:
    deliverer = Deliverer(hooks.jobs, hooks.storage, hooks.settings, poll_interval_seconds=0.1)
    assert deliverer.timeout_seconds == TIMEOUT_SECONDS
    running = asyncio.create_task(deliverer.run())
    try:
        baseline = await _webhook_delay(hooks, receiver, "patient")

        # More than the slots, and more than one lease reads (slots × cap): all due first.
        backlog = SLOTS * PER_ACCOUNT + 2
        stuck = [await hooks.delivery_to(hanging.url, "stuck") for _ in range(backlog)]
        await asyncio.to_thread(hanging.wait_for_open, PER_ACCOUNT)
        await asyncio.sleep(3 * deliverer.poll_interval_seconds)  # every slot it will fill

        delay = await _webhook_delay(hooks, receiver, "patient")
        assert delay < baseline + ALLOWED_DELAY_SECONDS, (
            f"held up {delay - baseline:.2f} s by another account's stuck receiver"
        )
        assert hanging.open == hanging.accepted == PER_ACCOUNT, "its own slots, no more"
        for delivery in stuck:
            found = await hooks.delivery(delivery.id, delivery.job_id)
            assert found.status == "pending"
            assert found.attempt_log == [], "still in flight or waiting their turn"
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
