"""The webhooks room's rules for the CLI, the account API and the deliverer: secrets and
delivery logs."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from creatix.accounts.audit import SYSTEM, AuditActor, record_by
from creatix.accounts.service import account_by_id
from creatix.jobs import repository as jobs_repository
from creatix.kit.clock import utcnow
from creatix.kit.db import Database
from creatix.kit.errors import NotFound
from creatix.webhooks import repository, secrets
from creatix.webhooks.models import WebhookDelivery
from creatix.webhooks.schemas import AccountSecret, AttemptInfo, DeliveryInfo, DeliveryPage


async def signing_secret(db: Database, account_id: str) -> str:
    """The account's ``whsec_`` secret, made on first use."""
    found = await db.read(lambda session: secrets.current(session, account_id))
    if found is not None:
        return found.secret

    def create(session: Session) -> str:
        return secrets.secret_for(session, account_id, utcnow()).secret

    try:
        return await db.write(create)
    except IntegrityError:
        # Another process made it first; its secret is the one.
        return await db.write(create)


async def account_secret(
    db: Database, account_id: str, *, rotate: bool = False, actor: AuditActor = SYSTEM
) -> AccountSecret:
    """The account's secret, made if it has none; ``rotate`` replaces it (the old one stops
    verifying). Revealing and rotating are both written to the audit log."""

    def work(session: Session) -> AccountSecret:
        account = account_by_id(session, account_id)
        change = secrets.rotate if rotate else secrets.secret_for
        secret = change(session, account.id, utcnow())
        action = "webhook_secret.rotated" if rotate else "webhook_secret.revealed"
        record_by(session, actor, account_id=account.id, action=action, target=account.id)
        return AccountSecret(
            account=account.name,
            account_id=account.id,
            secret=secret.secret,
            created_at=secret.created_at,
        )

    try:
        return await db.write(work)
    except IntegrityError:
        return await db.write(work)


def _delivery_infos(session: Session, deliveries: Sequence[WebhookDelivery]) -> list[DeliveryInfo]:
    attempts = repository.attempts_of(session, [d.id for d in deliveries])
    return [
        DeliveryInfo(
            id=d.id,
            job_id=d.job_id,
            url=d.url,
            event_type=d.event_type,
            status=d.status,
            attempts=d.attempts,
            next_attempt_at=d.next_attempt_at if d.status == repository.PENDING else None,
            created_at=d.created_at,
            finished_at=d.finished_at,
            attempt_log=[
                AttemptInfo.model_validate(a, from_attributes=True) for a in attempts[d.id]
            ],
        )
        for d in deliveries
    ]


async def deliveries_of(db: Database, job_id: str) -> list[DeliveryInfo]:
    """A job's webhook deliveries with every attempt, oldest first; ``NotFound`` without
    such a job."""

    def read(session: Session) -> list[DeliveryInfo] | None:
        job = jobs_repository.job(session, job_id)
        if job is None:
            return None
        return _delivery_infos(session, repository.deliveries_of_job(session, job.id))

    found = await db.read(read)
    if found is None:
        raise NotFound(f"No job found with id '{job_id}'.", param="job_id")
    return found


async def delivery_page(
    db: Database, account_id: str, *, job_id: str | None, limit: int, offset: int
) -> DeliveryPage:
    """A page of the account's deliveries, newest first, each with every attempt; only
    ``job_id``'s when given."""

    def read(session: Session) -> DeliveryPage:
        rows, total = repository.deliveries_page(session, account_id, job_id, limit, offset)
        return DeliveryPage(
            data=_delivery_infos(session, rows), total=total, limit=limit, offset=offset
        )

    return await db.read(read)
