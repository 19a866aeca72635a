"""Writing to the outbox, inside the transaction that ends a job."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from creatix.kit.ids import new_id
from creatix.webhooks.models import WebhookDelivery


def enqueue(
    session: Session, *, account_id: str, job_id: str, url: str, event_type: str, now: datetime
) -> None:
    """Record that ``url`` is owed an ``event_type`` event about the job, due now."""
    session.add(
        WebhookDelivery(
            id=new_id("msg"),
            account_id=account_id,
            job_id=job_id,
            url=url,
            event_type=event_type,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )
