"""Whether a file came from this server: its C2PA manifest (present, intact, signed by a
trusted chain, what it claims), its invisible mark, and the job the mark names; whether a text
is an answer this server wrote (``provenance/texts.py``). Shared by
``POST /v1/provenance/verify`` and ``creatix verify``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from creatix.kit.db import Database
from creatix.provenance import repository
from creatix.provenance.service import SERVER_ID_BYTES, OutputProvenance
from creatix.provenance.texts import text_digest
from creatix.provenance.verify import FileReport, inspect_file


@dataclass(frozen=True)
class MarkedJob:
    id: str
    model: str
    created_at: datetime


@dataclass(frozen=True)
class Verification:
    file: FileReport
    this_server: bool
    """The invisible mark names this server (or this cluster: its nodes share the id)."""
    job: MarkedJob | None
    """The job the mark names, where the caller may see it."""


@dataclass(frozen=True)
class TextVerification:
    digest: str
    written_here: bool
    """Some job of this server answered this text (after normalization)."""
    job: MarkedJob | None
    """The job that wrote it, where the caller may see it (the first, if several did)."""


def _visible_jobs(
    rows: list[tuple[str, str, str, datetime]], account_id: str | None
) -> list[MarkedJob]:
    return [
        MarkedJob(job_id, model, created_at)
        for job_id, owner, model, created_at in rows
        if account_id is None or owner == account_id
    ]


async def verify_text(db: Database, text: str, *, account_id: str | None) -> TextVerification:
    """Whether this server wrote ``text``; the job only to its account (or to anyone when
    ``account_id`` is None)."""

    def read(session: Session) -> list[tuple[str, str, str, datetime]]:
        return repository.texts_written(session, text)

    rows = await db.read(read)
    visible = _visible_jobs(rows, account_id)
    return TextVerification(text_digest(text), bool(rows), visible[0] if visible else None)


async def verify_file(
    db: Database, provenance: OutputProvenance, data: bytes, *, account_id: str | None
) -> Verification:
    """What ``data`` says about where it came from. The job is named only to its account
    (``account_id``), or to anyone when ``account_id`` is None (the operator at a shell).
    ``UnreadableFile`` when ``data`` is not a whole PNG, JPEG, WebP or MP4."""
    report = await asyncio.to_thread(inspect_file, data, provenance.trust_anchors_pem)
    payload = report.payload
    this_server = payload is not None and payload[:SERVER_ID_BYTES] == bytes.fromhex(
        provenance.server_id
    )
    if payload is None or not this_server:
        return Verification(report, this_server, None)

    def read(session: Session) -> list[tuple[str, str, str, datetime]]:
        return repository.marked_jobs(session, payload)

    visible = _visible_jobs(await db.read(read), account_id)
    return Verification(report, this_server, visible[0] if len(visible) == 1 else None)
