from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from creatix.kit.db import Base


class QuotaUsage(Base):
    """Images counted against an account's plan quota in one period (``day:YYYY-MM-DD``...)."""

    __tablename__ = "quota_usage"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    period: Mapped[str] = mapped_column(String(20), primary_key=True)
    images: Mapped[int] = mapped_column(Integer, default=0)
