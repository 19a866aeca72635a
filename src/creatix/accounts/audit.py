"""The audit log: who changed which account, key or balance, when and from where.

``record`` appends one entry in the caller's transaction, so a change and its entry commit
together or not at all. Service functions that change accounts, keys or credits take the
acting ``AuditActor`` as a parameter their callers pass: the CLI passes the operator at the
shell, the HTTP API the person or key behind the request, so both leave the same trail.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from creatix.accounts.models import AuditEntry
from creatix.kit.clock import utcnow
from creatix.kit.ids import new_id

ActorKind = Literal["person", "key", "cli", "system"]


@dataclass(frozen=True)
class AuditActor:
    """Who makes a change: its kind, its id (a person's or key's id, a shell user's name) and
    the client's address, when it came over HTTP."""

    kind: ActorKind
    id: str
    address: str | None = None


SYSTEM = AuditActor(kind="system", id="creatix")
"""Changes the server makes itself (and callers that do not say who they act for)."""


def cli_actor() -> AuditActor:
    """The operator at the shell running ``creatix``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return AuditActor(kind="cli", id=user)


def record(
    session: Session,
    *,
    actor_kind: str,
    actor_id: str,
    account_id: str | None,
    action: str,
    target: str | None,
    address: str | None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry to the audit log, in the caller's transaction."""
    entry = AuditEntry(
        id=new_id("aud"),
        created_at=utcnow(),
        actor_kind=actor_kind,
        actor_id=actor_id,
        account_id=account_id,
        action=action,
        target=target,
        address=address,
        detail=detail,
    )
    session.add(entry)
    return entry


def record_by(
    session: Session,
    actor: AuditActor,
    *,
    account_id: str | None,
    action: str,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """``record`` for ``actor``."""
    return record(
        session,
        actor_kind=actor.kind,
        actor_id=actor.id,
        account_id=account_id,
        action=action,
        target=target,
        address=actor.address,
        detail=detail,
    )


def entries(
    session: Session, account_id: str | None, limit: int = 50, offset: int = 0
) -> list[AuditEntry]:
    """The newest entries (after skipping ``offset``), of one account or (None) of all."""
    query = select(AuditEntry)
    if account_id is not None:
        query = query.where(AuditEntry.account_id == account_id)
    query = query.order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
    query = query.limit(limit).offset(offset)
    return list(session.execute(query).scalars())
