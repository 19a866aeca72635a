"""All SQL of the provenance room: the invisible mark's payload of each job."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from creatix.kit.clock import utcnow
from creatix.provenance.models import ProvenanceMark


def record(session: Session, job_id: str, payload: bytes) -> None:
    """Remember ``job_id``'s payload (again: nothing changes)."""
    if session.get(ProvenanceMark, job_id) is None:
        session.add(ProvenanceMark(job_id=job_id, payload=payload.hex(), created_at=utcnow()))


def jobs_marked(session: Session, payload: bytes) -> list[str]:
    """The ids of the jobs whose outputs carry ``payload``."""
    rows = session.scalars(
        select(ProvenanceMark.job_id).where(ProvenanceMark.payload == payload.hex())
    )
    return list(rows)
