"""All SQL of the jobs room: the job table is the queue.

The queue's hot statements (claim, finish) are Core statements returning plain rows: they run
on every job, and skipping the ORM's identity map halves their cost on SQLite.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Table, delete, func, insert, select, update
from sqlalchemy.orm import Session

from creatix.jobs.models import AssetRow, JobRow
from creatix.jobs.specs import JobStatus

JOBS: Table = JobRow.__table__  # type: ignore[assignment]
JobRecord = JobRow | Row[Any]
"""A job as the ORM loads it or as a Core statement returns it: the same attribute names."""


def job(session: Session, job_id: str) -> JobRow | None:
    return session.get(JobRow, job_id)


def assets_of(session: Session, job_id: str) -> list[AssetRow]:
    result = session.execute(
        select(AssetRow).where(AssetRow.job_id == job_id).order_by(AssetRow.index)
    )
    return list(result.scalars())


def claim_batch(
    session: Session,
    *,
    worker_id: str,
    max_batch: Mapping[str, int],
    lease_until: datetime,
    now: datetime,
) -> list[JobRecord]:
    """Lease the oldest queued job of the given engines and up to ``max_batch`` of its peers.

    On PostgreSQL the rows are picked ``FOR UPDATE SKIP LOCKED`` so that workers never wait on
    one another; on SQLite the write transaction already holds the database lock.
    """
    oldest = session.execute(
        select(JobRow.batch_key, JobRow.engine)
        .where(JobRow.status == JobStatus.QUEUED, JobRow.engine.in_(list(max_batch)))
        .order_by(JobRow.created_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    first = oldest.one_or_none()
    if first is None:
        return []
    batch_key, engine = first
    peers = (
        select(JobRow.id)
        .where(JobRow.status == JobStatus.QUEUED, JobRow.batch_key == batch_key)
        .order_by(JobRow.created_at)
        .limit(max_batch[engine])
        .with_for_update(skip_locked=True)
    )
    claimed = session.execute(
        update(JOBS)
        .where(JobRow.id.in_(peers.scalar_subquery()))
        .values(
            status=JobStatus.RUNNING,
            lease_owner=worker_id,
            lease_expires_at=lease_until,
            attempts=JobRow.attempts + 1,
            started_at=func.coalesce(JobRow.started_at, now),
        )
        .returning(*JOBS.c)
    )
    return sorted(claimed.all(), key=lambda row: row.created_at)


def any_queued(session: Session, engines: Sequence[str]) -> bool:
    found = session.execute(
        select(JobRow.id)
        .where(JobRow.status == JobStatus.QUEUED, JobRow.engine.in_(list(engines)))
        .limit(1)
    ).first()
    return found is not None


def insert_assets(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    if rows:
        session.execute(insert(AssetRow), list(rows))


def extend_leases(
    session: Session, job_ids: Sequence[str], worker_id: str, lease_until: datetime
) -> set[str]:
    """Extend this worker's leases; the ids it still holds."""
    result = session.execute(
        update(JobRow)
        .where(
            JobRow.id.in_(job_ids),
            JobRow.status == JobStatus.RUNNING,
            JobRow.lease_owner == worker_id,
        )
        .values(lease_expires_at=lease_until)
        .returning(JobRow.id)
    )
    return set(result.scalars())


def set_progress(
    session: Session, job_ids: Sequence[str], worker_id: str, fraction: float
) -> set[str]:
    """Record the engine's progress on this worker's leased jobs; the ids it still holds."""
    result = session.execute(
        update(JobRow)
        .where(
            JobRow.id.in_(job_ids),
            JobRow.status == JobStatus.RUNNING,
            JobRow.lease_owner == worker_id,
        )
        .values(progress=fraction)
        .returning(JobRow.id)
    )
    return set(result.scalars())


def finish_leased(
    session: Session, job_id: str, worker_id: str, values: Mapping[str, Any]
) -> JobRecord | None:
    """Move a running job this worker still leases to ``values``; None when it lost the lease."""
    result = session.execute(
        update(JOBS)
        .where(
            JobRow.id == job_id,
            JobRow.status == JobStatus.RUNNING,
            JobRow.lease_owner == worker_id,
        )
        .values(**values, lease_owner=None, lease_expires_at=None)
        .returning(*JOBS.c)
    )
    return result.one_or_none()


def expired_leases(session: Session, now: datetime) -> list[JobRow]:
    result = session.execute(
        select(JobRow)
        .where(JobRow.status == JobStatus.RUNNING, JobRow.lease_expires_at < now)
        .with_for_update(skip_locked=True)
    )
    return list(result.scalars())


def cancel_unfinished(
    session: Session, job_id: str, account_id: str, now: datetime
) -> JobRecord | None:
    """Cancel the account's job if it has not ended; None if there was nothing to cancel."""
    result = session.execute(
        update(JOBS)
        .where(
            JobRow.id == job_id,
            JobRow.account_id == account_id,
            JobRow.status.in_([JobStatus.QUEUED, JobStatus.RUNNING]),
        )
        .values(
            status=JobStatus.CANCELED,
            finished_at=now,
            lease_owner=None,
            lease_expires_at=None,
            credits_charged=0,
        )
        .returning(*JOBS.c)
    )
    return result.one_or_none()


def jobs_of(
    session: Session, account_id: str, kind: str, *, limit: int, offset: int
) -> list[JobRow]:
    return list(
        session.execute(
            select(JobRow)
            .where(
                JobRow.account_id == account_id,
                JobRow.kind == kind,
                JobRow.deleted_at.is_(None),
            )
            .order_by(JobRow.created_at.desc(), JobRow.id)
            .limit(limit)
            .offset(offset)
        ).scalars()
    )


def assets_of_jobs(session: Session, job_ids: Sequence[str]) -> dict[str, list[AssetRow]]:
    found: dict[str, list[AssetRow]] = {job_id: [] for job_id in job_ids}
    rows = session.execute(
        select(AssetRow).where(AssetRow.job_id.in_(list(job_ids))).order_by(AssetRow.index)
    ).scalars()
    for row in rows:
        found[row.job_id].append(row)
    return found


def delete_assets(session: Session, job_id: str) -> None:
    session.execute(delete(AssetRow).where(AssetRow.job_id == job_id))
