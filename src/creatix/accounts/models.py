from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, false, text
from sqlalchemy.orm import Mapped, mapped_column

from creatix.kit.db import Base, UTCDateTime


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    plan: Mapped[str] = mapped_column(String(40))
    unlimited: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    content_policy: Mapped[str | None] = mapped_column(String(40), default=None)
    """The operator's override of the plan's content policy (None: the plan's)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(
        String(20), default="active", server_default=text("'active'")
    )
    """``active`` or ``suspended`` (its keys get a 403 on the dialects)."""
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    """Soft deletion: the row (and its ledger, jobs) stays; its keys stop working."""


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    display_prefix: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    scopes: Mapped[str] = mapped_column(
        String(100), default="generate", server_default=text("'generate'")
    )
    """Space-separated: ``generate`` (the dialects), ``manage`` (the account API),
    ``operator`` (the admin API)."""
    name: Mapped[str | None] = mapped_column(String(100), default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    """When the key last authenticated, written at most once a minute."""
    allowed_models: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    """The models this key may use (None: every model of the catalog)."""
    budget_daily_credits: Mapped[int | None] = mapped_column(Integer, default=None)
    """Credits this key may spend per UTC day (charged plus still reserved); None: no cap."""
    budget_monthly_credits: Mapped[int | None] = mapped_column(Integer, default=None)
    """Credits this key may spend per UTC calendar month; None: no cap."""
    rate_limit_per_minute: Mapped[int | None] = mapped_column(Integer, default=None)
    """Requests per minute for this key, below its plan's (None: the plan's)."""


class AuditEntry(Base):
    """One change to an account, its keys or its credits: who, what, when, from where.

    Written by ``accounts.audit.record`` in the transaction that makes the change. Rows are
    only ever appended; ``account_id`` is not a foreign key, so the trail outlives the account.
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_account_created", "account_id", "created_at"),
        Index("ix_audit_log_created", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_kind: Mapped[str] = mapped_column(String(20))
    """``person``, ``key``, ``cli`` or ``system``."""
    actor_id: Mapped[str] = mapped_column(String(200))
    account_id: Mapped[str | None] = mapped_column(String(40), default=None)
    action: Mapped[str] = mapped_column(String(60))
    """Dotted, past tense: ``account.created``, ``key.revoked``, ``credits.granted``..."""
    target: Mapped[str | None] = mapped_column(String(200), default=None)
    address: Mapped[str | None] = mapped_column(String(100), default=None)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


class AuthVersion(Base):
    """One row whose ``version`` moves (by triggers, migration 0020) in every transaction that
    changes what authenticating a key reads: a key's secret, revocation, scopes or limits, its
    account's name, plan, unlimited flag, content policy, status or deletion. Each process's
    ``accounts.keycache.KeyCache`` forgets its keys when it sees it move."""

    __tablename__ = "auth_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
