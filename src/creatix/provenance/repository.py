"""All SQL of the provenance room: the invisible mark's payload of each job, and the digest
of each text job's answer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from creatix.jobs.models import JobRow
from creatix.kit.clock import utcnow
from creatix.provenance.models import ProvenanceMark, ProvenanceText
from creatix.provenance.texts import text_digest


def record(session: Session, job_id: str, payload: bytes) -> None:
    """Remember ``job_id``'s payload (again: nothing changes)."""
    if session.get(ProvenanceMark, job_id) is None:
        session.add(ProvenanceMark(job_id=job_id, payload=payload.hex(), created_at=utcnow()))


def marked_jobs(session: Session, payload: bytes) -> list[tuple[str, str, str, datetime]]:
    """The jobs whose outputs carry ``payload``: id, account id, model, created at."""
    rows = session.execute(
        select(JobRow.id, JobRow.account_id, JobRow.model, JobRow.created_at)
        .join(ProvenanceMark, ProvenanceMark.job_id == JobRow.id)
        .where(ProvenanceMark.payload == payload.hex())
    )
    return [(row[0], row[1], row[2], row[3]) for row in rows]


def record_text(session: Session, job_id: str, text: str, now: datetime) -> None:
    """Remember the digest of ``job_id``'s answer (in the transaction that records it)."""
    session.add(ProvenanceText(job_id=job_id, digest=text_digest(text), created_at=now))


def texts_written(session: Session, text: str) -> list[tuple[str, str, str, datetime]]:
    """The jobs whose answer normalizes to ``text``'s form: id, account id, model, created."""
    rows = session.execute(
        select(JobRow.id, JobRow.account_id, JobRow.model, JobRow.created_at)
        .join(ProvenanceText, ProvenanceText.job_id == JobRow.id)
        .where(ProvenanceText.digest == text_digest(text))
        .order_by(JobRow.created_at)
    )
    return [(row[0], row[1], row[2], row[3]) for row in rows]
