from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from creatix.kit.db import Base, UTCDateTime


class AdSetRow(Base):
    """An ad set: the parent of its parts (ordinary jobs) and of its creatives."""

    __tablename__ = "ad_sets"
    __table_args__ = (
        Index("ix_ad_sets_account", "account_id", "created_at"),
        Index("ix_ad_sets_status", "status"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    brand_kit_id: Mapped[str] = mapped_column(String(40))
    kit: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The kit as it was when the set was made (its files by storage key)."""
    brief: Mapped[dict[str, Any]] = mapped_column(JSON)
    placements: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    """Each placement: name, width, height (what the layout step composes)."""
    variants: Mapped[int] = mapped_column(Integer)
    image_model: Mapped[str] = mapped_column(String(100))
    copy_model: Mapped[str] = mapped_column(String(100))
    copy_job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"))
    source: Mapped[str] = mapped_column(String(30))
    """The dialect that made the set: its creatives carry that dialect's visible mark."""
    status: Mapped[str] = mapped_column(String(12))
    """``processing`` until every variant has ended, then ``completed`` or ``failed``."""
    credits_reserved: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class AdSetVariantRow(Base):
    """One variant: its key-visual job, its copy once known, and the layout step's state."""

    __tablename__ = "ad_set_variants"
    __table_args__ = (Index("ix_ad_set_variants_status", "status", "layout_expires_at"),)

    ad_set_id: Mapped[str] = mapped_column(ForeignKey("ad_sets.id"), primary_key=True)
    index: Mapped[int] = mapped_column(Integer, primary_key=True)
    visual_job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"))
    status: Mapped[str] = mapped_column(String(12))
    """``waiting`` (for its parts), ``composing`` (leased), ``done`` or ``failed``."""
    layout_owner: Mapped[str | None] = mapped_column(String(100), default=None)
    layout_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    headline: Mapped[str | None] = mapped_column(Text, default=None)
    body: Mapped[str | None] = mapped_column(Text, default=None)
    cta: Mapped[str | None] = mapped_column(Text, default=None)
    layout_seconds: Mapped[float | None] = mapped_column(Float, default=None)
    error_code: Mapped[str | None] = mapped_column(String(60), default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class AdSetCreativeRow(Base):
    """One composed creative: a variant in one placement, stored."""

    __tablename__ = "ad_set_creatives"
    __table_args__ = (Index("ix_ad_set_creatives_set", "ad_set_id", "variant", "position"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    ad_set_id: Mapped[str] = mapped_column(ForeignKey("ad_sets.id"))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    variant: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
    """The placement's place in the set's list."""
    placement: Mapped[str] = mapped_column(String(40))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    storage_key: Mapped[str] = mapped_column(String(300), unique=True)
    mime_type: Mapped[str] = mapped_column(String(60))
    size_bytes: Mapped[int] = mapped_column(Integer)
    checksum: Mapped[str] = mapped_column(String(71))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
