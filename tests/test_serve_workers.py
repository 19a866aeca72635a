"""``creatix serve --workers N`` as real subprocesses: its refusals, a child that cannot
start, and a supervised server of two API processes and two worker processes that answers,
restarts a killed child, sees a key revoked by another process, and drains on SIGTERM
losing no job."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
from contextlib import closing
from pathlib import Path

import httpx
import pytest
import yaml

from creatix.accounts.keycache import CHECK_SECONDS
from creatix.catalog.loader import load_catalog
from creatix.supervisor import MAX_WORKERS
from support import (
    ServerProcess,
    creatix_command,
    drop_postgres_database,
    free_port,
    postgres_database,
)

pytestmark = pytest.mark.slow
BODY = {"prompt": "a red bicycle on a beach", "size": "512x512", "n": 1, "response_format": "url"}


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        creatix_command(*args),
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "CREATIX_SECRET_KEY": "test-secret", **(env or {})},
    )


@pytest.mark.parametrize("workers", ["0", "-1", str(MAX_WORKERS + 1)])
def test_workers_out_of_range_is_refused_naming_the_option(tmp_path: Path, workers: str) -> None:
    port = free_port()
    result = _run("serve", "--workers", workers, "--port", str(port), "--data-dir", str(tmp_path))
    assert result.returncode == 2
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, result.stdout
    assert lines[0].startswith("error: --workers must be between 1 and 8")
    assert f"(got {workers})" in lines[0]
    assert not (tmp_path / "creatix.db").exists()  # refused before anything was made


def test_a_child_that_fails_at_start_stops_serve_with_its_reason(tmp_path: Path) -> None:
    # The supervisor does not build what the children build: a rate-limit storage the
    # limits library cannot open fails in each child's runtime.
    port = free_port()
    result = _run(
        "serve",
        "--workers",
        "2",
        "--port",
        str(port),
        "--data-dir",
        str(tmp_path / "data"),
        env={"CREATIX_RATE_LIMIT_STORAGE": "nonsense://nowhere", "CREATIX_LOG_LEVEL": "ERROR"},
    )
    assert result.returncode == 1
    assert "failed to start:" in result.stdout
    assert "nonsense" in result.stdout
    with httpx.Client() as client, pytest.raises(httpx.ConnectError):
        client.get(f"http://127.0.0.1:{port}/healthz")  # nothing half-started is left


def _children(supervisor: int) -> dict[str, int]:
    """The supervisor's children by name (``cx-api-1``, ...): pid."""
    out = subprocess.run(
        ["ps", "-o", "pid=,comm=", "--ppid", str(supervisor)],
        check=False,
        capture_output=True,
        text=True,
    ).stdout
    named = [line.split(None, 1) for line in out.splitlines() if line.strip()]
    return {name.strip(): int(pid) for pid, name in named if name.startswith("cx-")}


def _restarted(supervisor: int, name: str, old_pid: int) -> int:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        pid = _children(supervisor).get(name)
        if pid is not None and pid != old_pid:
            return pid
        time.sleep(0.2)
    raise AssertionError(f"{name} was not started again")


def _generate(url: str, secret: str) -> httpx.Response:
    # A new connection per request: SO_REUSEPORT spreads connections over the API processes.
    with httpx.Client(timeout=30) as client:
        return client.post(
            f"{url}/v1/images/generations",
            json=BODY,
            headers={"Authorization": f"Bearer {secret}"},
        )


def _all_answer(url: str, secret: str, count: int = 8) -> list[httpx.Response]:
    answers: list[httpx.Response] = []
    threads = [
        threading.Thread(target=lambda: answers.append(_generate(url, secret)))
        for _ in range(count)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def _answer_into(answers: list[httpx.Response | Exception], url: str, secret: str) -> None:
    """``_generate`` in a thread, keeping its exception (a thread's is only printed)."""
    try:
        answers.append(_generate(url, secret))
    except Exception as exc:  # reported by the caller's assertion
        answers.append(exc)


def _job_count(data_dir: Path) -> int:
    with closing(sqlite3.connect(data_dir / "creatix.db")) as db:
        [(count,)] = db.execute("SELECT count(*) FROM jobs")
    return int(count)


def _key(data_dir: Path, account: str) -> tuple[str, str]:
    created = _run(
        "keys", "create", "--account", account, "--plan", "unlimited", "--json",
        "--data-dir", str(data_dir),
    )  # fmt: skip
    assert created.returncode == 0, created.stdout + created.stderr
    key = json.loads(created.stdout)
    return key["key_id"], key["secret"]


def _slow_catalog(path: Path) -> Path:
    data = load_catalog().model_dump(mode="json")
    data["engines"]["preview"]["options"] = {"delay_seconds": 1.0}
    path.write_text(yaml.safe_dump(data))
    return path


def test_two_api_and_two_worker_processes_answer_restart_and_drain(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    revoked_id, revoked = _key(data_dir, "acme")
    _, secret = _key(data_dir, "globex")
    server = ServerProcess(
        data_dir,
        "--workers",
        "2",
        "--catalog",
        str(_slow_catalog(tmp_path / "catalog.yaml")),
        # Polling alone would hold every answer for up to a minute: the processes' answers
        # below come from their wake-ups (kit/local_bus.py).
        env={"CREATIX_POLL_INTERVAL_SECONDS": "60", "CREATIX_DRAIN_SECONDS": "20"},
    ).start()
    try:
        assert server.process is not None
        supervisor = server.process.pid
        # A child names itself early in its start, but after the spawn: wait for all four.
        expected = {"cx-api-1", "cx-api-2", "cx-worker-1", "cx-worker-2"}
        deadline = time.monotonic() + 30
        while set(children := _children(supervisor)) != expected:
            assert time.monotonic() < deadline, children
            time.sleep(0.1)

        answers = _all_answer(server.url, secret)
        assert [a.status_code for a in answers] == [200] * 8, [a.text for a in answers]
        assert all(len(a.json()["data"]) == 1 for a in answers)

        # Both processes have now (almost surely) kept the key; another process revokes it.
        assert all(_generate(server.url, revoked).status_code == 200 for _ in range(6))
        revoking = _run("keys", "revoke", revoked_id, "--data-dir", str(data_dir))
        assert revoking.returncode == 0, revoking.stdout + revoking.stderr
        time.sleep(CHECK_SECONDS + 0.1)
        assert [_generate(server.url, revoked).status_code for _ in range(10)] == [401] * 10

        for name in ("cx-api-1", "cx-worker-1"):
            os.kill(children[name], signal.SIGKILL)
            children[name] = _restarted(supervisor, name, children[name])
        time.sleep(0.5)
        answers = _all_answer(server.url, secret)
        assert [a.status_code for a in answers] == [200] * 8, [a.text for a in answers]

        # SIGTERM with requests in flight: each is answered, then every process exits.
        # "In flight" means its job exists (the request was read and is being handled): a
        # connection whose request was not read yet may be closed by the drain.
        before = _job_count(data_dir)
        in_flight: list[httpx.Response | Exception] = []
        threads = [
            threading.Thread(target=_answer_into, args=(in_flight, server.url, secret))
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while _job_count(data_dir) < before + 4:
            assert time.monotonic() < deadline, in_flight
            time.sleep(0.05)
        server.process.send_signal(signal.SIGTERM)
        for thread in threads:
            thread.join()
        assert server.process.wait(timeout=90) == 0
        assert [getattr(r, "status_code", r) for r in in_flight] == [200] * 4, in_flight
        for pid in children.values():
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)  # no child outlived the supervisor
    finally:
        server.stop()
    with sqlite3.connect(data_dir / "creatix.db") as db:
        statuses = dict(db.execute("SELECT status, count(*) FROM jobs GROUP BY status"))
    assert set(statuses) <= {"succeeded", "queued"}, statuses
    assert statuses.get("succeeded", 0) >= 8 + 8 + 4 + 6


def test_two_api_processes_on_postgresql(tmp_path: Path) -> None:
    url = postgres_database()
    if url is None:
        pytest.skip("no PostgreSQL reachable")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    env = {"CREATIX_DATABASE_URL": url, "CREATIX_POLL_INTERVAL_SECONDS": "60"}
    try:
        created = _run(
            "keys", "create", "--account", "acme", "--plan", "unlimited", "--json",
            "--data-dir", str(data_dir), env=env,
        )  # fmt: skip
        assert created.returncode == 0, created.stdout + created.stderr
        key_id, secret = json.loads(created.stdout)["key_id"], json.loads(created.stdout)["secret"]
        server = ServerProcess(data_dir, "--workers", "2", env=env).start()
        try:
            assert server.process is not None
            answers = _all_answer(server.url, secret)
            assert [a.status_code for a in answers] == [200] * 8, [a.text for a in answers]
            revoking = _run("keys", "revoke", key_id, "--data-dir", str(data_dir), env=env)
            assert revoking.returncode == 0, revoking.stdout + revoking.stderr
            time.sleep(CHECK_SECONDS + 0.1)
            assert [_generate(server.url, secret).status_code for _ in range(6)] == [401] * 6
            server.process.send_signal(signal.SIGTERM)
            assert server.process.wait(timeout=90) == 0
        finally:
            server.stop()
    finally:
        drop_postgres_database(url)


def test_a_keys_rate_limit_is_counted_once_across_api_processes(tmp_path: Path) -> None:
    """Each request on a new connection, so that the kernel spreads them over both API
    processes: together they allow the plan's limit, not twice it (the supervisor's counter
    host, ``kit/shared_counters.py``)."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    _, secret = _key(data_dir, "acme")
    catalog = load_catalog().model_dump(mode="json")
    [unlimited] = [plan for plan in catalog["plans"] if plan["id"] == "unlimited"]
    unlimited["requests_per_minute"] = 6
    (tmp_path / "catalog.yaml").write_text(yaml.safe_dump(catalog))
    server = ServerProcess(
        data_dir, "--workers", "2", "--no-worker", "--catalog", str(tmp_path / "catalog.yaml")
    ).start()
    try:
        answers = [
            httpx.get(f"{server.url}/v1/me", headers={"Authorization": f"Bearer {secret}"})
            for _ in range(12)
        ]
    finally:
        server.stop()
    assert [a.status_code for a in answers] == [200] * 6 + [429] * 6, [a.text for a in answers]
    remaining = [int(a.headers["X-RateLimit-Remaining"]) for a in answers[:6]]
    assert remaining == [5, 4, 3, 2, 1, 0], "one window, counted by both processes"
