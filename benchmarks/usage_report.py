"""Usage reports at a million jobs: ``GET /api/account/{id}/usage?group_by=day,model`` for 30 and
90 days, on SQLite and (when reachable) PostgreSQL, through a real ``creatix serve``.

One account with ``--jobs`` jobs (default 1,000,000) spread evenly over the ``--days`` (90)
UTC days up to today, across ``--keys`` (20) API keys and ``--models`` (10) image models, is
generated straight into a migrated database: the account and its keys through the services,
the ``jobs`` rows in bulk (``executemany`` on SQLite, ``COPY`` on PostgreSQL), and the
``usage_daily`` rows exactly as the rollup would have written them as each job ended (summed
here in memory; ``--verify`` checks them against the jobs table with one GROUP BY). About 2
of 3 jobs succeed with 1 to 4 images; the rest fail, refunded.

Then ``creatix serve --no-worker`` runs on that database and one client sends ``--requests``
(200) GETs for each range on one kept-alive connection: p50 and p99. Target: p50 ≤ 50 ms.

    .venv/bin/python benchmarks/usage_report.py [--jobs 200000] [--backends sqlite,postgresql]

PostgreSQL: ``CREATIX_TEST_POSTGRES`` (default postgresql://postgres@127.0.0.1:5432/test) is
used to make a throwaway database, dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from harness import free_port, percentiles, wait_healthy

from creatix.accounts import service as accounts
from creatix.catalog.loader import load_catalog
from creatix.jobs.specs import ImageSpec
from creatix.kit.db import Database
from creatix.kit.migrate import upgrade_database
from creatix.usage.models import ALL_KEYS

ADMIN = os.environ.get("CREATIX_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
ACCOUNT = "usage-bench"
CHUNK = 50_000
JOB_COLUMNS = (
    "id",
    "account_id",
    "key_id",
    "kind",
    "model",
    "engine",
    "batch_key",
    "spec",
    "status",
    "attempts",
    "max_attempts",
    "priority",
    "fair_seq",
    "quota_images",
    "credits_per_output",
    "credits_reserved",
    "credits_charged",
    "source",
    "created_at",
    "started_at",
    "finished_at",
    "engine_seconds",
    "progress",
)
USAGE_COLUMNS = (
    "account_id",
    "key_id",
    "day",
    "model",
    "kind",
    "images",
    "videos",
    "input_tokens",
    "output_tokens",
    "credits",
    "jobs",
)


def _postgres() -> str | None:
    try:
        import psycopg

        name = f"creatix_usage_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(ADMIN, autocommit=True, connect_timeout=3) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
    except Exception:
        return None
    return f"{ADMIN.rpartition('/')[0]}/{name}"


def _drop_postgres(url: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{url.rpartition("/")[2]}" WITH (FORCE)')


async def account_and_keys(url: str, keys: int) -> tuple[str, str, list[str]]:
    """The account (unlimited plan: no rate limit in the way), its keys: (account id, the
    secret of its first key, which also has the ``manage`` scope that reads usage, key ids)."""
    db = Database(url)
    try:
        info = await accounts.ensure_account(db, ACCOUNT, "unlimited", "free")
        made = [
            await accounts.create_key(
                db, ACCOUNT, scopes=["generate", "manage"] if i == 0 else ["generate"]
            )
            for i in range(keys)
        ]
    finally:
        await db.dispose()
    return info.id, made[0].secret, [key.key_id for key in made]


def job_chunks(
    account_id: str, key_ids: list[str], models: list[tuple[str, int]], total: int, days: int
) -> Iterator[tuple[list[tuple[Any, ...]], dict[tuple[Any, ...], list[int]]]]:
    """Chunks of job rows, each with the rollup's counts for them."""
    rng = random.Random(15)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    first = today - timedelta(days=days - 1)
    span = days * 86_400 - 1
    spec = ImageSpec(prompt="benchmark", width=1024, height=1024, n=1, seed=7).model_dump_json()
    for start in range(0, total, CHUNK):
        rows: list[tuple[Any, ...]] = []
        usage: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0, 0])
        for index in range(start, min(start + CHUNK, total)):
            key_id = key_ids[index % len(key_ids)]
            model, price = models[rng.randrange(len(models))]
            created = first + timedelta(seconds=index * span // total)
            finished = created + timedelta(seconds=3)
            n = rng.randint(1, 4)
            succeeded = rng.random() < 0.67
            charged = price * n if succeeded else 0
            rows.append(
                (
                    str(uuid.UUID(int=rng.getrandbits(128))),
                    account_id,
                    key_id,
                    "image",
                    model,
                    "preview",
                    f"preview:{model}",
                    spec,
                    "succeeded" if succeeded else "failed",
                    1,
                    3,
                    0,
                    index,
                    n,
                    price,
                    price * n,
                    charged,
                    "creatix_v1",
                    created,
                    created,
                    finished,
                    2.5,
                    1.0 if succeeded else None,
                )
            )
            for key in (key_id, ALL_KEYS):  # as record_job_end: the key's row and all keys'
                counts = usage[(finished.date(), model, key)]
                counts[0] += n if succeeded else 0
                counts[4] += charged
                counts[5] += 1
        yield rows, usage


def _merge(into: dict[tuple[Any, ...], list[int]], usage: dict[tuple[Any, ...], list[int]]) -> None:
    for group, counts in usage.items():
        total = into.setdefault(group, [0] * 6)
        for i, value in enumerate(counts):
            total[i] += value


def _usage_rows(account_id: str, usage: dict[tuple[Any, ...], list[int]]) -> list[tuple[Any, ...]]:
    return [
        (account_id, key_id, day, model, "image", *counts)
        for (key_id, day, model), counts in sorted(((k, d, m), c) for (d, m, k), c in usage.items())
    ]


def fill_sqlite(path: Path, chunks: Iterator[Any], account_id: str) -> int:
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA synchronous=OFF")
    placeholders = ", ".join("?" for _ in JOB_COLUMNS)

    def stamp(value: Any) -> Any:
        return value.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(value, datetime) else value

    usage: dict[tuple[Any, ...], list[int]] = {}
    count = 0
    with connection:
        for rows, part in chunks:
            connection.executemany(
                f"INSERT INTO jobs ({', '.join(JOB_COLUMNS)}) VALUES ({placeholders})",
                [tuple(stamp(v) for v in row) for row in rows],
            )
            _merge(usage, part)
            count += len(rows)
        connection.executemany(
            f"INSERT INTO usage_daily ({', '.join(USAGE_COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in USAGE_COLUMNS)})",
            [(a, k, d.isoformat(), *rest) for a, k, d, *rest in _usage_rows(account_id, usage)],
        )
    connection.execute("ANALYZE")
    connection.close()
    return count


def _fill_postgres(url: str, chunks: Iterator[Any], account_id: str) -> int:
    import psycopg

    usage: dict[tuple[Any, ...], list[int]] = {}
    count = 0
    with psycopg.connect(url) as connection:
        with connection.cursor() as cursor:
            for rows, part in chunks:
                with cursor.copy(f"COPY jobs ({', '.join(JOB_COLUMNS)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                _merge(usage, part)
                count += len(rows)
            with cursor.copy(f"COPY usage_daily ({', '.join(USAGE_COLUMNS)}) FROM STDIN") as copy:
                for row in _usage_rows(account_id, usage):
                    copy.write_row(row)
        connection.commit()
        connection.autocommit = True
        connection.execute("VACUUM ANALYZE jobs")
        connection.execute("VACUUM ANALYZE usage_daily")
    return count


def _verify(url: str, account_id: str) -> bool:
    """The rollup equals the jobs table summed by day, model and key (and by day and model,
    for the all-keys rows)."""
    from sqlalchemy import create_engine, text

    from creatix.kit.db import sync_url

    engine = create_engine(sync_url(url))
    day = (
        "date(finished_at)"
        if url.startswith("sqlite")
        else "(finished_at AT TIME ZONE 'UTC')::date"
    )
    try:
        with engine.connect() as connection:
            from_jobs = [
                row
                for keys in ("key_id", ":all")
                for row in connection.execute(
                    text(
                        f"SELECT {day}, model, {keys}, SUM(CASE WHEN status = 'succeeded' "
                        "THEN quota_images ELSE 0 END), SUM(credits_charged), COUNT(*) "
                        f"FROM jobs WHERE account_id = :a GROUP BY {day}, model"
                        + (", key_id" if keys == "key_id" else "")
                    ),
                    {"a": account_id, "all": ALL_KEYS},
                ).all()
            ]
            rolled = connection.execute(
                text(
                    "SELECT day, model, key_id, images, credits, jobs FROM usage_daily "
                    "WHERE account_id = :a"
                ),
                {"a": account_id},
            ).all()
    finally:
        engine.dispose()

    def normal(rows: Any) -> set[tuple[Any, ...]]:
        return {(str(r[0]), r[1], r[2], int(r[3]), int(r[4]), int(r[5])) for r in rows}

    return normal(from_jobs) == normal(rolled)


def _time_requests(
    url: str, account_id: str, secret: str, days: int, requests: int
) -> dict[str, Any]:
    end = datetime.now(UTC).date()
    start = end - timedelta(days=days - 1)
    path = f"/api/account/{account_id}/usage?group_by=day,model&start={start}&end={end}"
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    headers = {"Authorization": f"Bearer {secret}"}
    timings: list[float] = []
    rows = 0
    try:
        for attempt in range(requests + 5):
            began = time.perf_counter()
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            body = response.read()
            elapsed = time.perf_counter() - began
            if response.status != 200:
                raise RuntimeError(f"usage answered {response.status}: {body[:300]!r}")
            if attempt >= 5:  # the first few warm the server's caches
                timings.append(elapsed)
            rows = len(json.loads(body)["rows"])
    finally:
        connection.close()
    return {"days": days, "rows": rows, "requests": requests, **percentiles(timings)}


def serve(work: Path, url: str) -> tuple[subprocess.Popen[bytes], str]:
    catalog = load_catalog().model_dump(mode="json")
    for plan in catalog["plans"]:
        plan["requests_per_minute"] = 10_000_000
    catalog_path = work / "catalog.yaml"
    catalog_path.write_text(yaml.safe_dump(catalog))
    port = free_port()
    env = {
        **os.environ,
        "CREATIX_LOG_LEVEL": "WARNING",
        "CREATIX_DATA_DIR": str(work / "data"),
        "CREATIX_DATABASE_URL": url,
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "creatix",
            "serve",
            "--no-worker",
            "--port",
            str(port),
            "--catalog",
            str(catalog_path),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    wait_healthy(base)
    return server, base


def run_backend(backend: str, args: argparse.Namespace, work: Path) -> dict[str, Any] | None:
    if backend == "sqlite":
        path = work / "usage.db"
        url = f"sqlite:///{path}"
    else:
        found = _postgres()
        if found is None:
            print("PostgreSQL not reachable: skipped", file=sys.stderr)
            return None
        url = found
    try:
        upgrade_database(url)
        account_id, secret, key_ids = asyncio.run(account_and_keys(url, args.keys))
        catalog = load_catalog()
        models = [(m.id, max(1, m.credits_per_image)) for m in catalog.models if m.kind == "image"][
            : args.models
        ]
        chunks = job_chunks(account_id, key_ids, models, args.jobs, args.days)
        began = time.perf_counter()
        if backend == "sqlite":
            made = fill_sqlite(path, chunks, account_id)
        else:
            made = _fill_postgres(url, chunks, account_id)
        generation = time.perf_counter() - began
        verified = _verify(url, account_id) if args.verify else None
        server, base = serve(work, url)
        try:
            timings = [_time_requests(base, account_id, secret, d, args.requests) for d in (30, 90)]
        finally:
            server.terminate()
            server.wait(timeout=30)
        return {
            "backend": backend,
            "jobs": made,
            "keys": len(key_ids),
            "models": len(models),
            "generation_s": round(generation, 1),
            "rollup_matches_jobs": verified,
            "usage": timings,
        }
    finally:
        if backend == "postgresql":
            _drop_postgres(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--keys", type=int, default=20)
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--verify",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="check the rollup against the jobs table (one GROUP BY over every job)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="creatix-usage-bench-") as tmp:
        for backend in args.backends.split(","):
            work = Path(tmp) / backend
            work.mkdir()
            result = run_backend(backend.strip(), args, work)
            if result is not None:
                print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
