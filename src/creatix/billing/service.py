"""Credits for operators and dialects: grants, balances and statements."""

from __future__ import annotations

from sqlalchemy.orm import Session

from creatix.accounts.models import Account
from creatix.accounts.service import account_named
from creatix.billing import ledger
from creatix.billing.schemas import CreditEntry, CreditStatement
from creatix.kit.clock import utcnow
from creatix.kit.db import Database


def _statement(session: Session, account: Account, limit: int) -> CreditStatement:
    credits = ledger.balance_of(session, account.id)
    return CreditStatement(
        account=account.name,
        unlimited=account.unlimited,
        balance=credits.balance,
        lifetime_purchased=credits.lifetime_purchased,
        lifetime_used=credits.lifetime_used,
        entries=[
            CreditEntry.model_validate(entry, from_attributes=True)
            for entry in ledger.entries(session, account.id, limit)
        ],
    )


async def grant(db: Database, account_name: str, amount: int, note: str | None) -> CreditStatement:
    def work(session: Session) -> CreditStatement:
        account = account_named(session, account_name)
        ledger.grant(session, account.id, amount, utcnow(), note)
        return _statement(session, account, limit=1)

    return await db.write(work)


async def statement(db: Database, account_name: str, limit: int = 20) -> CreditStatement:
    return await db.read(
        lambda session: _statement(session, account_named(session, account_name), limit)
    )


async def credits_of(db: Database, account_id: str) -> ledger.Credits:
    return await db.read(lambda session: ledger.balance_of(session, account_id))
