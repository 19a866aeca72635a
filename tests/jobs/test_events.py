"""JobEvents: a cancel is never lost, even when it lands as the awaited event fires."""

from __future__ import annotations

import asyncio

import pytest

from creatix.jobs.events import JobEvents


async def test_a_cancel_that_lands_as_work_arrives_still_cancels() -> None:
    events = JobEvents()
    waiter = asyncio.create_task(events.wait_for_work(timeout=30))
    await asyncio.sleep(0)  # the waiter is parked on the event
    events.job_submitted()  # the event's waiter is woken ...
    waiter.cancel()  # ... and cancelled in the same turn of the loop, as a drain does
    with pytest.raises(asyncio.CancelledError):
        await waiter
