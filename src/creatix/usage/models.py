from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from creatix.kit.db import Base

ALL_KEYS = "*"
"""The ``key_id`` of the rows that count every key's jobs together."""


class UsageDaily(Base):
    """What an account's finished jobs made and cost, per UTC day, model, key and kind.

    Upserted in the transaction that ends each job (``usage.service.record_job_end``), so
    usage reads never scan the jobs table. Each job is counted twice: under its key (``""``
    for a job no key submitted; the key is part of the primary key, which cannot hold NULL
    on PostgreSQL) and under ``ALL_KEYS`` (``"*"``), the account's totals over every key. A
    report not grouped by key reads only the ``"*"`` rows: a key's share of the rows (with
    20 keys, 90 days of 10 models is 900 rows, not 18,000).
    """

    __tablename__ = "usage_daily"
    # On SQLite the rows are stored in primary-key order: a report (or a key's budget) reads
    # one contiguous range of (account, key, day) and groups by day with no lookups or sort.
    __table_args__ = {"sqlite_with_rowid": False}

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    model: Mapped[str] = mapped_column(String(100), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    images: Mapped[int] = mapped_column(BigInteger, default=0)
    videos: Mapped[int] = mapped_column(BigInteger, default=0)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    credits: Mapped[int] = mapped_column(BigInteger, default=0)
    jobs: Mapped[int] = mapped_column(BigInteger, default=0)
