"""All SQL of the accounts room."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from creatix.accounts.models import Account, ApiKey


async def account_by_name(session: AsyncSession, name: str) -> Account | None:
    result = await session.execute(select(Account).where(Account.name == name))
    return result.scalar_one_or_none()


async def key_with_account(
    session: AsyncSession, secret_hash: str
) -> tuple[ApiKey, Account] | None:
    result = await session.execute(
        select(ApiKey, Account)
        .join(Account, Account.id == ApiKey.account_id)
        .where(ApiKey.secret_hash == secret_hash)
    )
    row = result.one_or_none()
    return None if row is None else (row[0], row[1])


async def keys_with_accounts(
    session: AsyncSession, account_name: str | None
) -> list[tuple[ApiKey, Account]]:
    query = select(ApiKey, Account).join(Account, Account.id == ApiKey.account_id)
    if account_name is not None:
        query = query.where(Account.name == account_name)
    result = await session.execute(query.order_by(ApiKey.created_at))
    return [(key, account) for key, account in result.all()]


async def revoke_key(session: AsyncSession, key_id: str, now: datetime) -> bool:
    result = await session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=now)
        .returning(ApiKey.id)
    )
    return result.scalar_one_or_none() is not None
