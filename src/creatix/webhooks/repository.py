"""All SQL of delivering the outbox: lease due deliveries, record attempts, list them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, func, or_, select, update
from sqlalchemy.orm import Session

from creatix.webhooks.models import WebhookAttempt, WebhookDelivery

DELIVERIES: Table = WebhookDelivery.__table__  # type: ignore[assignment]
PENDING = "pending"


@dataclass(frozen=True)
class DueDelivery:
    """A pending delivery leased to one deliverer for one attempt."""

    id: str
    account_id: str
    job_id: str
    url: str
    event_type: str
    attempts: int
    """Attempts made before this one."""


def lease_due(
    session: Session,
    *,
    owner: str,
    now: datetime,
    lease_until: datetime,
    limit: int,
    per_account: int,
) -> list[DueDelivery]:
    """Lease up to ``limit`` pending deliveries due by ``now`` that nobody holds a live lease
    on, such that ``owner`` then holds at most ``per_account`` of any one account's.

    Accounts at their cap are passed over; of the others' oldest due deliveries (a few times
    ``limit``: one indexed ORDER BY, however long a backlog is), accounts take turns, every
    account's first before any account's second. So one account's backlog can neither fill
    the slots nor make leasing slow. Fewer than ``limit`` may be leased while more are due
    (an account reached its cap among those read): lease again until none is.

    PostgreSQL locks the chosen rows ``FOR UPDATE SKIP LOCKED`` so deliverers never wait on
    one another (a row another deliverer is leasing is skipped); on SQLite the write
    transaction already holds the database lock."""
    unleased = or_(
        WebhookDelivery.lease_expires_at.is_(None), WebhookDelivery.lease_expires_at < now
    )
    mine = (
        WebhookDelivery.lease_owner == owner,
        WebhookDelivery.status == PENDING,
        WebhookDelivery.lease_expires_at >= now,
    )
    held = (
        select(WebhookDelivery.account_id, func.count().label("held"))
        .where(*mine)
        .group_by(WebhookDelivery.account_id)
    )
    full = (
        select(WebhookDelivery.account_id)
        .where(*mine)
        .group_by(WebhookDelivery.account_id)
        .having(func.count() >= per_account)
    )
    oldest = (
        select(WebhookDelivery.id, WebhookDelivery.account_id, WebhookDelivery.next_attempt_at)
        .where(
            WebhookDelivery.status == PENDING,
            WebhookDelivery.next_attempt_at <= now,
            unleased,
            WebhookDelivery.account_id.not_in(full),
        )
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit * per_account)
        .subquery("oldest")
    )
    turns = select(
        oldest,
        func.row_number()
        .over(partition_by=oldest.c.account_id, order_by=(oldest.c.next_attempt_at, oldest.c.id))
        .label("turn"),
    ).subquery("turns")
    holding = held.subquery("holding")
    chosen = (
        select(turns.c.id)
        .outerjoin(holding, holding.c.account_id == turns.c.account_id)
        .where(turns.c.turn + func.coalesce(holding.c.held, 0) <= per_account)
        .order_by(turns.c.turn, turns.c.next_attempt_at, turns.c.id)
        .limit(limit)
    )
    # The conditions again, on the locked rows: a row chosen as another deliverer leased or
    # finished it is re-checked (PostgreSQL re-reads a row changed by a concurrent commit).
    still_due = (WebhookDelivery.status == PENDING, unleased)
    locked = (
        select(WebhookDelivery.id)
        .where(WebhookDelivery.id.in_(chosen), *still_due)
        .with_for_update(skip_locked=True)
    )
    rows = session.execute(
        update(DELIVERIES)
        .where(WebhookDelivery.id.in_(locked.scalar_subquery()), *still_due)
        .values(lease_owner=owner, lease_expires_at=lease_until)
        .returning(
            WebhookDelivery.id,
            WebhookDelivery.account_id,
            WebhookDelivery.job_id,
            WebhookDelivery.url,
            WebhookDelivery.event_type,
            WebhookDelivery.attempts,
            WebhookDelivery.next_attempt_at,
        )
    ).all()
    return [
        DueDelivery(
            id=row.id,
            account_id=row.account_id,
            job_id=row.job_id,
            url=row.url,
            event_type=row.event_type,
            attempts=row.attempts,
        )
        for row in sorted(rows, key=lambda row: row.next_attempt_at)
    ]


def record_attempt(
    session: Session, attempt: WebhookAttempt, owner: str, values: Mapping[str, Any]
) -> bool:
    """Keep the attempt, and move the delivery to ``values`` if ``owner`` still leases it;
    False when the lease was lost (the attempt is kept all the same)."""
    session.add(attempt)
    moved = session.execute(
        update(DELIVERIES)
        .where(
            WebhookDelivery.id == attempt.delivery_id,
            WebhookDelivery.status == PENDING,
            WebhookDelivery.lease_owner == owner,
        )
        .values(
            **values,
            attempts=WebhookDelivery.attempts + 1,
            lease_owner=None,
            lease_expires_at=None,
        )
        .returning(WebhookDelivery.id)
    ).scalar_one_or_none()
    return moved is not None


def deliveries_of_job(session: Session, job_id: str) -> list[WebhookDelivery]:
    return list(
        session.execute(
            select(WebhookDelivery)
            .where(WebhookDelivery.job_id == job_id)
            .order_by(WebhookDelivery.created_at, WebhookDelivery.id)
        ).scalars()
    )


def deliveries_page(
    session: Session, account_id: str, job_id: str | None, limit: int, offset: int
) -> tuple[list[WebhookDelivery], int]:
    """A page of the account's deliveries (of one job, if given), newest first; the total."""
    match = [WebhookDelivery.account_id == account_id]
    if job_id is not None:
        match.append(WebhookDelivery.job_id == job_id)
    rows = session.execute(
        select(WebhookDelivery)
        .where(*match)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
        .limit(limit)
        .offset(offset)
    ).scalars()
    total = session.execute(select(func.count()).select_from(WebhookDelivery).where(*match))
    return list(rows), total.scalar_one()


def attempts_of(session: Session, delivery_ids: Sequence[str]) -> dict[str, list[WebhookAttempt]]:
    found: dict[str, list[WebhookAttempt]] = {delivery_id: [] for delivery_id in delivery_ids}
    rows = session.execute(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_(list(delivery_ids)))
        .order_by(WebhookAttempt.attempted_at, WebhookAttempt.id)
    ).scalars()
    for row in rows:
        found[row.delivery_id].append(row)
    return found
