"""Provenance lookups: which job an invisible mark's payload names, and which job wrote a
text (by its normalized digest)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from creatix.kit.db import Base, UTCDateTime


class ProvenanceMark(Base):
    """One job's invisible-mark payload (16 hex digits: server id, then a hash prefix of the
    job id). No foreign key: a deleted job leaves a payload that names nothing."""

    __tablename__ = "provenance_marks"

    job_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    payload: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ProvenanceText(Base):
    """A text job's answer, by the SHA-256 of its normalized form (``provenance.texts``):
    the copy itself is never altered or kept here."""

    __tablename__ = "provenance_texts"

    job_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
