"""All SQL of the accounts room."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from creatix.accounts.models import Account, ApiKey


def account_by_name(session: Session, name: str) -> Account | None:
    return session.execute(select(Account).where(Account.name == name)).scalar_one_or_none()


def all_accounts(session: Session) -> list[Account]:
    return list(session.execute(select(Account).order_by(Account.name)).scalars())


def key_with_account(session: Session, secret_hash: str) -> tuple[ApiKey, Account] | None:
    row = session.execute(
        select(ApiKey, Account)
        .join(Account, Account.id == ApiKey.account_id)
        .where(ApiKey.secret_hash == secret_hash)
    ).one_or_none()
    return None if row is None else (row[0], row[1])


def keys_with_accounts(
    session: Session, account_id: str | None = None
) -> list[tuple[ApiKey, Account]]:
    query = select(ApiKey, Account).join(Account, Account.id == ApiKey.account_id)
    if account_id is not None:
        query = query.where(Account.id == account_id)
    else:
        query = query.where(Account.deleted_at.is_(None))
    return [(key, account) for key, account in session.execute(query.order_by(ApiKey.created_at))]


def revoke_key(session: Session, key_id: str, now: datetime) -> bool:
    revoked = session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=now)
        .returning(ApiKey.id)
    ).scalar_one_or_none()
    return revoked is not None


KEY_USE_ONLY = "creatix_key_use_only"
"""Set in a session's info by a transaction that only recorded a key's use: no change to
what authentication reads (``keycache`` keeps its keys)."""


def touch_key(session: Session, key_id: str, now: datetime, before: datetime) -> None:
    """Set the key's ``last_used_at`` to ``now`` unless it is already after ``before``."""
    session.info[KEY_USE_ONLY] = True
    session.execute(
        update(ApiKey)
        .where(
            ApiKey.id == key_id,
            or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < before),
        )
        .values(last_used_at=now)
    )
