"""Creatix as a cluster on PostgreSQL: API nodes without workers and `creatix worker`
processes, woken by LISTEN/NOTIFY, drained by SIGTERM. Skipped without PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from creatix.catalog.loader import load_catalog
from support import (
    POSTGRES_ADMIN_URL,
    LiveServer,
    ServerProcess,
    creatix_command,
    drop_postgres_database,
    make_settings,
    postgres_database,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def database() -> Iterator[str]:
    url = postgres_database()
    if url is None:
        pytest.skip("no PostgreSQL reachable")
    yield url
    drop_postgres_database(url)


def _catalog(path: Path, delay: float) -> Path:
    data = load_catalog().model_dump(mode="json")
    data["engines"]["preview"]["options"] = {"delay_seconds": delay}
    path.write_text(yaml.safe_dump(data))
    return path


def _env(database: str, catalog: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "CREATIX_DATABASE_URL": database,
        "CREATIX_CATALOG": str(catalog),
        "CREATIX_SECRET_KEY": "test-secret",
        # Polling alone would take this long: what is faster was a notification.
        "CREATIX_POLL_INTERVAL_SECONDS": "10",
        **extra,
    }


def _key(env: dict[str, str]) -> str:
    created = subprocess.run(
        [
            *creatix_command("keys", "create", "--account", "cluster", "--plan", "unlimited"),
            "--json",
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return str(json.loads(created.stdout)["secret"])


def _worker(data_dir: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    command = creatix_command("worker", "--data-dir", str(data_dir))
    handle = log.open("ab")
    return subprocess.Popen(command, env=env, stdout=handle, stderr=handle)


def _listening(database: str) -> int:
    """How many connections to ``database`` are listening (their last statement a LISTEN:
    each listener's connection ends its start with its channels' LISTENs, then only waits)."""
    import psycopg

    name = database.rpartition("/")[2]
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        row = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND query ILIKE 'LISTEN%%'",
            (name,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_api_nodes_and_workers_meet_through_notifications(database: str, tmp_path: Path) -> None:
    env = _env(database, _catalog(tmp_path / "catalog.yaml", 0.0))
    api = ServerProcess(tmp_path / "api", "--no-worker", env=env)
    api.start()
    worker = _worker(tmp_path / "worker", env, tmp_path / "worker.log")
    try:
        key = _key(env)
        # The worker connects and listens: the API node's listener and the worker's.
        deadline = time.monotonic() + 60
        while _listening(database) < 2:
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            assert time.monotonic() < deadline, "the worker never listened"
            time.sleep(0.1)
        with httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {key}"}) as client:
            body = {"prompt": "a kite", "size": "512x512", "response_format": "url"}
            # Untimed: the worker's first job may still pay for the rest of its start.
            assert client.post("/v1/images/generations", json=body, timeout=60).status_code == 200
            for _ in range(3):
                started = time.monotonic()
                response = client.post("/v1/images/generations", json=body, timeout=60)
                took = time.monotonic() - started
                assert response.status_code == 200, response.text
                # The worker heard the submit and the API node heard the completion.
                assert took < 5, f"{took:.1f} s: a 10 s poll, not a notification"
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
        api.stop()
    assert worker.returncode == 0


def test_sigterm_drains_a_worker_its_running_job_finishes(database: str, tmp_path: Path) -> None:
    env = _env(database, _catalog(tmp_path / "catalog.yaml", 3.0), CREATIX_DRAIN_SECONDS="20")
    api = ServerProcess(tmp_path / "api", "--no-worker", env=env)
    api.start()
    worker = _worker(tmp_path / "worker", env, tmp_path / "worker.log")
    try:
        key = _key(env)
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=api.url, headers=headers, timeout=60) as client:
            generation = client.post(
                "/api/platform/generate", json={"prompt": "a slow one", "modelId": "creatix-flash"}
            ).json()["id"]
            deadline = time.monotonic() + 20
            while (
                client.get(f"/api/platform/generations/{generation}").json()["generation"][
                    "progress"
                ]
                == 0
            ):
                assert time.monotonic() < deadline, "the worker never started the job"
                time.sleep(0.1)
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=30) == 0
            done = client.get(f"/api/platform/generations/{generation}").json()["generation"]
    finally:
        if worker.poll() is None:
            worker.kill()
        api.stop()
    assert done["status"] == "completed", "the drain let the running job finish"


def _database_reachable(database: str, reachable: bool) -> None:
    """Cut a database off (its sessions killed, new ones refused), or let it back."""
    import psycopg

    name = database.rpartition("/")[2]
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(reachable).lower()}')
        if not reachable:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )


def test_a_database_outage_is_503s_then_business_as_usual(database: str, tmp_path: Path) -> None:
    live = LiveServer(make_settings(tmp_path / "data", database_url=database)).start()
    try:
        with live.client(live.key()) as client:
            body = {"prompt": "before", "size": "512x512", "response_format": "url"}
            assert client.post("/v1/images/generations", json=body).status_code == 200
            _database_reachable(database, False)
            try:
                during = client.post("/v1/images/generations", json=body)
                assert during.status_code == 503, during.text
                assert during.json()["error"]["code"] == "unavailable"
                assert "Retry-After" in during.headers
                assert client.get("/readyz").status_code == 503
            finally:
                _database_reachable(database, True)
            deadline = time.monotonic() + 30
            while (after := client.post("/v1/images/generations", json=body)).status_code != 200:
                assert after.status_code == 503, after.text
                assert time.monotonic() < deadline, "never recovered"
                time.sleep(0.5)
    finally:
        live.stop()
