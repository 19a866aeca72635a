"""Chaos on PostgreSQL: two API processes and three worker processes, 300 jobs from several
accounts, workers SIGKILLed at random and restarted. Every job finishes exactly once with
exactly one settlement, none is lost, and every balance equals its ledger."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import yaml

from creatix.catalog.loader import load_catalog
from support import ServerProcess, creatix_command, drop_postgres_database, postgres_database

pytestmark = pytest.mark.slow

JOBS = 300
ACCOUNTS = 3
PRICE = 100  # z-image-turbo, per image
MODEL = "z-image-turbo"


@pytest.fixture
def database() -> Iterator[str]:
    url = postgres_database()
    if url is None:
        pytest.skip("no PostgreSQL reachable")
    yield url
    drop_postgres_database(url)


class Cluster:
    def __init__(self, database: str, tmp_path: Path) -> None:
        catalog = load_catalog().model_dump(mode="json")
        catalog["engines"]["preview"]["options"] = {"delay_seconds": 0.15}
        for plan in catalog["plans"]:
            plan["requests_per_minute"] = 100_000
            plan["quota"] = None
        (tmp_path / "catalog.yaml").write_text(yaml.safe_dump(catalog))
        self.tmp = tmp_path
        self.env = {
            **os.environ,
            "CREATIX_DATABASE_URL": database,
            "CREATIX_CATALOG": str(tmp_path / "catalog.yaml"),
            "CREATIX_SECRET_KEY": "chaos",
            "CREATIX_LEASE_SECONDS": "1.5",
            "CREATIX_MAX_ATTEMPTS": "50",
            "CREATIX_POLL_INTERVAL_SECONDS": "0.5",
            "CREATIX_WORKER_CONCURRENCY": "2",
        }
        self.apis = [
            ServerProcess(tmp_path / f"api{i}", "--no-worker", env=self.env) for i in range(2)
        ]
        self.workers: list[subprocess.Popen[bytes] | None] = [None, None, None]

    def start_worker(self, index: int) -> None:
        log = (self.tmp / f"worker{index}.log").open("ab")
        command = creatix_command("worker", "--data-dir", str(self.tmp / f"worker{index}"))
        self.workers[index] = subprocess.Popen(command, env=self.env, stdout=log, stderr=log)

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            creatix_command(*args), env=self.env, check=True, capture_output=True, text=True
        )
        return done.stdout

    def stop(self) -> None:
        for worker in self.workers:
            if worker is not None and worker.poll() is None:
                worker.kill()
                worker.wait(timeout=30)
        for api in self.apis:
            api.stop()


def test_workers_killed_at_random_lose_and_repeat_nothing(database: str, tmp_path: Path) -> None:
    cluster = Cluster(database, tmp_path)
    keys = []
    for index in range(ACCOUNTS):
        created = cluster.cli(
            "keys", "create", "--account", f"chaos{index}", "--plan", "paid", "--json"
        )
        keys.append(json.loads(created)["secret"])
        cluster.cli("credits", "grant", f"chaos{index}", str(JOBS * PRICE))
    for api in cluster.apis:
        api.start()
    for index in range(3):
        cluster.start_worker(index)
    rng = random.Random(7)
    submitted = 0
    kills = 0
    try:
        clients = [
            httpx.Client(base_url=cluster.apis[i % 2].url, headers={"Authorization": f"Bearer {k}"})
            for i, k in enumerate(keys)
        ]
        while submitted < JOBS:
            client = clients[submitted % ACCOUNTS]
            response = client.post(
                "/api/platform/generate",
                json={"prompt": f"chaos {submitted}", "modelId": MODEL},
                timeout=30,
            )
            assert response.status_code == 202, response.text
            submitted += 1
            if submitted % 40 == 0:
                victim = rng.randrange(3)
                worker = cluster.workers[victim]
                assert worker is not None
                worker.send_signal(signal.SIGKILL)
                worker.wait(timeout=30)
                kills += 1
                cluster.start_worker(victim)
        deadline = time.monotonic() + 240
        while _unfinished(database) > 0:
            assert time.monotonic() < deadline, f"{_unfinished(database)} jobs never finished"
            if rng.random() < 0.3:
                victim = rng.randrange(3)
                worker = cluster.workers[victim]
                assert worker is not None
                worker.send_signal(signal.SIGKILL)
                worker.wait(timeout=30)
                kills += 1
                cluster.start_worker(victim)
            time.sleep(1)
        for client in clients:
            client.close()
    finally:
        cluster.stop()
    assert kills >= 7
    _assert_books_balance(database)


def _query(database: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(database) as connection:
        return list(connection.execute(sql).fetchall())  # type: ignore[arg-type]


def _unfinished(database: str) -> int:
    [(count,)] = _query(database, "SELECT count(*) FROM jobs WHERE status IN ('queued','running')")
    return int(str(count))


def _assert_books_balance(database: str) -> None:
    statuses = _query(database, "SELECT status, count(*) FROM jobs GROUP BY status")
    assert statuses == [("succeeded", JOBS)], statuses
    assets = _query(
        database,
        "SELECT j.id, count(a.id) FROM jobs j LEFT JOIN assets a ON a.job_id = j.id "
        "GROUP BY j.id HAVING count(a.id) <> 1",
    )
    assert assets == [], "a job completed twice, or not at all"
    settlements = _query(
        database,
        "SELECT job_id, kind, count(*) FROM ledger_entries WHERE job_id IS NOT NULL "
        "GROUP BY job_id, kind HAVING count(*) <> 1",
    )
    assert settlements == []
    per_job = _query(
        database,
        "SELECT count(DISTINCT job_id) FROM ledger_entries WHERE kind = 'charge'",
    )
    assert per_job == [(JOBS,)], "every job charged exactly once"
    balances = _query(
        database,
        "SELECT b.account_id, b.balance, coalesce(sum(l.amount), 0) FROM credit_balances b "
        "LEFT JOIN ledger_entries l ON l.account_id = b.account_id "
        "GROUP BY b.account_id, b.balance",
    )
    for account, balance, ledger_sum in balances:
        assert balance == ledger_sum, f"{account}: balance {balance} != ledger {ledger_sum}"
        spent = JOBS // ACCOUNTS * PRICE
        assert balance == JOBS * PRICE - spent, "each account paid for its own jobs, once"
