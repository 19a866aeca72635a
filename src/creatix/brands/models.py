from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from creatix.kit.db import Base, UTCDateTime


class BrandKitRow(Base):
    """One brand kit of an account. Its logo and font files live in storage under
    ``brand-kits/{account_id}/{kit_id}/``; the row names them."""

    __tablename__ = "brand_kits"
    __table_args__ = (Index("ix_brand_kits_account", "account_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    name: Mapped[str] = mapped_column(String(200))
    primary_color: Mapped[str] = mapped_column(String(7))
    secondary_color: Mapped[str] = mapped_column(String(7))
    background_color: Mapped[str] = mapped_column(String(7))
    text_color: Mapped[str] = mapped_column(String(7))
    font_name: Mapped[str] = mapped_column(String(200))
    """A bundled font's name, or the uploaded font's family name."""
    font_key: Mapped[str | None] = mapped_column(String(300), default=None)
    """The storage key of the uploaded font file (None: ``font_name`` is a bundled font)."""
    logo_key: Mapped[str | None] = mapped_column(String(300), default=None)
    logo_mime_type: Mapped[str | None] = mapped_column(String(40), default=None)
    tone_of_voice: Mapped[str] = mapped_column(Text, default="")
    banned_words: Mapped[list[str]] = mapped_column(JSON, default=list)
    default_cta: Mapped[str | None] = mapped_column(String(100), default=None)
    legal_line: Mapped[str | None] = mapped_column(String(300), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
