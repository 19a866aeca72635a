"""All SQL of the jobs room: the job table is the queue.

The queue's hot statements (claim, finish) are Core statements returning plain rows: they run
on every job, and skipping the ORM's identity map halves their cost on SQLite.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    String,
    Table,
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningUpdate

from creatix.jobs.models import AssetRow, FairQueueRow, JobRow, WorkerRow
from creatix.jobs.specs import JobScope, JobStatus
from creatix.kit.ids import canonical_uuid

JOBS: Table = JobRow.__table__  # type: ignore[assignment]
JobRecord = JobRow | Row[Any]
"""A job as the ORM loads it or as a Core statement returns it: the same attribute names."""


_LEGACY_JOB_ID = re.compile(r"job_[A-Za-z0-9]{24}")


def job(session: Session, job_id: str) -> JobRow | None:
    """The job with id ``job_id``: a UUID, or the ``job_…`` id it had before UUIDs (see
    migration 0009). An id of neither form is no job."""
    uuid = canonical_uuid(job_id)
    if uuid is not None:
        return session.get(JobRow, uuid)
    if _LEGACY_JOB_ID.fullmatch(job_id):
        return session.scalar(select(JobRow).where(JobRow.legacy_id == job_id))
    return None


def assets_of(session: Session, job_id: str) -> list[AssetRow]:
    result = session.execute(
        select(AssetRow).where(AssetRow.job_id == job_id).order_by(AssetRow.index)
    )
    return list(result.scalars())


def next_fair_seq(session: Session, account_id: str) -> int:
    """The fair-queue place of an account's new job: one after the later of its own latest
    place and the head of the queue.

    Claims go in place order (within a priority), so an account's burst of a thousand jobs
    takes a thousand consecutive places, while another account's single job, submitted during
    the burst, lands just behind the queue's head: virtual-clock fair queuing, decided once at
    submit, which keeps the claim itself one indexed ORDER BY.
    """
    head = session.execute(
        select(func.min(JobRow.fair_seq)).where(JobRow.status == JobStatus.QUEUED)
    ).scalar_one()
    floor = int(head or 0)
    placed = session.execute(
        update(FairQueueRow)
        .where(FairQueueRow.account_id == account_id)
        .values(
            last_seq=case((FairQueueRow.last_seq > floor, FairQueueRow.last_seq), else_=floor) + 1
        )
        .returning(FairQueueRow.last_seq)
    ).scalar_one_or_none()
    if placed is None:
        placed = floor + 1
        session.add(FairQueueRow(account_id=account_id, last_seq=placed))
        session.flush()
    return int(placed)


CLAIM_ORDER = (JobRow.priority.desc(), JobRow.fair_seq, JobRow.created_at)
"""Which queued job is next: the highest plan priority, then the earliest fair-queue place."""


def _claimable(
    max_batch: Mapping[str, int], models: Collection[str] | None
) -> list[ColumnElement[bool]]:
    """Queued jobs of the given engines (and models)."""
    queued = [JobRow.status == JobStatus.QUEUED, JobRow.engine.in_(list(max_batch))]
    if models is not None:
        queued.append(JobRow.model.in_(list(models)))
    return queued


def _leasing(
    jobs: ColumnElement[bool], worker_id: str, lease_until: datetime, now: datetime
) -> ReturningUpdate[Any]:
    """The UPDATE that leases ``jobs`` to ``worker_id``, returning their rows."""
    return (
        update(JOBS)
        .where(jobs)
        .values(
            status=JobStatus.RUNNING,
            lease_owner=worker_id,
            lease_expires_at=lease_until,
            attempts=JobRow.attempts + 1,
            started_at=func.coalesce(JobRow.started_at, now),
        )
        .returning(*JOBS.c)
    )


def claim_batch(
    session: Session,
    *,
    worker_id: str,
    max_batch: Mapping[str, int],
    lease_until: datetime,
    now: datetime,
    models: Collection[str] | None = None,
) -> list[JobRecord]:
    """Lease the next queued job of the given engines (and models) and up to ``max_batch`` - 1
    of its peers (the same batch key), oldest first.

    "Next": the highest plan priority, then the earliest fair-queue place (``next_fair_seq``).
    On PostgreSQL the rows are locked ``FOR UPDATE SKIP LOCKED`` so that workers never wait on
    one another; on SQLite the write transaction already holds the database lock.
    """
    queued = _claimable(max_batch, models)
    first = session.execute(
        select(JobRow.id, JobRow.batch_key, JobRow.engine)
        .where(*queued)
        .order_by(*CLAIM_ORDER)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).one_or_none()
    if first is None:
        return []
    first_id, batch_key, engine = first
    peers = (
        select(JobRow.id)
        .where(*queued, JobRow.batch_key == batch_key)
        .order_by(case((JobRow.id == first_id, 0), else_=1), JobRow.created_at)
        .limit(max_batch[engine])
        .with_for_update(skip_locked=True)
    )
    claimed = session.execute(
        _leasing(JobRow.id.in_(peers.scalar_subquery()), worker_id, lease_until, now)
    )
    return sorted(claimed.all(), key=lambda row: row.created_at)


def claim_batches(
    session: Session,
    *,
    worker_id: str,
    max_batch: Mapping[str, int],
    lease_until: datetime,
    now: datetime,
    batches: int,
    models: Collection[str] | None = None,
) -> list[list[JobRecord]]:
    """Lease up to ``batches`` batches at once: one ``SELECT … FOR UPDATE SKIP LOCKED`` of
    the next queued jobs in claim order (as many as ``batches`` full batches could hold),
    grouped by engine and batch key into batches of at most that engine's ``max_batch``, in
    the order of each batch's first job; then one UPDATE leases the jobs of the first
    ``batches`` of them. The candidates not leased are unlocked when the transaction ends.

    One batch is ``claim_batch`` (which also gathers peers from further down the queue)."""
    if batches <= 1:
        batch = claim_batch(
            session,
            worker_id=worker_id,
            max_batch=max_batch,
            lease_until=lease_until,
            now=now,
            models=models,
        )
        return [batch] if batch else []
    queued = _claimable(max_batch, models)
    candidates = session.execute(
        select(JobRow.id, JobRow.batch_key, JobRow.engine)
        .where(*queued)
        .order_by(*CLAIM_ORDER)
        .limit(batches * max(max_batch.values()))
        .with_for_update(skip_locked=True)
    ).all()
    found = [(row.id, row.batch_key, row.engine) for row in candidates]
    groups = _grouped(found, max_batch)[:batches]
    if not groups:
        return []
    leased = JobRow.id.in_([job_id for group in groups for job_id in group])
    claimed = session.execute(_leasing(leased, worker_id, lease_until, now))
    by_id = {row.id: row for row in claimed.all()}
    return [
        sorted((by_id[job_id] for job_id in group), key=lambda row: row.created_at)
        for group in groups
    ]


def _grouped(
    candidates: Sequence[tuple[str, str, str]], max_batch: Mapping[str, int]
) -> list[list[str]]:
    """The candidates' ids (in claim order) in batches: equal engine and batch key, at most
    the engine's ``max_batch`` each, ordered by their first job."""
    groups: list[list[str]] = []
    open_groups: dict[tuple[str, str], list[str]] = {}
    for job_id, batch_key, engine in candidates:
        group = open_groups.get((engine, batch_key))
        if group is None or len(group) >= max_batch[engine]:
            group = open_groups[(engine, batch_key)] = []
            groups.append(group)
        group.append(job_id)
    return groups


def any_queued(
    session: Session, engines: Sequence[str], models: Collection[str] | None = None
) -> bool:
    query = select(JobRow.id).where(
        JobRow.status == JobStatus.QUEUED, JobRow.engine.in_(list(engines))
    )
    if models is not None:
        query = query.where(JobRow.model.in_(list(models)))
    return session.execute(query.limit(1)).first() is not None


def queue_position(session: Session, job_id: str) -> int | None:
    """Where a queued job stands in the claim order (1: the next claimed), None if it is not
    queued: one plus the queued jobs a claim takes before it (higher priority, or the same
    priority and an earlier fair-queue place, ties by creation), read along ``ix_jobs_fair``.

    An approximation: it counts the queued jobs of every engine and model, though a worker
    claims only those it serves (jobs ahead on other engines may run beside it), and one
    claim takes a whole batch of jobs that share a batch key."""
    row = session.execute(
        select(JobRow.status, JobRow.priority, JobRow.fair_seq, JobRow.created_at).where(
            JobRow.id == job_id
        )
    ).one_or_none()
    if row is None or row.status != JobStatus.QUEUED:
        return None
    ahead = session.execute(
        select(func.count())
        .select_from(JobRow)
        .where(
            JobRow.status == JobStatus.QUEUED,
            or_(
                JobRow.priority > row.priority,
                and_(
                    JobRow.priority == row.priority,
                    or_(
                        JobRow.fair_seq < row.fair_seq,
                        and_(JobRow.fair_seq == row.fair_seq, JobRow.created_at < row.created_at),
                    ),
                ),
            ),
        )
    ).scalar_one()
    return int(ahead) + 1


JobState = tuple[str, float | None, int | None, int | None]
"""A job's status, progress fraction, and the engine's step of its steps."""


def job_states(session: Session, job_ids: Collection[str]) -> dict[str, JobState]:
    """The status and progress of each of these jobs, by id (one indexed read)."""
    rows = session.execute(
        select(
            JobRow.id, JobRow.status, JobRow.progress, JobRow.progress_step, JobRow.progress_steps
        ).where(JobRow.id.in_(sorted(job_ids)))
    )
    return {
        job_id: (status, progress, step, steps)
        for job_id, status, progress, step, steps in rows.all()
    }


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
    session: Session,
    job_ids: Sequence[str],
    worker_id: str,
    fraction: float,
    *,
    step: int | None = None,
    steps: int | None = None,
) -> set[str]:
    """Record the engine's progress (and its step of its steps, where it counts them) on
    this worker's leased jobs; the ids it still holds."""
    result = session.execute(
        update(JobRow)
        .where(
            JobRow.id.in_(job_ids),
            JobRow.status == JobStatus.RUNNING,
            JobRow.lease_owner == worker_id,
        )
        .values(progress=fraction, progress_step=step, progress_steps=steps)
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


def finish_leased_many(
    session: Session, job_ids: Sequence[str], worker_id: str, values: Mapping[str, Any]
) -> list[JobRecord]:
    """``finish_leased`` for several jobs that end with the same ``values``, in one
    statement: the rows of those this worker still leased."""
    result = session.execute(
        update(JOBS)
        .where(
            JobRow.id.in_(sorted(job_ids)),
            JobRow.status == JobStatus.RUNNING,
            JobRow.lease_owner == worker_id,
        )
        .values(**values, lease_owner=None, lease_expires_at=None)
        .returning(*JOBS.c)
    )
    return list(result.all())


def release_leased(session: Session, job_ids: Sequence[str], worker_id: str) -> list[JobRecord]:
    """Requeue this worker's running jobs, giving back the attempt their claim counted."""
    result = session.execute(
        update(JOBS)
        .where(
            JobRow.id.in_(job_ids),
            JobRow.status == JobStatus.RUNNING,
            JobRow.lease_owner == worker_id,
        )
        .values(
            status=JobStatus.QUEUED,
            lease_owner=None,
            lease_expires_at=None,
            progress=None,
            attempts=JobRow.attempts - 1,
        )
        .returning(*JOBS.c)
    )
    return list(result.all())


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


def reserved_by_key(session: Session, key_id: str) -> int:
    """Credits the key's queued and running jobs hold."""
    total = session.execute(
        select(func.coalesce(func.sum(JobRow.credits_reserved), 0)).where(
            JobRow.key_id == key_id,
            JobRow.status.in_([JobStatus.QUEUED, JobStatus.RUNNING]),
        )
    ).scalar_one()
    return int(total)


MAX_OFFSET = 2**63 - 1
"""The largest OFFSET SQLite and PostgreSQL take (a signed 64-bit integer)."""


def _scoped(account_id: str, scope: JobScope) -> tuple[ColumnElement[bool], ...]:
    return (
        JobRow.account_id == account_id,
        JobRow.source == scope.source,
        JobRow.kind.in_(sorted(scope.kinds)),
        JobRow.deleted_at.is_(None),
    )


def jobs_of(
    session: Session, account_id: str, scope: JobScope, *, limit: int, offset: int
) -> list[JobRow]:
    """A page of the account's jobs in ``scope``, newest first; none past ``MAX_OFFSET``."""
    if offset > MAX_OFFSET:
        return []
    return list(
        session.execute(
            select(JobRow)
            .where(*_scoped(account_id, scope))
            .order_by(JobRow.created_at.desc(), JobRow.id)
            .limit(limit)
            .offset(offset)
        ).scalars()
    )


@dataclass(frozen=True)
class JobFilter:
    """Which of an account's jobs a listing shows (None: any)."""

    kind: str | None = None
    model: str | None = None
    status: str | None = None
    since: datetime | None = None
    """Created at or after."""
    until: datetime | None = None
    """Created before."""


def jobs_page(
    session: Session,
    account_id: str,
    found: JobFilter,
    *,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[JobRow]:
    """Up to ``limit`` of the account's jobs (every source, deleted ones left out), newest
    first (ties by id, descending), from just after ``after`` (the (created_at, id) of the
    last one of the page before): a keyset page, read along ``ix_jobs_account_listing``."""
    conditions: list[ColumnElement[bool]] = [
        JobRow.account_id == account_id,
        JobRow.deleted_at.is_(None),
    ]
    if found.kind is not None:
        conditions.append(JobRow.kind == found.kind)
    if found.model is not None:
        conditions.append(JobRow.model == found.model)
    if found.status is not None:
        conditions.append(JobRow.status == found.status)
    if found.since is not None:
        conditions.append(JobRow.created_at >= found.since)
    if found.until is not None:
        conditions.append(JobRow.created_at < found.until)
    if after is not None:
        # A row value: PostgreSQL and SQLite both seek the index to it.
        created_at, job_id = after
        bound = tuple_(literal(created_at, JobRow.created_at.type), literal(job_id, String()))
        conditions.append(tuple_(JobRow.created_at, JobRow.id) < bound)
    statement = (
        select(JobRow)
        .where(*conditions)
        .order_by(JobRow.created_at.desc(), JobRow.id.desc())
        .limit(limit)
    )
    return list(session.execute(statement).scalars())


def count_jobs_of(session: Session, account_id: str, scope: JobScope) -> int:
    return int(
        session.execute(
            select(func.count()).select_from(JobRow).where(*_scoped(account_id, scope))
        ).scalar_one()
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


def owned_image_asset(session: Session, account_id: str, storage_key: str) -> AssetRow | None:
    """The account's image at ``storage_key``, from a succeeded job not deleted since."""
    return session.execute(
        select(AssetRow)
        .join(JobRow, JobRow.id == AssetRow.job_id)
        .where(
            AssetRow.storage_key == storage_key,
            AssetRow.account_id == account_id,
            AssetRow.kind == "image",
            JobRow.status == JobStatus.SUCCEEDED,
            JobRow.deleted_at.is_(None),
        )
    ).scalar_one_or_none()


def image_asset_by_id(session: Session, account_id: str, asset_id: str) -> AssetRow | None:
    """The account's image asset ``asset_id``, from a succeeded job not deleted since."""
    return session.execute(
        select(AssetRow)
        .join(JobRow, JobRow.id == AssetRow.job_id)
        .where(
            AssetRow.id == asset_id,
            AssetRow.account_id == account_id,
            AssetRow.kind == "image",
            JobRow.status == JobStatus.SUCCEEDED,
            JobRow.deleted_at.is_(None),
        )
    ).scalar_one_or_none()


def asset_ids_by_key(
    session: Session, account_id: str, storage_keys: Collection[str]
) -> dict[str, str]:
    """The ids of the account's assets stored at ``storage_keys`` (those still there)."""
    if not storage_keys:
        return {}
    rows = session.execute(
        select(AssetRow.storage_key, AssetRow.id).where(
            AssetRow.account_id == account_id, AssetRow.storage_key.in_(sorted(storage_keys))
        )
    )
    return {key: asset_id for key, asset_id in rows.all()}


def queued_by_kind(session: Session) -> dict[str, tuple[int, datetime]]:
    """Per kind of job: how many are queued, and when the oldest of them was submitted."""
    rows = session.execute(
        select(JobRow.kind, func.count(), func.min(JobRow.created_at))
        .where(JobRow.status == JobStatus.QUEUED)
        .group_by(JobRow.kind)
    ).all()
    return {kind: (count, oldest) for kind, count, oldest in rows}


def worker_seen(
    session: Session,
    worker_id: str,
    *,
    hostname: str,
    models: Sequence[str] | None,
    concurrency: int,
    started_at: datetime,
    now: datetime,
    forget_before: datetime,
) -> None:
    """Record that the worker is alive now; forget workers unseen since ``forget_before``."""
    row = session.get(WorkerRow, worker_id)
    if row is None:
        session.add(
            WorkerRow(
                id=worker_id,
                hostname=hostname,
                models=list(models) if models is not None else None,
                concurrency=concurrency,
                started_at=started_at,
                last_seen_at=now,
            )
        )
    else:
        row.last_seen_at = now
    session.execute(delete(WorkerRow).where(WorkerRow.last_seen_at < forget_before))


def workers_seen_since(session: Session, since: datetime) -> list[WorkerRow]:
    return list(
        session.scalars(
            select(WorkerRow).where(WorkerRow.last_seen_at >= since).order_by(WorkerRow.id)
        )
    )


def queue_counts(session: Session) -> tuple[dict[str, int], datetime | None]:
    """Unfinished jobs by status (queued, running), and the oldest queued job's creation."""
    unfinished = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)
    counts = session.execute(
        select(JobRow.status, func.count())
        .where(JobRow.status.in_(unfinished))
        .group_by(JobRow.status)
    ).all()
    oldest = session.scalar(
        select(JobRow.created_at)
        .where(JobRow.status == JobStatus.QUEUED.value)
        .order_by(JobRow.created_at)
        .limit(1)
    )
    return {status: count for status, count in counts}, oldest
