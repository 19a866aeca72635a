"""The credit ledger: append-only entries, and balances that always equal their sum.

Every function here runs inside the caller's transaction, so a reservation is made in the
same transaction that creates its job, and a settlement in the one that ends it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from creatix.billing.models import CreditBalance, LedgerEntry
from creatix.kit.errors import Conflict, InsufficientCredits, InvalidRequest
from creatix.kit.ids import new_id


@dataclass(frozen=True)
class Credits:
    balance: int
    lifetime_purchased: int
    lifetime_used: int


def _ensure_balance(session: Session, account_id: str) -> None:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(
        dialect.insert(CreditBalance)
        .values(account_id=account_id, balance=0, lifetime_purchased=0, lifetime_used=0)
        .on_conflict_do_nothing()
    )


def _append(
    session: Session,
    account_id: str,
    kind: str,
    amount: int,
    now: datetime,
    *,
    job_id: str | None = None,
    note: str | None = None,
) -> str:
    entry_id = new_id("led")
    session.add(
        LedgerEntry(
            id=entry_id,
            account_id=account_id,
            job_id=job_id,
            kind=kind,
            amount=amount,
            note=note,
            created_at=now,
        )
    )
    return entry_id


def grant(session: Session, account_id: str, amount: int, now: datetime, note: str | None) -> str:
    """Add ``amount`` credits; the ledger entry's id."""
    if amount <= 0:
        raise InvalidRequest("A grant must be a positive number of credits.", param="amount")
    _ensure_balance(session, account_id)
    session.execute(
        update(CreditBalance)
        .where(CreditBalance.account_id == account_id)
        .values(
            balance=CreditBalance.balance + amount,
            lifetime_purchased=CreditBalance.lifetime_purchased + amount,
        )
    )
    return _append(session, account_id, "grant", amount, now, note=note)


def deduct(session: Session, account_id: str, amount: int, now: datetime, note: str | None) -> str:
    """Take ``amount`` credits away (an operator's correction); the ledger entry's id.

    One conditional update, so it can never take the balance below 0 (``Conflict``).
    Lifetime totals are left as they are: they count purchases and use, not corrections.
    """
    if amount <= 0:
        raise InvalidRequest("A deduction must be a positive number of credits.", param="amount")
    _ensure_balance(session, account_id)
    taken = session.execute(
        update(CreditBalance)
        .where(CreditBalance.account_id == account_id, CreditBalance.balance >= amount)
        .values(balance=CreditBalance.balance - amount)
        .returning(CreditBalance.balance)
    ).scalar_one_or_none()
    if taken is None:
        available = balance_of(session, account_id).balance
        raise Conflict(
            f"Cannot deduct {amount} credits; the balance is {available}.",
            code="insufficient_balance",
            param="amount",
        )
    return _append(session, account_id, "deduct", -amount, now, note=note)


def reserve(session: Session, account_id: str, job_id: str, amount: int, now: datetime) -> None:
    """Hold ``amount`` for a job; ``InsufficientCredits`` if the balance cannot cover it.

    One conditional update, so concurrent reservations can never take the balance below 0.
    """
    if amount == 0:
        return
    _ensure_balance(session, account_id)
    held = session.execute(
        update(CreditBalance)
        .where(CreditBalance.account_id == account_id, CreditBalance.balance >= amount)
        .values(balance=CreditBalance.balance - amount)
        .returning(CreditBalance.balance)
    ).scalar_one_or_none()
    if held is None:
        available = balance_of(session, account_id).balance
        raise InsufficientCredits(
            f"This request costs {amount} credits; the balance is {available}.",
        )
    _append(session, account_id, "reserve", -amount, now, job_id=job_id)


def settle(
    session: Session,
    account_id: str,
    job_id: str,
    *,
    reserved: int,
    charged: int,
    now: datetime,
) -> None:
    """Release a job's hold and charge what it produced (0 when it failed or was canceled)."""
    if reserved == 0:
        return
    if not 0 <= charged <= reserved:
        raise ValueError(f"cannot charge {charged} against a reservation of {reserved}")
    session.execute(
        update(CreditBalance)
        .where(CreditBalance.account_id == account_id)
        .values(
            balance=CreditBalance.balance + reserved - charged,
            lifetime_used=CreditBalance.lifetime_used + charged,
        )
    )
    _append(session, account_id, "refund", reserved, now, job_id=job_id)
    if charged:
        _append(session, account_id, "charge", -charged, now, job_id=job_id)


def balance_of(session: Session, account_id: str) -> Credits:
    row = session.get(CreditBalance, account_id)
    if row is None:
        return Credits(0, 0, 0)
    return Credits(row.balance, row.lifetime_purchased, row.lifetime_used)


def balances_of(session: Session, account_ids: list[str]) -> dict[str, int]:
    """The balance of each account of ``account_ids`` (0 for one with no credits yet)."""
    found = session.execute(
        select(CreditBalance.account_id, CreditBalance.balance).where(
            CreditBalance.account_id.in_(account_ids)
        )
    )
    balances = dict.fromkeys(account_ids, 0)
    balances.update({account_id: balance for account_id, balance in found})
    return balances


def ledger_sum(session: Session, account_id: str) -> int:
    total = session.execute(
        select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
            LedgerEntry.account_id == account_id
        )
    ).scalar_one()
    return int(total)


def entries(session: Session, account_id: str, limit: int = 20) -> list[LedgerEntry]:
    return list(
        session.execute(
            select(LedgerEntry)
            .where(LedgerEntry.account_id == account_id)
            .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id)
            .limit(limit)
        ).scalars()
    )
