"""Delivery over real HTTP to a loopback receiver: signing, the retry schedule, 410, leases."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from itertools import pairwise

from harness import Hooks
from receiver import Receiver
from standardwebhooks import Webhook

from creatix.webhooks import service as webhooks
from creatix.webhooks.delivery import Deliverer
from support import free_port

SCHEDULE = [
    timedelta(0),
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
]
"""When each of the 8 attempts is due, after the one before it."""
SECOND = timedelta(seconds=1)


async def test_a_receiver_answering_500_gets_8_attempts_on_the_schedule_then_failed(
    hooks: Hooks, receiver: Receiver
) -> None:
    receiver.status = 500
    delivery = await hooks.delivery_to(receiver.url)
    for number, delay in enumerate(SCHEDULE, start=1):
        if delay:
            hooks.clock.advance(delay - SECOND)
            assert await hooks.deliverer.run_due() == 0, f"attempt {number} came early"
            hooks.clock.advance(SECOND)
        assert await hooks.deliverer.run_due() == 1, f"attempt {number} is due"
        assert len(receiver.received) == number

    found = await hooks.delivery(delivery.id, delivery.job_id)
    assert found.status == "failed"
    assert found.attempts == 8
    assert found.finished_at is not None
    times = [attempt.attempted_at for attempt in found.attempt_log]
    assert [later - earlier for earlier, later in pairwise(times)] == SCHEDULE[1:]
    assert all(attempt.status_code == 500 for attempt in found.attempt_log)
    assert all(attempt.duration_ms >= 0 for attempt in found.attempt_log)
    assert {r.headers["webhook-id"] for r in receiver.received} == {delivery.id}

    hooks.clock.advance(timedelta(days=2))
    assert await hooks.deliverer.run_due() == 0
    assert len(receiver.received) == 8


async def test_a_receiver_down_then_up_gets_the_event_once_with_the_same_id(
    hooks: Hooks,
) -> None:
    port = free_port()
    receiver = Receiver(port=port)
    delivery = await hooks.delivery_to(receiver.url)
    assert await hooks.deliverer.run_due() == 1
    [refused] = (await hooks.delivery(delivery.id, delivery.job_id)).attempt_log
    assert refused.status_code is None
    assert refused.error is not None
    assert "ConnectError" in refused.error

    receiver.start()
    try:
        hooks.clock.advance(timedelta(seconds=5))
        assert await hooks.deliverer.run_due() == 1
        hooks.clock.advance(timedelta(days=2))
        assert await hooks.deliverer.run_due() == 0
    finally:
        receiver.stop()

    [received] = receiver.received
    assert received.headers["webhook-id"] == delivery.id
    secret = await webhooks.signing_secret(hooks.db, (await hooks.principal()).account_id)
    payload = Webhook(secret).verify(received.body, received.headers)
    assert payload["id"] == delivery.job_id
    assert payload["status"] == "canceled"
    assert received.headers["content-type"] == "application/json"
    found = await hooks.delivery(delivery.id, delivery.job_id)
    assert found.status == "delivered"
    assert [a.status_code for a in found.attempt_log] == [None, 204]


async def test_410_stops_the_delivery_after_one_attempt(hooks: Hooks, receiver: Receiver) -> None:
    receiver.status = 410
    delivery = await hooks.delivery_to(receiver.url)
    assert await hooks.deliverer.run_due() == 1
    hooks.clock.advance(timedelta(days=2))
    assert await hooks.deliverer.run_due() == 0
    found = await hooks.delivery(delivery.id, delivery.job_id)
    assert found.status == "stopped"
    assert [a.status_code for a in found.attempt_log] == [410]
    assert len(receiver.received) == 1


async def test_a_redirect_is_not_followed_and_is_retried(hooks: Hooks, receiver: Receiver) -> None:
    receiver.status = 307
    delivery = await hooks.delivery_to(receiver.url)
    assert await hooks.deliverer.run_due() == 1
    found = await hooks.delivery(delivery.id, delivery.job_id)
    assert found.status == "pending"
    assert found.next_attempt_at == hooks.clock.now + timedelta(seconds=5)
    assert len(receiver.received) == 1


async def test_a_name_that_does_not_resolve_is_retried(hooks: Hooks) -> None:
    delivery = await hooks.delivery_to("http://nothing-here.invalid/hook")
    assert await hooks.deliverer.run_due() == 1
    found = await hooks.delivery(delivery.id, delivery.job_id)
    assert found.status == "pending"
    [attempt] = found.attempt_log
    assert attempt.error is not None
    assert "cannot resolve" in attempt.error


async def test_the_loop_stops_when_cancelled_just_as_a_slot_frees(hooks: Hooks) -> None:
    """How a deliverer is stopped (``BackgroundWork.stop``) must work whenever it comes."""
    deliverer = Deliverer(hooks.jobs, hooks.storage, hooks.settings, poll_interval_seconds=30)
    running = asyncio.create_task(deliverer.run())
    await asyncio.sleep(0.2)  # it has leased (nothing) and waits for a slot or the poll
    deliverer._slot_freed.set()
    running.cancel()
    done, _ = await asyncio.wait({running}, timeout=5)
    if not done:
        running.cancel()
    assert running in done, "the cancellation was swallowed: the loop kept going"
    assert running.cancelled()
