"""Throughput of the PostgreSQL queue: jobs/s from submit to completion, and HTTP submits/s.

Needs a reachable PostgreSQL (``CREATIX_TEST_POSTGRES``, default
postgresql://postgres@127.0.0.1:5432/test): a throwaway database is made and dropped.

0. The queue alone, and the floor under it. For 1, 2 and 4 worker processes that run no
   engine and do no media work (each job is completed with one precomputed output record, so
   the job row, its asset row, its settlement in the ledger and its usage rollup are written
   as for a real image): ``--queue-jobs`` jobs are submitted for a held model, then released
   at once, and the clock runs until the last has succeeded. Each process runs
   ``--queue-slots`` claim loops; each loop leases up to ``--claim-batches`` batches (of up
   to 8 jobs, the preview engine's batch) in one ``FOR UPDATE SKIP LOCKED`` statement and
   completes them concurrently, which the job core commits together (group commit). The same
   with one batch per claim and one job per completion transaction (``one_at_a_time``) shows
   what batching buys. Beside them: the database's commit rate, a loop of one-row INSERT
   transactions on 1, 2 and 4 connections with the same URL and driver.
1. For 1, 2 and 4 ``creatix worker`` processes (preview engine, 64x64, no delay, 4 slots
   each), two figures:
   - drain: ``--jobs`` jobs are submitted through the job core for a model the workers were
     told not to run (``--models``), then one UPDATE (and a NOTIFY) hands them all to the
     workers' model at once; the clock runs from that commit until the last job succeeded.
     This is the queue's own throughput: claim, engine, watermark, encode, store, complete.
   - end to end: the workers idle, then ``--jobs`` jobs are submitted from this process
     (8 at a time) and the clock runs from the first submit until the last has succeeded.
2. Two ``creatix serve --no-worker`` processes; ``--clients`` threads send
   ``POST /api/platform/generate`` (202, asynchronous) to both for ``--seconds``: submits/s.

    .venv/bin/python benchmarks/queue_throughput.py [--jobs 2000] [--clients 16]
        [--queue-jobs 6000] [--claim-batches 8] [--queue-slots 2] [--queue-only]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import yaml
from harness import drive, free_port, wait_healthy
from sqlalchemy import text

from creatix.accounts import service as accounts
from creatix.accounts.schemas import Principal
from creatix.catalog.loader import load_catalog
from creatix.engines.registry import EngineRegistry
from creatix.jobs.events import JobEvents
from creatix.jobs.lifecycle import Completion
from creatix.jobs.models import JobRow
from creatix.jobs.records import QueueSettings
from creatix.jobs.service import JobService
from creatix.jobs.specs import ImageSpec, Job, StoredOutput
from creatix.kit.db import Database
from creatix.kit.migrate import upgrade_database

ADMIN = os.environ.get("CREATIX_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
MODEL = "bench-64"
HELD = "bench-64-held"


def _database() -> str:
    name = f"creatix_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"{ADMIN.rpartition('/')[0]}/{name}"


def _drop(url: str) -> None:
    with psycopg.connect(ADMIN, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{url.rpartition("/")[2]}" WITH (FORCE)')


def _catalog(path: Path) -> Path:
    catalog = load_catalog().model_dump(mode="json")
    for plan in catalog["plans"]:
        plan["requests_per_minute"] = 10_000_000
        plan["quota"] = None
    for model in (MODEL, HELD):
        catalog["models"].append(
            {
                "id": model,
                "engine": "preview",
                "display_name": model,
                "limits": {"min_side": 64, "max_side": 64, "sizes": ["64x64"]},
            }
        )
    path.write_text(yaml.safe_dump(catalog))
    return path


def _env(database: str, catalog: Path, data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CREATIX_DATABASE_URL": database,
        "CREATIX_CATALOG": str(catalog),
        "CREATIX_DATA_DIR": str(data_dir),
        "CREATIX_SECRET_KEY": "bench",
        "CREATIX_LOG_LEVEL": "WARNING",
        "CREATIX_WORKER_CONCURRENCY": "4",
    }


def _succeeded(database: str) -> int:
    with psycopg.connect(database) as connection:
        row = connection.execute("SELECT count(*) FROM jobs WHERE status = 'succeeded'").fetchone()
    return int(row[0]) if row else 0


async def _submit(database: str, catalog: Path, jobs: int, model: str) -> tuple[float, float]:
    """Submit ``jobs`` jobs, 8 at a time: (time of the first submit, seconds submitting)."""
    loaded = load_catalog(catalog)
    db = Database(database)
    service = JobService(
        db, loaded, EngineRegistry.from_catalog(loaded), JobEvents(), QueueSettings()
    )
    info = await accounts.ensure_account(db, f"bench-{uuid.uuid4().hex[:6]}", "unlimited", "free")
    principal = Principal(
        account_id=info.id, account_name=info.name, plan="unlimited", key_id="k", unlimited=True
    )
    spec = ImageSpec(prompt="a small square", width=64, height=64, seed=1)
    started = time.perf_counter()
    for first in range(0, jobs, 8):
        await asyncio.gather(
            *(
                service.intake.submit_image(principal, model, spec)
                for _ in range(first, min(jobs, first + 8))
            )
        )
    took = time.perf_counter() - started
    await db.dispose()
    return started, took


def _start_workers(database: str, catalog: Path, tmp: Path, count: int) -> list[Any]:
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "creatix", "worker", "--models", MODEL],
            env=_env(database, catalog, tmp / f"w{count}-{index}"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for index in range(count)
    ]
    time.sleep(5)  # started and listening
    return processes


def _stop(processes: list[Any]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=60)


def _wait_done(database: str, target: int) -> None:
    while _succeeded(database) < target:
        time.sleep(0.02)


def _workers_run(
    database: str, catalog: Path, tmp: Path, workers: int, jobs: int
) -> dict[str, Any]:
    processes = _start_workers(database, catalog, tmp, workers)
    try:
        done = _succeeded(database)
        asyncio.run(_submit(database, catalog, jobs, HELD))
        started = time.perf_counter()
        with psycopg.connect(database, autocommit=True) as connection:
            connection.execute("UPDATE jobs SET model = %s WHERE model = %s", (MODEL, HELD))
            connection.execute("SELECT pg_notify('creatix_jobs', 'preview')")
        _wait_done(database, done + jobs)
        drain = time.perf_counter() - started
        done += jobs
        started, submitting = asyncio.run(_submit(database, catalog, jobs, MODEL))
        _wait_done(database, done + jobs)
        end_to_end = time.perf_counter() - started
    finally:
        _stop(processes)
    return {
        "workers": workers,
        "jobs": jobs,
        "drain_jobs_per_s": round(jobs / drain, 1),
        "end_to_end_jobs_per_s": round(jobs / end_to_end, 1),
        "submits_per_s_in_process": round(jobs / submitting, 1),
    }


def _noop_output(job: Job) -> StoredOutput:
    return StoredOutput(
        kind="image",
        storage_key=f"noop/{job.id}.png",
        mime_type="image/png",
        size_bytes=1,
        checksum="sha256:0",
        width=64,
        height=64,
    )


async def _noop_worker(database: str, catalog: Path, batches: int, slots: int) -> None:
    """A worker that runs no engine and does no media work: claim, complete, again; until
    it is terminated."""
    loaded = load_catalog(catalog)
    db = Database(database)
    service = JobService(
        db, loaded, EngineRegistry.from_catalog(loaded), JobEvents(), QueueSettings()
    )
    worker_id = f"noop-{os.getpid()}"
    lifecycle = service.lifecycle

    async def loop() -> None:
        while True:
            claim = await lifecycle.claim(worker_id, ["preview"], [MODEL], batches=batches)
            if not claim.jobs:
                await asyncio.sleep(0.005)
                continue
            if batches > 1:
                await asyncio.gather(
                    *(
                        lifecycle.complete(job.id, worker_id, [_noop_output(job)], 0.0)
                        for job in claim.jobs
                    )
                )
                continue
            for job in claim.jobs:  # one transaction per completion
                await lifecycle.complete_many(
                    worker_id, [Completion(job.id, [_noop_output(job)], 0.0)]
                )

    print("ready", flush=True)
    await asyncio.gather(*(loop() for _ in range(slots)))


def _seed(database: str, catalog: Path, jobs: int) -> None:
    """``jobs`` queued jobs of the held model: one submitted through the job core, the rest
    copies of its row made by one INSERT (the queue is measured, not the intake)."""
    asyncio.run(_submit(database, catalog, 1, HELD))
    columns = [column.name for column in JobRow.__table__.columns if column.name != "id"]
    listed = ", ".join(f'"{name}"' for name in columns)
    with psycopg.connect(database, autocommit=True) as connection:
        connection.execute(
            f"INSERT INTO jobs (id, {listed}) SELECT gen_random_uuid()::text, {listed} "
            "FROM jobs, generate_series(2, %s) WHERE model = %s AND status = 'queued'",
            (jobs, HELD),
        )


def _queue_alone(
    database: str, catalog: Path, workers: int, jobs: int, *, batches: int, slots: int
) -> float:
    """Jobs/s of ``workers`` no-op worker processes draining ``jobs`` released at once."""
    done = _succeeded(database)
    _seed(database, catalog, jobs)
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--noop-worker",
                database,
                str(catalog),
                str(batches),
                str(slots),
            ],
            env={**os.environ, "CREATIX_LOG_LEVEL": "WARNING"},
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(workers)
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            process.stdout.readline()  # ready
        started = time.perf_counter()
        with psycopg.connect(database, autocommit=True) as connection:
            connection.execute("UPDATE jobs SET model = %s WHERE model = %s", (MODEL, HELD))
        _wait_drained(database)
        took = time.perf_counter() - started
    finally:
        _stop(processes)
    assert _succeeded(database) == done + jobs
    return round(jobs / took, 1)


def _wait_drained(database: str) -> None:
    """Until no job is queued or running (an index probe: cheaper than counting)."""
    with psycopg.connect(database, autocommit=True) as connection:
        while connection.execute(
            "SELECT EXISTS (SELECT 1 FROM jobs WHERE status IN ('queued', 'running'))"
        ).fetchone() == (True,):
            time.sleep(0.01)


def _commit_rate(database: str, connections: int, seconds: float = 2.0) -> float:
    """Committed one-row INSERT transactions per second on ``connections`` connections (the
    job core's URL, driver and pool), each in its own thread."""
    db = Database(database)
    db.run_write(
        lambda session: session.execute(text("CREATE TABLE IF NOT EXISTS commit_probe (n int)"))
    )
    counts = [0] * connections
    deadline = time.perf_counter() + seconds

    def committer(index: int) -> None:
        while time.perf_counter() < deadline:
            db.run_write(
                lambda session: session.execute(text("INSERT INTO commit_probe VALUES (1)"))
            )
            counts[index] += 1

    threads = [threading.Thread(target=committer, args=(i,)) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db.engine.dispose()
    return round(sum(counts) / seconds, 1)


def _queue_report(database: str, catalog: Path, args: argparse.Namespace) -> dict[str, Any]:
    counts = (1, 2, 4)
    runs = [
        {
            "workers": workers,
            "jobs_per_s": _queue_alone(
                database,
                catalog,
                workers,
                args.queue_jobs,
                batches=args.claim_batches,
                slots=args.queue_slots,
            ),
            "one_at_a_time_jobs_per_s": _queue_alone(
                database, catalog, workers, args.queue_jobs, batches=1, slots=args.queue_slots
            ),
            "commits_per_s": _commit_rate(database, workers),
        }
        for workers in counts
    ]
    with psycopg.connect(database) as connection:
        synchronous = connection.execute("SHOW synchronous_commit").fetchone()
    return {
        "jobs": args.queue_jobs,
        "claim_batches": args.claim_batches,
        "slots_per_worker": args.queue_slots,
        "synchronous_commit": synchronous[0] if synchronous else None,
        "runs": runs,
    }


def _http_submits(
    database: str, catalog: Path, tmp: Path, clients: int, total: int
) -> dict[str, Any]:
    env = _env(database, catalog, tmp / "api")
    created = subprocess.run(
        [
            sys.executable,
            "-m",
            "creatix",
            "keys",
            "create",
            "--account",
            "http",
            "--plan",
            "unlimited",
            "--json",
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    secret = json.loads(created.stdout)["secret"]
    ports = [free_port(), free_port()]
    servers = [
        subprocess.Popen(
            [sys.executable, "-m", "creatix", "serve", "--no-worker", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    try:
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        for url in urls:
            wait_healthy(url)
        body = {"prompt": "a small square", "modelId": "creatix-flash"}
        auth = {"Authorization": f"Bearer {secret}"}
        results: list[dict[str, Any]] = []

        def one_node(url: str) -> None:
            results.append(
                drive(
                    url,
                    "/api/platform/generate",
                    body,
                    auth,
                    clients=clients // 2,
                    total=total // 2,
                    expect=202,
                )
            )

        started = time.perf_counter()
        threads = [threading.Thread(target=one_node, args=(url,)) for url in urls]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        took = time.perf_counter() - started
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=60)
    done = sum(len(result["latencies"]) for result in results)
    return {
        "api_processes": 2,
        "clients": clients,
        "submits": done,
        "submits_per_s": round(done / took, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--submits", type=int, default=3200)
    parser.add_argument("--queue-jobs", type=int, default=6000)
    parser.add_argument("--claim-batches", type=int, default=8, help="batches per claim")
    parser.add_argument("--queue-slots", type=int, default=2, help="claim loops per worker")
    parser.add_argument("--queue-only", action="store_true", help="only the queue alone")
    parser.add_argument("--noop-worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.noop_worker:
        url, catalog_path, batches, slots = args.noop_worker
        asyncio.run(_noop_worker(url, Path(catalog_path), int(batches), int(slots)))
        return
    database = _database()
    report: dict[str, Any] = {"cpus": os.cpu_count()}
    try:
        upgrade_database(database)
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            catalog = _catalog(tmp / "catalog.yaml")
            report["queue_alone"] = queue = _queue_report(database, catalog, args)
            if not args.queue_only:
                runs = [_workers_run(database, catalog, tmp, n, args.jobs) for n in (1, 2, 4)]
                http = _http_submits(database, catalog, tmp, args.clients, args.submits)
    finally:
        _drop(database)
    targets: dict[str, Any] = {
        "queue_alone_jobs_per_s_2_workers": {
            "min": 2000,
            "measured": queue["runs"][1]["jobs_per_s"],
        }
    }
    if not args.queue_only:
        report |= {"queue": runs, "http": http}
        targets |= {
            "jobs_per_s_4_workers": {"min": 500, "measured": runs[-1]["drain_jobs_per_s"]},
            "submits_per_s": {"min": 800, "measured": http["submits_per_s"]},
        }
    print(json.dumps(report | {"targets": targets}, indent=2))


if __name__ == "__main__":
    main()
