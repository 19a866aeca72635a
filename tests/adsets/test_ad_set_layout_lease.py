"""The layout step's lease: a process that took a variant and died leaves it to another once
the lease expires; the dead one's late record is refused, so a variant is composed and
recorded once. A set whose copy part failed cancels the key visuals still waiting."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from creatix.adsets.assembler import AdSetAssembler
from creatix.adsets.models import AdSetVariantRow
from creatix.jobs.specs import JobError, JobStatus
from creatix.kit.clock import utcnow
from support import LiveServer, make_settings

KIT = {"name": "Northwind", "defaultCta": "Shop now"}
BRIEF = {"product": "cold brew coffee", "audience": "commuters", "offer": "20% off"}


@pytest.fixture(scope="module")
def workerless(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server without its own worker or layout step: the test runs them."""
    data_dir: Path = tmp_path_factory.mktemp("layout-lease")
    live = LiveServer(make_settings(data_dir, run_worker=False)).start()
    yield live
    live.stop()


def _start_set(server: LiveServer, secret: str, placements: list[str], variants: int) -> str:
    """A new kit and an ad set on it; the set's id."""
    with server.client(secret) as client:
        kit_id = client.post("/api/platform/brand-kits", json=KIT).json()["id"]
        body = {
            "brandKitId": kit_id,
            "brief": BRIEF,
            "placements": placements,
            "variants": variants,
            "imageModel": "creatix-flash",
            "copyModel": "gemini-2.5-flash",
        }
        started = client.post("/api/platform/ad-sets", json=body)
    assert started.status_code == 202, started.text
    return str(started.json()["id"])


def _parts_done(server: LiveServer, ad_set_id: str, secret: str) -> None:
    deadline = time.monotonic() + 120
    with server.client(secret) as client:
        while time.monotonic() < deadline:
            parts = client.get(f"/api/platform/ad-sets/{ad_set_id}").json()["adSet"]["parts"]
            if all(part["status"] == "completed" for part in parts):
                return
            time.sleep(0.2)
    raise AssertionError("the parts did not finish")


def test_an_expired_layout_lease_is_taken_up_and_the_dead_owner_cannot_record(
    workerless: LiveServer,
) -> None:
    runtime = workerless.runtime
    assert runtime is not None
    worker = runtime.worker()
    loop = workerless._loop
    assert loop is not None
    running = asyncio.run_coroutine_threadsafe(worker.run(), loop)
    try:
        _, secret = workerless.funded_account(credits=10_000)
        ad_set_id = _start_set(workerless, secret, ["square_feed", "display_300x250"], 1)
        _parts_done(workerless, ad_set_id, secret)
    finally:
        running.cancel()

    def assembler() -> AdSetAssembler:
        return AdSetAssembler(runtime.jobs, runtime.storage, runtime.provenance)

    dead, alive = assembler(), assembler()
    taken = workerless.call(runtime.db.write(dead._take)).tasks
    assert [task.ad_set_id for task in taken] == [ad_set_id]
    assert workerless.call(alive.round()) == 0, "a live lease is not taken over"

    def expire(session: Session) -> None:
        session.execute(
            update(AdSetVariantRow)
            .where(AdSetVariantRow.ad_set_id == ad_set_id)
            .values(layout_expires_at=utcnow() - timedelta(seconds=1))
        )

    workerless.call(runtime.db.write(expire))
    assert workerless.call(alive.round()) == 1
    with workerless.client(secret) as client:
        ad_set = client.get(f"/api/platform/ad-sets/{ad_set_id}").json()["adSet"]
    assert ad_set["status"] == "completed"
    (variant,) = ad_set["variants"]
    assert [c["placement"] for c in variant["creatives"]] == ["square_feed", "display_300x250"]
    late = workerless.call(runtime.db.write(lambda session: dead._record(session, taken[0], 0.1)))
    assert late is False, "the dead owner's record is refused"
    with workerless.client(secret) as client:
        again = client.get(f"/api/platform/ad-sets/{ad_set_id}").json()["adSet"]
    assert len(again["variants"][0]["creatives"]) == 2


@pytest.fixture(scope="module")
def slow_polling(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server whose loops poll once a minute: only wake-ups make things happen sooner."""
    data_dir: Path = tmp_path_factory.mktemp("slow-polling")
    settings = make_settings(data_dir)
    settings.poll_interval_seconds = 60.0
    live = LiveServer(settings).start()
    yield live
    live.stop()


def test_the_layout_step_is_woken_by_its_parts_ending(slow_polling: LiveServer) -> None:
    _, secret = slow_polling.funded_account(credits=10_000)
    ad_set_id = _start_set(slow_polling, secret, ["display_300x250"], 1)
    with slow_polling.client(secret) as client:
        deadline = time.monotonic() + 40  # well inside the minute a poll would take
        while time.monotonic() < deadline:
            ad_set = client.get(f"/api/platform/ad-sets/{ad_set_id}").json()["adSet"]
            if ad_set["status"] != "processing":
                break
            time.sleep(0.2)
    assert ad_set["status"] == "completed", ad_set


def test_a_failed_copy_part_cancels_the_key_visuals_no_creative_will_use(
    workerless: LiveServer,
) -> None:
    runtime = workerless.runtime
    assert runtime is not None
    name, secret = workerless.funded_account(credits=10_000)
    ad_set_id = _start_set(workerless, secret, ["square_feed"], 2)
    # No worker runs here: the copy part is taken and failed by hand, the key visuals wait.
    lifecycle = runtime.jobs.lifecycle
    [copy_job] = workerless.call(lifecycle.claim("by-hand", models=["gemini-2.5-flash"])).jobs
    error = JobError(code="invalid_output", message="No valid copy.")
    workerless.call(lifecycle.fail(copy_job.id, "by-hand", error, retryable=False))

    assembler = AdSetAssembler(runtime.jobs, runtime.storage, runtime.provenance)
    assert workerless.call(assembler.round()) == 2, "both variants end without their visuals"

    with workerless.client(secret) as client:
        ad_set = client.get(f"/api/platform/ad-sets/{ad_set_id}").json()["adSet"]
    assert ad_set["status"] == "failed"
    assert [v["error"] for v in ad_set["variants"]] == [
        "The copy job failed: No valid copy.; it was refunded."
    ] * 2
    visuals = [part for part in ad_set["parts"] if part["role"] == "visual"]
    assert [part["status"] for part in visuals] == ["failed", "failed"]  # the wire's word
    for part in visuals:
        visual = workerless.call(runtime.jobs.get(part["jobId"]))
        assert visual.status is JobStatus.CANCELED
    assert all(part["creditsCharged"] == 0 for part in visuals)
    assert ad_set["creditsCharged"] == 0
    assert workerless.balance(name) == 10_000, "every part refunded"
    assert workerless.call(lifecycle.claim("by-hand")).jobs == [], "nothing left to draw"
