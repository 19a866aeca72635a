"""All SQL of the accounts room."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
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


def keys_with_accounts(session: Session, account_name: str | None) -> list[tuple[ApiKey, Account]]:
    query = select(ApiKey, Account).join(Account, Account.id == ApiKey.account_id)
    if account_name is not None:
        query = query.where(Account.name == account_name)
    return [(key, account) for key, account in session.execute(query.order_by(ApiKey.created_at))]


def revoke_key(session: Session, key_id: str, now: datetime) -> bool:
    revoked = session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=now)
        .returning(ApiKey.id)
    ).scalar_one_or_none()
    return revoked is not None
