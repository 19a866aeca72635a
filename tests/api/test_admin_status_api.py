"""The operator's view of the platform through a real server: every catalog model with its
engine's availability (and the reason when it cannot serve), and the queue's health: jobs
waiting and running, the oldest one's age, and the workers seen alive."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from creatix.accounts import service as accounts
from creatix.jobs.specs import ImageSpec
from support import LiveServer, make_settings

PROVIDERS = Path(__file__).parents[2] / "catalogs" / "providers.yaml"


def _operator(server: LiveServer) -> httpx.Client:
    assert server.runtime is not None
    db = server.runtime.db
    info = server.call(accounts.ensure_account(db, f"ops-{uuid.uuid4().hex[:8]}", "paid", "free"))
    key = server.call(accounts.create_account_key(db, info.id, scopes=("operator",)))
    return server.client(key.secret)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(make_settings(tmp_path_factory.mktemp("creatix"))).start()
    yield live
    live.stop()


@pytest.fixture
def idle(tmp_path: Path) -> Iterator[LiveServer]:
    """A server without a worker: what is submitted stays queued."""
    live = LiveServer(make_settings(tmp_path, run_worker=False)).start()
    yield live
    live.stop()


def test_models_list_every_kind_with_engine_availability(server: LiveServer) -> None:
    with _operator(server) as operator:
        answer = operator.get("/api/admin/models")
    assert answer.status_code == 200, answer.text
    models = {m["id"]: m for m in answer.json()["data"]}
    assert server.runtime is not None
    assert set(models) == {m.id for m in server.runtime.catalog.models}
    assert {m["kind"] for m in models.values()} == {"image", "text", "video"}
    flash = models["creatix-flash"]
    assert flash["engine_type"] == "preview"
    assert flash["available"] is True
    assert flash["unavailable_reason"] is None


def test_a_model_whose_provider_has_no_key_is_unavailable_with_the_reason(
    tmp_path: Path,
) -> None:
    live = LiveServer(make_settings(tmp_path, catalog=PROVIDERS, run_worker=False)).start()
    try:
        with _operator(live) as operator:
            models = {m["id"]: m for m in operator.get("/api/admin/models").json()["data"]}
    finally:
        live.stop()
    flash = models["creatix-flash"]
    assert flash["engine_type"] == "fal"
    assert flash["available"] is False
    assert "CREATIX_FAL_KEY" in flash["unavailable_reason"]


def test_the_queue_shows_waiting_jobs_and_their_age(idle: LiveServer) -> None:
    assert idle.runtime is not None
    db = idle.runtime.db
    _, secret = idle.funded_account(credits=10_000)
    principal = idle.call(accounts.authenticate(db, secret))
    spec = ImageSpec(prompt="a quiet harbour", width=512, height=512, n=1, seed=1)
    for _ in range(2):
        idle.call(
            idle.runtime.jobs.intake.submit_image(
                principal, "creatix-flash", spec, source="platform"
            )
        )
    with _operator(idle) as operator:
        health = operator.get("/api/admin/queue").json()
    assert health["queued"] == 2
    assert health["running"] == 0
    assert health["oldest_queued_at"] is not None
    assert 0 <= health["oldest_queued_seconds"] < 60
    assert health["workers"] == []


def test_the_queue_shows_the_workers_seen(server: LiveServer) -> None:
    with _operator(server) as operator:
        # The worker records itself once it has started; wait for that, not for earlier tests.
        deadline = time.monotonic() + 10
        while not (health := operator.get("/api/admin/queue").json())["workers"]:
            assert time.monotonic() < deadline, "the worker was never seen"
            time.sleep(0.05)
    [worker] = health["workers"]
    assert worker["hostname"]
    assert worker["models"] is None
    assert worker["concurrency"] == server.settings.worker_concurrency
    assert worker["id"].startswith(worker["hostname"])
    assert health["oldest_queued_seconds"] is None or health["oldest_queued_seconds"] >= 0


def test_plans_are_the_catalogs_with_the_default_marked(server: LiveServer) -> None:
    with _operator(server) as operator:
        plans = operator.get("/api/admin/plans").json()["data"]
    assert server.runtime is not None
    assert [p["id"] for p in plans] == [p.id for p in server.runtime.catalog.plans]
    by_id = {p["id"]: p for p in plans}
    assert by_id["free"]["default"] is True
    assert not any(p["default"] for p in plans if p["id"] != "free")
    assert by_id["free"]["quota"] == {"period": "day", "images": 50}
    assert by_id["unlimited"]["quota"] is None
    assert by_id["paid"]["priority"] == 10


def test_only_operators_see_it(server: LiveServer) -> None:
    _, secret = server.funded_account()
    with server.client(secret) as client:
        for path in ("/api/admin/models", "/api/admin/plans", "/api/admin/queue"):
            refused = client.get(path)
            assert refused.status_code == 403, path
            assert refused.json()["error"]["code"] == "insufficient_scope"
    with server.client() as anonymous:
        assert anonymous.get("/api/admin/queue").status_code == 401
