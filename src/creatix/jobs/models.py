from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from creatix.kit.db import Base, UTCDateTime


class JobRow(Base):
    """A job, and the queue: a queued row is an enqueued job; a running row holds a lease."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_claim", "status", "engine", "created_at"),
        Index("ix_jobs_fair", "status", "priority", "fair_seq"),
        # The head of the fair queue, read by every submit: only queued rows, so it stays small.
        Index(
            "ix_jobs_queued_fair_seq",
            "fair_seq",
            sqlite_where=text("status = 'queued'"),
            postgresql_where=text("status = 'queued'"),
        ),
        Index("ix_jobs_lease", "status", "lease_expires_at"),
        # An account's jobs newest first, a keyset page at a time (ties broken by id).
        Index("ix_jobs_account_listing", "account_id", "created_at", "id"),
        Index("uq_jobs_legacy_id", "legacy_id", unique=True),
        # A key's unfinished jobs, whose reservations count against its budget at submit.
        Index("ix_jobs_key_status", "key_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    """A UUIDv7 (``kit.ids.new_uuid``)."""
    legacy_id: Mapped[str | None] = mapped_column(String(40), default=None)
    """The ``job_…`` id a job made before UUIDs had, so ids handed out then still resolve."""
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    key_id: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id"), default=None)
    """The API key that submitted the job (None for jobs older than the column)."""
    kind: Mapped[str] = mapped_column(String(10))
    model: Mapped[str] = mapped_column(String(100))
    engine: Mapped[str] = mapped_column(String(100))
    batch_key: Mapped[str] = mapped_column(String(200))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    fair_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    """The job's place in the fair queue (see ``repository.next_fair_seq``)."""
    lease_owner: Mapped[str | None] = mapped_column(String(60), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    quota_period: Mapped[str | None] = mapped_column(String(20), default=None)
    quota_images: Mapped[int] = mapped_column(Integer, default=0)
    credits_per_output: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    credits_reserved: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    credits_charged: Mapped[int | None] = mapped_column(Integer, default=None)
    source: Mapped[str] = mapped_column(
        String(30), default="creatix_v1", server_default="creatix_v1"
    )
    """The dialect that created the job; it renders the job's webhooks."""
    webhook_url: Mapped[str | None] = mapped_column(Text, default=None)
    request_id: Mapped[str | None] = mapped_column(String(100), default=None)
    """The X-Request-ID of the request that submitted it; the worker logs under it."""
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    """Deleted by its owner: hidden everywhere, its files removed; the row stays for the ledger."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    engine_seconds: Mapped[float | None] = mapped_column(Float, default=None)
    progress: Mapped[float | None] = mapped_column(Float, default=None)
    progress_step: Mapped[int | None] = mapped_column(Integer, default=None)
    progress_steps: Mapped[int | None] = mapped_column(Integer, default=None)
    """With ``progress`` (and meaningful only beside it), the engine's step of its steps."""
    output_text: Mapped[str | None] = mapped_column(Text, default=None)
    input_tokens: Mapped[int | None] = mapped_column(Integer, default=None)
    output_tokens: Mapped[int | None] = mapped_column(Integer, default=None)
    error_code: Mapped[str | None] = mapped_column(String(60), default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)


class AssetRow(Base):
    __tablename__ = "assets"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    index: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10))
    storage_key: Mapped[str] = mapped_column(String(300), unique=True)
    mime_type: Mapped[str] = mapped_column(String(60))
    size_bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer, default=None)
    height: Mapped[int | None] = mapped_column(Integer, default=None)
    duration_seconds: Mapped[float | None] = mapped_column(Float, default=None)
    checksum: Mapped[str] = mapped_column(String(71))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class IdempotencyRecord(Base):
    """The job an ``Idempotency-Key`` created, and a fingerprint of the request that sent it."""

    __tablename__ = "idempotency_keys"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FairQueueRow(Base):
    """Each account's latest place in the fair queue."""

    __tablename__ = "fair_queue"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)


class WorkerRow(Base):
    """A worker process, as it last said it was alive (every half lease, with its requeue
    sweep): what the admin API's queue health calls the workers seen."""

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    """``host:pid:random``, the worker's lease owner name."""
    hostname: Mapped[str] = mapped_column(String(255))
    models: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    """The catalog models it claims; None: every model."""
    concurrency: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
