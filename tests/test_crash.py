"""SIGKILL the server while jobs are queued and running: none is lost, none completes or is
settled twice."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
import yaml

from creatix.catalog.loader import load_catalog
from support import ServerProcess, creatix_command

pytestmark = pytest.mark.slow
REQUESTS = 12
PRICE = 100  # z-image-turbo, per image
CREDITS = 10_000


def _slow_catalog(path: Path) -> Path:
    data = load_catalog().model_dump(mode="json")
    data["engines"]["preview"]["options"] = {"delay_seconds": 0.4}
    path.write_text(yaml.safe_dump(data))
    return path


def _rows(db: Path, query: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as connection:
        return connection.execute(query).fetchall()


def _fire_and_forget(url: str, secret: str, index: int) -> None:
    with contextlib.suppress(httpx.TransportError):  # the server is killed under some
        httpx.post(
            f"{url}/v1/images/generations",
            headers={"Authorization": f"Bearer {secret}"},
            json={
                "prompt": f"crash test {index}",
                "model": "z-image-turbo",
                "size": "512x512",
                "n": 2,
                "seed": index,
            },
            timeout=60,
        )


def test_sigkill_loses_no_job_and_completes_none_twice(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    catalog = _slow_catalog(tmp_path / "catalog.yaml")
    env = {"CREATIX_LEASE_SECONDS": "1", "CREATIX_WORKER_CONCURRENCY": "1"}
    created = subprocess.run(
        creatix_command(
            "keys",
            "create",
            "--account",
            "crash",
            "--plan",
            "paid",
            "--json",
            "--data-dir",
            str(data_dir),
        ),
        check=True,
        capture_output=True,
        text=True,
    )
    secret = json.loads(created.stdout)["secret"]
    granted = subprocess.run(
        creatix_command("credits", "grant", "crash", str(CREDITS), "--data-dir", str(data_dir)),
        check=True,
        capture_output=True,
    )
    assert granted.returncode == 0
    db = data_dir / "creatix.db"

    server = ServerProcess(data_dir, "--catalog", str(catalog), env=env).start()
    clients = [
        threading.Thread(target=_fire_and_forget, args=(server.url, secret, i), daemon=True)
        for i in range(REQUESTS)
    ]
    for client in clients:
        client.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        statuses = dict(_rows(db, "SELECT status, count(*) FROM jobs GROUP BY status"))
        everything_submitted = sum(statuses.values()) == REQUESTS
        if everything_submitted and statuses.get("running") and statuses.get("queued"):
            break
        time.sleep(0.02)
    server.kill()
    at_kill = dict(_rows(db, "SELECT id, status FROM jobs"))
    assert len(at_kill) == REQUESTS
    assert "running" in at_kill.values(), at_kill
    assert "queued" in at_kill.values(), at_kill

    # The first server's 1 s leases make its jobs expire soon after the kill. The restarted
    # server's own leases are longer: with 1 s, a stall of 0.7 s (its heartbeat is every
    # third of a lease) on a loaded machine let it requeue a re-run of its own and run the
    # job a third time.
    restarted_env = {**env, "CREATIX_LEASE_SECONDS": "5"}
    restarted = ServerProcess(data_dir, "--catalog", str(catalog), env=restarted_env).start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            unfinished = _rows(db, "SELECT id FROM jobs WHERE status IN ('queued', 'running')")
            if not unfinished:
                break
            time.sleep(0.1)
        jobs = _rows(db, "SELECT id, status, attempts, finished_at FROM jobs")
        assert {status for _, status, _, _ in jobs} == {"succeeded"}, jobs
        assets = dict(_rows(db, "SELECT job_id, count(*) FROM assets GROUP BY job_id"))
        assert assets == {job_id: 2 for job_id in at_kill}, "each job completed exactly once"
        attempts = {job_id: tries for job_id, _, tries, _ in jobs}
        for job_id, status in at_kill.items():
            if status == "running":
                assert attempts[job_id] == 2, "a job running at the kill ran again"
        # Summed: a run that straddles the start of a month counts in two periods.
        [(used,)] = _rows(db, "SELECT sum(images) FROM quota_usage")
        assert used == REQUESTS * 2
        settlements = _rows(
            db,
            "SELECT job_id, kind, count(*), sum(amount) FROM ledger_entries "
            "WHERE job_id IS NOT NULL GROUP BY job_id, kind",
        )
        expected = {"reserve": (1, -PRICE * 2), "refund": (1, PRICE * 2), "charge": (1, -PRICE * 2)}
        for job_id in at_kill:
            entries = {kind: (count, total) for j, kind, count, total in settlements if j == job_id}
            assert entries == expected, f"{job_id} settled exactly once"
        [(balance, ledger_sum)] = _rows(
            db, "SELECT balance, (SELECT sum(amount) FROM ledger_entries) FROM credit_balances"
        )
        assert balance == ledger_sum == CREDITS - REQUESTS * 2 * PRICE
    finally:
        restarted.stop()
    for client in clients:
        client.join(timeout=5)
