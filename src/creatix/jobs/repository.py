"""All SQL of the jobs room: the job table is the queue."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from creatix.jobs.models import AssetRow, JobRow
from creatix.jobs.specs import JobStatus


async def job(session: AsyncSession, job_id: str) -> JobRow | None:
    return await session.get(JobRow, job_id)


async def assets_of(session: AsyncSession, job_id: str) -> list[AssetRow]:
    result = await session.execute(
        select(AssetRow).where(AssetRow.job_id == job_id).order_by(AssetRow.index)
    )
    return list(result.scalars())


async def claim_batch(
    session: AsyncSession,
    *,
    worker_id: str,
    max_batch: Mapping[str, int],
    lease_until: datetime,
    now: datetime,
) -> list[JobRow]:
    """Lease the oldest queued job of the given engines and up to ``max_batch`` of its peers.

    On PostgreSQL the rows are picked ``FOR UPDATE SKIP LOCKED`` so that workers never wait on
    one another; on SQLite the write transaction already holds the database lock.
    """
    oldest = await session.execute(
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
    claimed = await session.execute(
        update(JobRow)
        .where(JobRow.id.in_(peers.scalar_subquery()))
        .values(
            status=JobStatus.RUNNING,
            lease_owner=worker_id,
            lease_expires_at=lease_until,
            attempts=JobRow.attempts + 1,
            started_at=func.coalesce(JobRow.started_at, now),
        )
        .returning(JobRow)
        .execution_options(synchronize_session=False)
    )
    return sorted(claimed.scalars(), key=lambda row: row.created_at)


async def extend_leases(
    session: AsyncSession, job_ids: Sequence[str], worker_id: str, lease_until: datetime
) -> set[str]:
    """Extend this worker's leases; the ids it still holds."""
    result = await session.execute(
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


async def finish_leased(
    session: AsyncSession, job_id: str, worker_id: str, values: Mapping[str, Any]
) -> JobRow | None:
    """Move a running job this worker still leases to ``values``; None when it lost the lease."""
    result = await session.execute(
        update(JobRow)
        .where(
            JobRow.id == job_id,
            JobRow.status == JobStatus.RUNNING,
            JobRow.lease_owner == worker_id,
        )
        .values(**values, lease_owner=None, lease_expires_at=None)
        .returning(JobRow)
        .execution_options(synchronize_session=False)
    )
    return result.scalar_one_or_none()


async def expired_leases(session: AsyncSession, now: datetime) -> list[JobRow]:
    result = await session.execute(
        select(JobRow)
        .where(JobRow.status == JobStatus.RUNNING, JobRow.lease_expires_at < now)
        .with_for_update(skip_locked=True)
    )
    return list(result.scalars())


async def set_status(
    session: AsyncSession, job_id: str, from_status: JobStatus, values: Mapping[str, Any]
) -> bool:
    result = await session.execute(
        update(JobRow)
        .where(JobRow.id == job_id, JobRow.status == from_status)
        .values(**values)
        .returning(JobRow.id)
    )
    return result.scalar_one_or_none() is not None
