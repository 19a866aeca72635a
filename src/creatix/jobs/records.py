"""What the job core's modules share: the queue's settings and a stored job as a ``Job``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from creatix.jobs.repository import JobRecord
from creatix.jobs.specs import (
    Asset,
    ImageSpec,
    Job,
    JobError,
    JobKind,
    JobStatus,
    TextResult,
    TextSpec,
    VideoSpec,
)
from creatix.kit.clock import utcnow

THUMBNAIL = "thumbnail"
SPEC_TYPES: dict[JobKind, type[ImageSpec | TextSpec | VideoSpec]] = {
    JobKind.IMAGE: ImageSpec,
    JobKind.TEXT: TextSpec,
    JobKind.VIDEO: VideoSpec,
}


@dataclass(frozen=True)
class QueueSettings:
    lease_seconds: float = 30.0
    poll_interval_seconds: float = 1.0
    max_attempts: int = 3

    def lease_until(self) -> datetime:
        """When a lease taken now runs out."""
        return utcnow() + timedelta(seconds=self.lease_seconds)


def to_job(row: JobRecord, assets: Sequence[Asset] = ()) -> Job:
    error = (
        JobError(code=row.error_code, message=row.error_message or "") if row.error_code else None
    )
    kind = JobKind(row.kind)
    text = (
        TextResult(
            text=row.output_text,
            input_tokens=row.input_tokens or 0,
            output_tokens=row.output_tokens or 0,
        )
        if row.output_text is not None
        else None
    )
    return Job(
        id=row.id,
        account_id=row.account_id,
        source=row.source,
        webhook_url=row.webhook_url,
        request_id=row.request_id,
        kind=kind,
        model=row.model,
        engine=row.engine,
        spec=SPEC_TYPES[kind].model_validate(row.spec),
        text=text,
        status=JobStatus(row.status),
        attempts=row.attempts,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        engine_seconds=row.engine_seconds,
        progress=row.progress,
        progress_step=row.progress_step,
        progress_steps=row.progress_steps,
        error=error,
        credits_reserved=row.credits_reserved,
        credits_charged=row.credits_charged,
        assets=list(assets),
    )
