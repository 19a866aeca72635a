"""The queue's health for operators: how many jobs wait and run, how long the oldest has
waited, and which workers are alive (each says so with its requeue sweep, every half lease)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from creatix.jobs import repository
from creatix.jobs.specs import JobStatus
from creatix.kit.clock import utcnow
from creatix.kit.db import Database

FORGET_WORKERS_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class WorkerPresence:
    id: str
    hostname: str
    models: Sequence[str] | None
    concurrency: int
    started_at: datetime


@dataclass(frozen=True)
class WorkerSeen:
    id: str
    hostname: str
    models: list[str] | None
    concurrency: int
    started_at: datetime
    last_seen_at: datetime


@dataclass(frozen=True)
class QueueHealth:
    queued: int
    running: int
    oldest_queued_at: datetime | None
    oldest_queued_seconds: float | None
    workers: list[WorkerSeen]


async def record_presence(db: Database, presence: WorkerPresence) -> None:
    """The worker is alive now (workers unseen for a day are forgotten)."""
    now = utcnow()

    def write(session: Session) -> None:
        repository.worker_seen(
            session,
            presence.id,
            hostname=presence.hostname,
            models=presence.models,
            concurrency=presence.concurrency,
            started_at=presence.started_at,
            now=now,
            forget_before=now - FORGET_WORKERS_AFTER,
        )

    await db.write(write)


async def queue_health(db: Database, seen_within: timedelta) -> QueueHealth:
    """Jobs queued and running, the oldest queued job's age, and the workers seen within
    ``seen_within``."""
    now = utcnow()

    def read(session: Session) -> QueueHealth:
        counts, oldest = repository.queue_counts(session)
        workers = [
            WorkerSeen(w.id, w.hostname, w.models, w.concurrency, w.started_at, w.last_seen_at)
            for w in repository.workers_seen_since(session, now - seen_within)
        ]
        return QueueHealth(
            queued=counts.get(JobStatus.QUEUED.value, 0),
            running=counts.get(JobStatus.RUNNING.value, 0),
            oldest_queued_at=oldest,
            oldest_queued_seconds=(now - oldest).total_seconds() if oldest else None,
            workers=workers,
        )

    return await db.read(read)
