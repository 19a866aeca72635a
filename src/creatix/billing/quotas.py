"""Plan quotas: images per day or per month, counted per account.

Reserving is one conditional increment in the caller's transaction, so concurrent submits can
never count past the limit, on SQLite or PostgreSQL alike. A job that fails or is canceled
gives its images back.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from creatix.billing.models import QuotaUsage
from creatix.catalog.schemas import PlanEntry, Quota
from creatix.kit.errors import TooManyRequests


def period_key(quota: Quota, now: datetime) -> str:
    if quota.period == "day":
        return f"day:{now:%Y-%m-%d}"
    return f"month:{now:%Y-%m}"


def period_end(quota: Quota, now: datetime) -> datetime:
    start_of_day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if quota.period == "day":
        return start_of_day + timedelta(days=1)
    first = start_of_day.replace(day=1)
    return (first + timedelta(days=32)).replace(day=1)


def _ensure_row(session: Session, account_id: str, period: str) -> None:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(
        dialect.insert(QuotaUsage)
        .values(account_id=account_id, period=period, images=0)
        .on_conflict_do_nothing()
    )


def reserve(
    session: Session, account_id: str, plan: PlanEntry, images: int, now: datetime
) -> str | None:
    """Count ``images`` against the plan's quota; the period key, or None when unlimited."""
    if plan.quota is None:
        return None
    period = period_key(plan.quota, now)
    _ensure_row(session, account_id, period)
    result = session.execute(
        update(QuotaUsage)
        .where(
            QuotaUsage.account_id == account_id,
            QuotaUsage.period == period,
            QuotaUsage.images + images <= plan.quota.images,
        )
        .values(images=QuotaUsage.images + images)
        .returning(QuotaUsage.images)
    )
    if result.scalar_one_or_none() is None:
        resets = period_end(plan.quota, now)
        raise TooManyRequests(
            f"The {plan.id} plan's quota of {plan.quota.images} images per "
            f"{plan.quota.period} is used up; it resets at {resets:%Y-%m-%dT%H:%M:%SZ}.",
            code="quota_exceeded",
            retry_after=int((resets - now).total_seconds()) + 1,
        )
    return period


def release(session: Session, account_id: str, period: str, images: int) -> None:
    session.execute(
        update(QuotaUsage)
        .where(QuotaUsage.account_id == account_id, QuotaUsage.period == period)
        .values(images=QuotaUsage.images - images)
    )


def used(session: Session, account_id: str, period: str) -> int:
    row = session.get(QuotaUsage, (account_id, period))
    return 0 if row is None else row.images
