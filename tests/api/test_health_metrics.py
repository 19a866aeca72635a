"""``/readyz`` and ``/metrics`` against real servers: every check passing and each failing,
and the metrics a scrape shows after real requests, jobs and a webhook."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from creatix.accounts import service as accounts
from creatix.accounts.schemas import Principal
from creatix.jobs.specs import ImageSpec
from support import LiveServer, make_settings, sqlite_only
from webhooks.receiver import Receiver

GENERATIONS = "/v1/images/generations"
PLATFORM = "/api/platform"
READY = {"database": "ok", "storage": "ok", "redis": "not configured"}


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[LiveServer]:
    """A server of the test's own, so its counters start at zero; webhooks may reach loopback."""
    live = LiveServer(make_settings(tmp_path / "data", allow_private_urls=True)).start()
    live.settings.public_url = live.url
    yield live
    live.stop()


@pytest.fixture
def idle(tmp_path: Path) -> Iterator[LiveServer]:
    """A server without a worker: what is submitted stays queued."""
    live = LiveServer(make_settings(tmp_path / "data", run_worker=False)).start()
    yield live
    live.stop()


def _samples(server: LiveServer) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """One scrape of ``/metrics``: each sample's value by its name and labels."""
    response = httpx.get(f"{server.url}/metrics", timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def _value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


# -- /readyz ---------------------------------------------------------------------------------


def test_readyz_is_200_with_every_check_and_needs_no_key(server: LiveServer) -> None:
    response = httpx.get(f"{server.url}/readyz", timeout=30)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ready", "checks": READY}
    assert httpx.get(f"{server.url}/healthz", timeout=30).json() == {"status": "ok"}


@sqlite_only
def test_readyz_is_503_when_the_database_cannot_be_opened(idle: LiveServer) -> None:
    assert idle.runtime is not None
    database = Path(idle.settings.data_dir) / "creatix.db"
    # Close every pooled connection, then put a folder where the database file was: every
    # new connection fails to open it, as when its volume is gone.
    idle.call(idle.runtime.db.dispose())
    for path in (
        database,
        database.with_name("creatix.db-wal"),
        database.with_name("creatix.db-shm"),
    ):
        path.unlink(missing_ok=True)
    database.mkdir()

    response = httpx.get(f"{idle.url}/readyz", timeout=30)
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["status"] == "not ready"
    assert body["checks"]["storage"] == "ok"
    assert body["checks"]["redis"] == "not configured"
    assert "unable to open database file" in body["checks"]["database"]
    assert "\n" not in body["checks"]["database"]
    assert len(body["checks"]["database"]) <= 200


def test_readyz_is_503_when_the_files_directory_is_gone(idle: LiveServer) -> None:
    shutil.rmtree(idle.settings.files_dir)
    response = httpx.get(f"{idle.url}/readyz", timeout=30)
    assert response.status_code == 503, response.text
    assert response.json() == {
        "status": "not ready",
        "checks": {**READY, "storage": "the files directory is missing or not writable"},
    }


@contextmanager
def read_only(directory: Path) -> Iterator[None]:
    """``directory`` unwritable for this process: mode 0500, or for root, which writes
    through modes, the immutable attribute (``chattr +i``); skipped where neither works."""
    if os.geteuid() != 0:
        directory.chmod(0o500)
        try:
            yield
        finally:
            directory.chmod(0o700)
        return
    chattr = shutil.which("chattr")
    if chattr is None:
        pytest.skip("running as root, and no chattr to make a directory immutable")
    made = subprocess.run([chattr, "+i", str(directory)], capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"running as root, and chattr +i failed: {made.stderr.decode().strip()}")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(directory)], check=True)


def test_readyz_is_503_when_the_files_directory_is_read_only(idle: LiveServer) -> None:
    with read_only(idle.settings.files_dir):
        response = httpx.get(f"{idle.url}/readyz", timeout=30)
    assert response.status_code == 503, response.text
    assert response.json()["checks"]["storage"] == "the files directory is missing or not writable"


# -- /metrics --------------------------------------------------------------------------------


def test_requests_are_counted_by_route_template_method_and_status(fresh: LiveServer) -> None:
    with fresh.client(fresh.key()) as client:
        for _ in range(2):
            made = client.post(GENERATIONS, json={"model": "creatix-flash", "prompt": "a kite"})
            assert made.status_code == 200, made.text
        refused = client.post(GENERATIONS, json={"model": "creatix-flash", "prompt": "x", "n": 99})
        assert refused.status_code == 400, refused.text
        unknown = "gen_does_not_exist"
        assert client.get(f"{PLATFORM}/generations/{unknown}").status_code == 404
        assert client.get("/no/such/path").status_code == 404

    samples = _samples(fresh)
    requests = "creatix_http_requests_total"
    assert _value(samples, requests, route=GENERATIONS, method="POST", status="200") == 2
    assert _value(samples, requests, route=GENERATIONS, method="POST", status="400") == 1
    template = f"{PLATFORM}/generations/{{generation_id}}"
    assert _value(samples, requests, route=template, method="GET", status="404") == 1
    assert _value(samples, requests, route="unmatched", method="GET", status="404") == 1
    assert not any(unknown in dict(labels).get("route", "") for _, labels in samples)
    seconds = "creatix_http_request_seconds_count"
    assert _value(samples, seconds, route=GENERATIONS, method="POST") == 3

    finished = "creatix_jobs_finished_total"
    labels = {"model": "creatix-flash", "kind": "image"}
    assert _value(samples, finished, **labels, status="succeeded") == 2
    engine_runs = sum(
        value
        for (name, labels_), value in samples.items()
        if name == "creatix_engine_seconds_count" and dict(labels_).get("kind") == "image"
    )
    assert engine_runs >= 1
    assert _value(samples, "creatix_queue_depth", kind="image") == 0


def test_queue_depth_and_oldest_age_are_read_at_the_scrape(idle: LiveServer) -> None:
    with idle.client(idle.key()) as client:
        for _ in range(3):
            body = {"prompt": "a red sneaker", "modelId": "creatix-flash"}
            response = client.post(f"{PLATFORM}/generate", json=body)
            assert response.status_code == 202, response.text
    time.sleep(0.05)

    samples = _samples(idle)
    assert _value(samples, "creatix_queue_depth", kind="image") == 3
    assert _value(samples, "creatix_queue_oldest_age_seconds", kind="image") > 0
    assert _value(samples, "creatix_queue_depth", kind="video") == 0
    assert ("creatix_queue_depth", frozenset({("kind", "video")})) in samples
    assert (
        _value(
            samples,
            "creatix_jobs_finished_total",
            model="creatix-flash",
            kind="image",
            status="succeeded",
        )
        == 0
    )


def test_canceled_jobs_are_counted_once(idle: LiveServer) -> None:
    with idle.client(idle.key()) as client:
        body = {"prompt": "a red sneaker", "modelId": "creatix-flash"}
        generation_id = client.post(f"{PLATFORM}/generate", json=body).json()["id"]
        assert client.delete(f"{PLATFORM}/generations/{generation_id}").status_code == 200
        assert client.delete(f"{PLATFORM}/generations/{generation_id}").status_code == 404

    samples = _samples(idle)
    finished = "creatix_jobs_finished_total"
    labels = {"model": "creatix-flash", "kind": "image", "status": "canceled"}
    assert _value(samples, finished, **labels) == 1
    assert _value(samples, "creatix_queue_depth", kind="image") == 0
    assert _value(samples, "creatix_queue_oldest_age_seconds", kind="image") == 0


def test_a_delivered_webhook_is_counted(fresh: LiveServer) -> None:
    receiver = Receiver().start()
    try:
        assert fresh.runtime is not None
        db = fresh.runtime.db
        info = fresh.call(accounts.ensure_account(db, "hooked", "free", "free"))
        principal = Principal(
            account_id=info.id, account_name=info.name, plan=info.plan, key_id="key_t"
        )
        spec = ImageSpec(prompt="a kite", width=512, height=512, n=1, seed=7)
        fresh.call(
            fresh.runtime.jobs.intake.submit_image(
                principal, "creatix-flash", spec, webhook_url=receiver.url
            )
        )
        receiver.wait_for(1)
        deadline = time.monotonic() + 10
        delivered = 0.0
        while delivered < 1 and time.monotonic() < deadline:
            time.sleep(0.05)  # the receiver answered; the attempt is being recorded
            delivered = _value(
                _samples(fresh), "creatix_webhook_deliveries_total", outcome="delivered"
            )
        assert delivered == 1
    finally:
        receiver.stop()


def test_metrics_can_be_turned_off(tmp_path: Path) -> None:
    live = LiveServer(make_settings(tmp_path, metrics_enabled=False)).start()
    try:
        assert httpx.get(f"{live.url}/metrics", timeout=30).status_code == 404
        assert httpx.get(f"{live.url}/readyz", timeout=30).status_code == 200
    finally:
        live.stop()
