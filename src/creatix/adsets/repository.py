"""All SQL of the ad-set room."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from creatix.adsets.models import AdSetCreativeRow, AdSetRow, AdSetVariantRow
from creatix.jobs.models import AssetRow, JobRow

TERMINAL = ("succeeded", "failed", "canceled")
FAILED = ("failed", "canceled")


def owned(session: Session, account_id: str, ad_set_id: str) -> AdSetRow | None:
    row = session.get(AdSetRow, ad_set_id)
    return row if row is not None and row.account_id == account_id else None


def variants_of(session: Session, ad_set_id: str) -> list[AdSetVariantRow]:
    query = select(AdSetVariantRow).where(AdSetVariantRow.ad_set_id == ad_set_id)
    return list(session.scalars(query.order_by(AdSetVariantRow.index)))


def creatives_of(session: Session, ad_set_id: str) -> list[AdSetCreativeRow]:
    query = select(AdSetCreativeRow).where(AdSetCreativeRow.ad_set_id == ad_set_id)
    return list(
        session.scalars(query.order_by(AdSetCreativeRow.variant, AdSetCreativeRow.position))
    )


def of_account(session: Session, account_id: str, limit: int, offset: int) -> list[AdSetRow]:
    """The account's sets, newest first."""
    query = (
        select(AdSetRow)
        .where(AdSetRow.account_id == account_id)
        .order_by(AdSetRow.created_at.desc(), AdSetRow.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(session.scalars(query))


def count_of_account(session: Session, account_id: str) -> int:
    query = select(func.count()).select_from(AdSetRow).where(AdSetRow.account_id == account_id)
    return int(session.scalar(query) or 0)


def id_of_copy_job(session: Session, job_id: str) -> str | None:
    """The set whose copy job ``job_id`` is (its first part)."""
    return session.scalar(select(AdSetRow.id).where(AdSetRow.copy_job_id == job_id))


def jobs(session: Session, job_ids: Sequence[str]) -> dict[str, JobRow]:
    return {row.id: row for row in session.scalars(select(JobRow).where(JobRow.id.in_(job_ids)))}


@dataclass(frozen=True)
class Ready:
    """A variant whose parts have both ended, whose copy part failed, or whose layout lease
    ran out."""

    variant: AdSetVariantRow
    ad_set: AdSetRow
    copy_job: JobRow
    visual_job: JobRow


def _ready(now: datetime) -> tuple[Any, ...]:
    """(query columns' joins and condition) of the variants the layout step may take."""
    copy_job = aliased(JobRow)
    visual_job = aliased(JobRow)
    condition = or_(
        and_(
            AdSetVariantRow.status == "waiting",
            copy_job.status.in_(TERMINAL),
            visual_job.status.in_(TERMINAL),
        ),
        # The copy failed: no creative can be made, whatever the key visual does.
        and_(AdSetVariantRow.status == "waiting", copy_job.status.in_(FAILED)),
        and_(AdSetVariantRow.status == "composing", AdSetVariantRow.layout_expires_at < now),
    )
    return copy_job, visual_job, condition


def any_ready(session: Session, now: datetime) -> bool:
    """Whether the layout step has work (a read, so idle rounds take no write lock)."""
    copy_job, visual_job, condition = _ready(now)
    query = (
        select(AdSetVariantRow.index)
        .join(AdSetRow, AdSetRow.id == AdSetVariantRow.ad_set_id)
        .join(copy_job, copy_job.id == AdSetRow.copy_job_id)
        .join(visual_job, visual_job.id == AdSetVariantRow.visual_job_id)
        .where(AdSetVariantRow.status.in_(("waiting", "composing")), condition)
        .limit(1)
    )
    return session.execute(query).first() is not None


def waiting_parts(session: Session, limit: int) -> list[str]:
    """The ids of unfinished parts that waiting variants wait on (what to be woken by)."""
    copy_job = aliased(JobRow)
    visual_job = aliased(JobRow)
    query = (
        select(copy_job.id, visual_job.id, copy_job.status, visual_job.status)
        .select_from(AdSetVariantRow)
        .join(AdSetRow, AdSetRow.id == AdSetVariantRow.ad_set_id)
        .join(copy_job, copy_job.id == AdSetRow.copy_job_id)
        .join(visual_job, visual_job.id == AdSetVariantRow.visual_job_id)
        .where(AdSetVariantRow.status == "waiting")
        .limit(limit)
    )
    found: dict[str, None] = {}
    for copy_id, visual_id, copy_status, visual_status in session.execute(query):
        for job_id, status in ((copy_id, copy_status), (visual_id, visual_status)):
            if status not in TERMINAL:
                found[job_id] = None
    return list(found)


def ready_variants(session: Session, now: datetime, limit: int) -> list[Ready]:
    """Variants waiting on parts that have all ended, and composing ones whose lease expired,
    locked for this transaction (PostgreSQL; SQLite writers are serial)."""
    copy_job, visual_job, condition = _ready(now)
    query = (
        select(AdSetVariantRow, AdSetRow, copy_job, visual_job)
        .join(AdSetRow, AdSetRow.id == AdSetVariantRow.ad_set_id)
        .join(copy_job, copy_job.id == AdSetRow.copy_job_id)
        .join(visual_job, visual_job.id == AdSetVariantRow.visual_job_id)
        .where(AdSetVariantRow.status.in_(("waiting", "composing")), condition)
        .limit(limit)
        .with_for_update(of=AdSetVariantRow, skip_locked=True)
    )
    return [Ready(*row) for row in session.execute(query)]


def first_image_key(session: Session, job_id: str) -> str | None:
    query = (
        select(AssetRow.storage_key)
        .where(AssetRow.job_id == job_id, AssetRow.kind == "image")
        .order_by(AssetRow.index)
        .limit(1)
    )
    return session.scalars(query).first()


def finish_variant(
    session: Session, ad_set_id: str, index: int, owner: str, values: dict[str, object]
) -> bool:
    """End a composing variant this owner still leases; False when it does not."""
    result = session.execute(
        update(AdSetVariantRow)
        .where(
            AdSetVariantRow.ad_set_id == ad_set_id,
            AdSetVariantRow.index == index,
            AdSetVariantRow.status == "composing",
            AdSetVariantRow.layout_owner == owner,
        )
        .values(**values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
