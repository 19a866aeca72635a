from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from creatix.kit.db import Base, UTCDateTime


class QuotaUsage(Base):
    """Images counted against an account's plan quota in one period (``day:YYYY-MM-DD``...)."""

    __tablename__ = "quota_usage"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    period: Mapped[str] = mapped_column(String(20), primary_key=True)
    images: Mapped[int] = mapped_column(Integer, default=0)


class CreditBalance(Base):
    """An account's credit totals, kept equal to the sum of its ledger in every transaction."""

    __tablename__ = "credit_balances"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    balance: Mapped[int] = mapped_column(Integer, default=0)
    lifetime_purchased: Mapped[int] = mapped_column(Integer, default=0)
    lifetime_used: Mapped[int] = mapped_column(Integer, default=0)


class LedgerEntry(Base):
    """One movement of credits; entries are only ever appended.

    ``grant`` (+) adds credits; ``reserve`` (-) holds a job's full price at submit;
    settlement releases the hold with a ``refund`` (+) of the reservation and books a
    ``charge`` (-) for what was produced. One job has at most one entry of each kind: the
    unique index makes a second settlement impossible, not just unlikely.
    """

    __tablename__ = "ledger_entries"
    __table_args__ = (
        Index("uq_ledger_entries_job_kind", "job_id", "kind", unique=True),
        Index("ix_ledger_entries_account_created", "account_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id"), default=None)
    kind: Mapped[str] = mapped_column(String(10))
    amount: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CreditAdjustment(Base):
    """An operator's grant or deduction made with an ``Idempotency-Key``: the same key for the
    same account answers the first adjustment again (a payment webhook may call twice)."""

    __tablename__ = "credit_adjustments"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    """SHA-256 of the adjustment asked for (amount and note): another one is a 409."""
    ledger_entry_id: Mapped[str] = mapped_column(ForeignKey("ledger_entries.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
