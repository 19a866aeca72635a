"""The content policy's table: every refusal, for operators to see."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from creatix.kit.db import Base, UTCDateTime


class PolicyRefusal(Base):
    """One refusal: a request's text (stage ``prompt``), a generated image (``output``) or a
    generated answer (``copy``). ``matched`` is the blocklist's term or the pattern's match;
    ``text`` the refused text itself, only where the policy says ``keep_prompt: true``."""

    __tablename__ = "policy_refusals"
    __table_args__ = (Index("ix_policy_refusals_account_created", "account_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    key_id: Mapped[str | None] = mapped_column(String(40), default=None)
    job_id: Mapped[str | None] = mapped_column(String(40), default=None)
    dialect: Mapped[str] = mapped_column(String(40))
    stage: Mapped[str] = mapped_column(String(20))
    policy: Mapped[str] = mapped_column(String(40))
    category: Mapped[str] = mapped_column(String(60))
    source: Mapped[str] = mapped_column(String(20))
    """``blocklist``, ``moderation`` or ``classifier`` (the policy's local image classifier)."""
    score: Mapped[float | None] = mapped_column(Float, default=None)
    matched: Mapped[str | None] = mapped_column(String(200), default=None)
    field: Mapped[str | None] = mapped_column(String(100), default=None)
    text: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
