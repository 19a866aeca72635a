"""What one lease of due webhook deliveries costs the database, with backlogs.

``repository.lease_due`` runs once a second in every deliverer that has a free slot. It takes
accounts in turn and leaves out what an account already holds past its cap, so it reads every
due, unleased delivery. This measures that statement (rolled back, so each run sees the same
rows) on a webhook_deliveries table holding ``--scheduled`` pending retries due later (what
dead receivers leave on the schedule), ``--finished`` delivered ones, 16 deliveries leased by
this deliverer (4 of each of 4 accounts: at their cap), 100 due deliveries of 50 accounts,
and a backlog of due deliveries of one of the accounts at their cap (its receiver hangs: the
steady state of the issue's stuck tenant), 0, 1 000 and 10 000 of them.
For comparison, ``oldest_first`` is the statement it replaced: the oldest due deliveries,
whoever's, one indexed ORDER BY ... LIMIT (which let one account's backlog fill every slot).

PostgreSQL (a throwaway database at ``CREATIX_TEST_POSTGRES``, default
postgresql://postgres@127.0.0.1:5432/test) and SQLite (a temporary file). Prints JSON.

    .venv/bin/python benchmarks/webhook_leasing.py [--scheduled 200000] [--finished 300000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, insert, or_, select, text, update
from sqlalchemy.orm import Session

from creatix.kit.clock import utcnow
from creatix.kit.db import sync_url
from creatix.kit.migrate import upgrade_database
from creatix.webhooks import repository
from creatix.webhooks.models import WebhookDelivery

ADMIN = os.environ.get("CREATIX_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
OWNER = "bench-deliverer"
BLOCKED = "acct_h0"
"""One of the accounts whose 4 held deliveries are this deliverer's cap."""
BACKLOGS = (0, 1_000, 10_000)
RUNS = 30


@contextmanager
def postgres() -> Iterator[str]:
    import psycopg

    name = f"creatix_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{ADMIN.rpartition('/')[0]}/{name}"
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def sqlite() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as folder:
        yield f"sqlite:///{Path(folder) / 'bench.db'}"


def _rows(prefix: str, count: int, accounts: int, **values: Any) -> list[dict[str, Any]]:
    return [
        {
            "id": f"{prefix}{n}",
            "account_id": f"acct_{prefix}{n % accounts}",
            "job_id": f"job_{prefix}{n}",
            "url": "https://hooks.example.com/creatix",
            "event_type": "job.succeeded",
            "attempts": 0,
            "created_at": values["now"],
            **{k: v for k, v in values.items() if k != "now"},
        }
        for n in range(count)
    ]


def fill(engine: Engine, now: datetime, scheduled: int, finished: int) -> None:
    """The table without its foreign keys (no accounts or jobs are needed to lease; SQLite
    does not enforce them on a plain engine)."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(
                text(
                    "ALTER TABLE webhook_deliveries "
                    "DROP CONSTRAINT fk_webhook_deliveries_account_id_accounts, "
                    "DROP CONSTRAINT fk_webhook_deliveries_job_id_jobs"
                )
            )
        table = WebhookDelivery.__table__
        later = now + timedelta(hours=2)
        for batch in range(0, scheduled, 50_000):
            size = min(50_000, scheduled - batch)
            rows = _rows(f"s{batch}_", size, 500, now=now, status="pending")
            connection.execute(insert(table), [r | {"next_attempt_at": later} for r in rows])
        for batch in range(0, finished, 50_000):
            size = min(50_000, finished - batch)
            rows = _rows(f"f{batch}_", size, 500, now=now, status="delivered")
            connection.execute(insert(table), rows)
        due = now - timedelta(seconds=1)
        rows = _rows("d", 100, 50, now=now, status="pending", next_attempt_at=due)
        held = _rows("h", 16, 4, now=now, status="pending", next_attempt_at=due)
        lease = {"lease_owner": OWNER, "lease_expires_at": now + timedelta(seconds=60)}
        connection.execute(insert(table), rows)
        connection.execute(insert(table), [r | lease for r in held])


def add_backlog(engine: Engine, now: datetime, start: int, count: int) -> None:
    due = now - timedelta(seconds=2)
    rows = [
        row | {"account_id": BLOCKED}
        for row in _rows(f"b{start}_", count, 1, now=now, status="pending", next_attempt_at=due)
    ]
    with engine.begin() as connection:
        if rows:
            connection.execute(insert(WebhookDelivery.__table__), rows)
        if engine.dialect.name == "postgresql":
            connection.execute(text("ANALYZE webhook_deliveries"))
        else:
            connection.execute(text("ANALYZE"))


def fair(session: Session, now: datetime) -> int:
    found = repository.lease_due(
        session,
        owner=OWNER,
        now=now,
        lease_until=now + timedelta(seconds=60),
        limit=16,
        per_account=4,
    )
    return len(found)


def oldest_first(session: Session, now: datetime) -> int:
    due = (
        select(WebhookDelivery.id)
        .where(
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= now,
            or_(
                WebhookDelivery.lease_expires_at.is_(None),
                WebhookDelivery.lease_expires_at < now,
            ),
        )
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(16)
        .with_for_update(skip_locked=True)
    )
    rows = session.execute(
        update(WebhookDelivery.__table__)
        .where(WebhookDelivery.id.in_(due.scalar_subquery()))
        .values(lease_owner=OWNER, lease_expires_at=now + timedelta(seconds=60))
        .returning(WebhookDelivery.id)
    ).all()
    return len(rows)


def time_leases(engine: Engine, now: datetime) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for name, lease in (("fair", fair), ("oldest_first", oldest_first)):
        took: list[float] = []
        for _ in range(RUNS):
            with Session(engine) as session:
                started = time.perf_counter()
                leased = lease(session, now)
                took.append((time.perf_counter() - started) * 1000)
                session.rollback()
        took.sort()
        figures[name] = {
            "leased": leased,
            "p50_ms": round(statistics.median(took), 2),
            "p95_ms": round(took[int(0.95 * (len(took) - 1))], 2),
        }
    return figures


def measure(url: str, scheduled: int, finished: int) -> list[dict[str, Any]]:
    upgrade_database(url)
    engine = create_engine(sync_url(url))
    now = utcnow()
    try:
        fill(engine, now, scheduled, finished)
        results = []
        added = 0
        for backlog in BACKLOGS:
            add_backlog(engine, now, added, backlog - added)
            added = backlog
            results.append({"blocked_backlog": backlog, **time_leases(engine, now)})
        return results
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scheduled", type=int, default=200_000)
    parser.add_argument("--finished", type=int, default=300_000)
    args = parser.parse_args()
    report: dict[str, Any] = {"scheduled": args.scheduled, "finished": args.finished}
    with sqlite() as url:
        report["sqlite"] = measure(url, args.scheduled, args.finished)
    try:
        with postgres() as url:
            report["postgresql"] = measure(url, args.scheduled, args.finished)
    except Exception as exc:  # no driver, no server: the SQLite figures still stand
        report["postgresql"] = f"not measured: {type(exc).__name__}: {exc}"
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
