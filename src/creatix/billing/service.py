"""Credits for operators and dialects: grants, balances and statements."""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from creatix.accounts.audit import SYSTEM, AuditActor, record_by
from creatix.accounts.models import Account
from creatix.accounts.service import account_by_id, account_id_named, account_named
from creatix.billing import ledger, quotas
from creatix.billing.models import CreditAdjustment, LedgerEntry
from creatix.billing.schemas import (
    AccountOverview,
    CreditAdjusted,
    CreditEntry,
    CreditStatement,
    QuotaState,
)
from creatix.catalog.schemas import Catalog
from creatix.kit.clock import utcnow
from creatix.kit.db import Database
from creatix.kit.errors import Conflict, InvalidRequest


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


async def grant(
    db: Database,
    account_name: str,
    amount: int,
    note: str | None,
    *,
    actor: AuditActor = SYSTEM,
) -> CreditStatement:
    """Grant credits to the named account (``adjust_credits``); its statement after."""
    account_id = await account_id_named(db, account_name)
    await adjust_credits(db, account_id, "grant", amount, note, actor=actor)
    return await db.read(
        lambda session: _statement(session, account_by_id(session, account_id), limit=1)
    )


MAX_NOTE_LENGTH = 1000


def _fingerprint(kind: str, amount: int, note: str | None) -> str:
    material = json.dumps([kind, amount, note], separators=(",", ":"))
    return hashlib.sha256(material.encode()).hexdigest()


async def adjust_credits(
    db: Database,
    account_id: str,
    kind: Literal["grant", "deduct"],
    amount: int,
    note: str | None,
    *,
    idempotency_key: str | None = None,
    actor: AuditActor = SYSTEM,
) -> CreditAdjusted:
    """Grant or deduct credits (a deduction never below 0: ``Conflict``), with a note kept in
    the ledger. With ``idempotency_key``, the same key for the same account answers the first
    adjustment again and changes nothing; a different adjustment under it is a ``Conflict``."""
    if amount <= 0:
        raise InvalidRequest("amount must be a positive number of credits.", param="amount")
    if note is not None and len(note) > MAX_NOTE_LENGTH:
        raise InvalidRequest(f"note is longer than {MAX_NOTE_LENGTH} characters.", param="note")
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= 255:
        raise InvalidRequest(
            "Idempotency-Key must be 1 to 255 characters.", param="Idempotency-Key"
        )
    fingerprint = _fingerprint(kind, amount, note)

    def replay(session: Session) -> CreditAdjusted | None:
        if idempotency_key is None:
            return None
        earlier = session.get(CreditAdjustment, (account_id, idempotency_key))
        if earlier is None:
            return None
        if earlier.fingerprint != fingerprint:
            raise Conflict(
                "This Idempotency-Key was used for a different adjustment.",
                code="idempotency_key_reused",
                param="Idempotency-Key",
            )
        entry = session.get(LedgerEntry, earlier.ledger_entry_id)
        assert entry is not None
        return CreditAdjusted(
            entry=CreditEntry.model_validate(entry, from_attributes=True),
            balance=ledger.balance_of(session, account_id).balance,
            replayed=True,
        )

    def work(session: Session) -> CreditAdjusted:
        account_by_id(session, account_id)
        replayed = replay(session)
        if replayed is not None:
            return replayed
        now = utcnow()
        adjust = ledger.grant if kind == "grant" else ledger.deduct
        entry_id = adjust(session, account_id, amount, now, note)
        record_by(
            session,
            actor,
            account_id=account_id,
            action="credits.granted" if kind == "grant" else "credits.deducted",
            target=account_id,
            detail={"amount": amount, "note": note, "entry": entry_id},
        )
        session.flush()  # the entry before the row naming it (no ORM relationship orders them)
        if idempotency_key is not None:
            session.add(
                CreditAdjustment(
                    account_id=account_id,
                    idempotency_key=idempotency_key,
                    fingerprint=fingerprint,
                    ledger_entry_id=entry_id,
                    created_at=now,
                )
            )
        session.flush()
        entry = session.get(LedgerEntry, entry_id)
        assert entry is not None
        return CreditAdjusted(
            entry=CreditEntry.model_validate(entry, from_attributes=True),
            balance=ledger.balance_of(session, account_id).balance,
        )

    try:
        return await db.write(work)
    except IntegrityError:
        # A concurrent first use of the key won; answer what it made.
        found = await db.read(replay)
        if found is None:
            raise
        return found


async def overview(db: Database, catalog: Catalog, account_id: str) -> AccountOverview:
    """The account's plan, balance, lifetime totals, and its plan quota's use and reset."""

    def work(session: Session) -> AccountOverview:
        account = account_by_id(session, account_id)
        credits = ledger.balance_of(session, account.id)
        plan = catalog.plan(account.plan)
        quota = None
        if plan is not None and plan.quota is not None:
            now = utcnow()
            quota = QuotaState(
                period=plan.quota.period,
                images=plan.quota.images,
                used=quotas.used(session, account.id, quotas.period_key(plan.quota, now)),
                resets_at=quotas.period_end(plan.quota, now),
            )
        return AccountOverview(
            id=account.id,
            name=account.name,
            plan=account.plan,
            unlimited=account.unlimited,
            status="suspended" if account.status == "suspended" else "active",
            created_at=account.created_at,
            balance=credits.balance,
            lifetime_purchased=credits.lifetime_purchased,
            lifetime_used=credits.lifetime_used,
            quota=quota,
        )

    return await db.read(work)


async def statement(db: Database, account_name: str, limit: int = 20) -> CreditStatement:
    return await db.read(
        lambda session: _statement(session, account_named(session, account_name), limit)
    )


async def credits_of(db: Database, account_id: str) -> ledger.Credits:
    return await db.read(lambda session: ledger.balance_of(session, account_id))


async def balances(db: Database, account_ids: list[str]) -> dict[str, int]:
    """The balance of each of ``account_ids``, in one read."""
    return await db.read(lambda session: ledger.balances_of(session, account_ids))
