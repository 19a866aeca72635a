"""``GET /v1/jobs/{id}/events``: one job's life as Server-Sent Events, for any dialect's job;
and ``GET /v1/jobs/{id}``: where it is now, in the same terms (its credits, for a client that
used a dialect whose answers do not carry them).

Translation only: each event is drawn from the canonical job as the job core's follower
(``JobService.follow``) last heard of it. Every event has an ``id:``, an ``event:`` and one
``data:`` line of JSON; the ids only rise, and are derived from the job's state, so a
reconnect with ``Last-Event-ID: N`` (stateless) gets only what lies past N:

- ``queued`` (id 0), once, at connect, while the job is queued: its ``position``.
- ``progress`` (id 1 + the percent, rounded: 1..101) when the job runs and each time its
  rounded percent rises, with the engine's ``step`` of its ``steps`` (denoising steps, frames)
  where it counts them, else null.
- ``completed`` or ``failed`` (id 1000), then the stream closes. A job that had ended
  before the connect gets only this one; with ``Last-Event-ID`` 1000 or more, a 204.

A ``: keep-alive`` comment goes out after 11 to 15 s without an event: a random share of the
interval, drawn again each time, so that streams opened together (a client's batch) do not
wake together for ever after and stall the event loop in step.
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from creatix.api import creatix_v1
from creatix.api.assets import asset_url
from creatix.api.deps import KeyPrincipal, RuntimeDep
from creatix.api.openapi_docs import LOOKUP, error_responses
from creatix.api.routing import dialect_route
from creatix.jobs.events import Follower, Progress
from creatix.jobs.specs import Job, JobStatus
from creatix.runtime import Runtime

KEEP_ALIVE_SECONDS = 15.0
KEEP_ALIVE_SPREAD = 0.25
"""A keep-alive waits between (1 - this) and 1 times ``KEEP_ALIVE_SECONDS``."""
QUEUED_ID = 0
TERMINAL_ID = 1000
MEDIA_TYPE = "text/event-stream"
STREAM_HEADERS = {
    "Content-Type": MEDIA_TYPE,  # as is: no charset parameter (SSE is always UTF-8)
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}

router = APIRouter(
    prefix="/v1/jobs", tags=["Job events"], route_class=dialect_route(creatix_v1.render_error)
)

_DESCRIPTION = """\
Streams one job's life as [Server-Sent Events](https://html.spec.whatwg.org/multipage/\
server-sent-events.html), then closes. Any key of the job's account may follow it, sent as
`Authorization: Bearer` or as `X-API-ID` + `X-API-KEY`; the job's id is the one any dialect
handed out (a UUID, or an older `job_…` id). Events, each with `id:`, `event:` and one
`data:` line of JSON:

- `queued` (id 0, once, while queued): `{"job_id", "status": "queued", "position"}`,
  `position` 1 being the next claimed (an estimate: queued jobs of every engine ahead of it
  in the claim order).
- `progress` (id 1 + the rounded percent, 1..101), when the job starts and when its rounded
  percent rises: `{"job_id", "status": "running", "progress": 0..100, "step", "steps"}`:
  the engine's step (from 1) of its steps (denoising steps, video frames, a preview's
  rendering stages), or null where the engine does not count them (and when it has just
  started: `progress` 0).
- `completed` (id 1000): `{"job_id", "status": "succeeded", "kind", "model",
  "credits_charged", "assets": [{"id", "kind", "mime_type", "width", "height",
  "duration_seconds", "bytes", "url"}], "text"}`; or `failed` (id 1000): `{"job_id",
  "status": "failed" | "canceled", "error": {"code", "message"}}`. Then the stream closes.

A `: keep-alive` comment line is sent after 15 s of silence. On reconnect, `Last-Event-ID: N`
sends only the events whose id is above N; for a job that has ended, `Last-Event-ID` 1000 or
more is a 204 (which tells an `EventSource` to stop reconnecting).
"""


def _event(event_id: int, name: str, data: dict[str, Any]) -> bytes:
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return f"id: {event_id}\nevent: {name}\ndata: {body}\n\n".encode()


def _fraction(progress: Progress | None) -> float:
    return min(1.0, max(0.0, progress.fraction if progress is not None else 0.0))


def _progress_id(progress: Progress | None) -> int:
    return 1 + round(100 * _fraction(progress))


def _progress(job_id: str, progress: Progress | None) -> bytes:
    data = {
        "job_id": job_id,
        "status": "running",
        "progress": round(100 * _fraction(progress), 2),
        "step": progress.step if progress is not None else None,
        "steps": progress.steps if progress is not None else None,
    }
    return _event(_progress_id(progress), "progress", data)


def _assets(runtime: Runtime, job: Job, request: Request) -> list[dict[str, Any]]:
    return [
        {
            "id": asset.id,
            "kind": asset.kind,
            "mime_type": asset.mime_type,
            "width": asset.width,
            "height": asset.height,
            "duration_seconds": asset.duration_seconds,
            "bytes": asset.size_bytes,
            "url": asset_url(runtime, asset, request),
        }
        for asset in job.assets
    ]


def _error(job: Job) -> dict[str, str] | None:
    """An ended job's failure, as code and message; None unless it failed or was canceled."""
    if job.status not in (JobStatus.FAILED, JobStatus.CANCELED):
        return None
    if job.error is not None:
        return {"code": job.error.code, "message": job.error.message}
    if job.status is JobStatus.CANCELED:
        return {"code": "canceled", "message": "The job was canceled."}
    return {"code": "failed", "message": "The job failed."}


def _terminal(runtime: Runtime, job: Job, request: Request) -> bytes:
    if job.status is JobStatus.SUCCEEDED:
        data: dict[str, Any] = {
            "job_id": job.id,
            "status": "succeeded",
            "kind": str(job.kind),
            "model": job.model,
            "credits_charged": job.credits_charged or 0,
            "assets": _assets(runtime, job, request),
            "text": job.text.text if job.text is not None else None,
        }
        return _event(TERMINAL_ID, "completed", data)
    data = {"job_id": job.id, "status": str(job.status), "error": _error(job)}
    return _event(TERMINAL_ID, "failed", data)


async def _stream(
    runtime: Runtime,
    request: Request,
    follower: Follower,
    position: int | None,
    last_id: int,
) -> AsyncIterator[bytes]:
    sent = last_id
    if follower.status is JobStatus.QUEUED and position is not None and sent < QUEUED_ID:
        data = {"job_id": follower.job_id, "status": "queued", "position": position}
        yield _event(QUEUED_ID, "queued", data)
        sent = QUEUED_ID
    while True:
        if follower.ended is not None:
            if sent < TERMINAL_ID:
                yield _terminal(runtime, follower.ended, request)
            return
        if follower.status is JobStatus.RUNNING and _progress_id(follower.progress) > sent:
            yield _progress(follower.job_id, follower.progress)
            sent = _progress_id(follower.progress)
        quiet = KEEP_ALIVE_SECONDS * (1 - KEEP_ALIVE_SPREAD * random.random())
        if not await follower.changed(quiet):
            yield b": keep-alive\n\n"


def _last_event_id(value: str | None) -> int:
    """The client's ``Last-Event-ID``; anything but a decimal integer counts as none."""
    if value is None or not value.strip().isdecimal():
        return -1
    return min(int(value.strip()), 10 * TERMINAL_ID)


@router.get(
    "/{job_id}/events",
    summary="Stream a job's events",
    description=_DESCRIPTION,
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The job's events, as Server-Sent Events, until it ends.",
            "content": {MEDIA_TYPE: {"schema": {"type": "string"}}},
        },
        204: {"description": "The job has ended and `Last-Event-ID` was 1000 or more."},
        **error_responses(creatix_v1.CreatixV1Error, LOOKUP),
    },
)
async def job_events(
    *,
    principal: KeyPrincipal,
    runtime: RuntimeDep,
    request: Request,
    response: Response,
    job_id: Annotated[str, Path(description="The job's id, as any dialect handed it out.")],
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            description="On reconnect: the id of the last event received; only later ones "
            "are sent.",
        ),
    ] = None,
) -> Response:
    job = await runtime.jobs.get(job_id, principal.account_id)
    last_id = _last_event_id(last_event_id)
    headers = dict(response.headers)
    if job.status.is_terminal and last_id >= TERMINAL_ID:
        return Response(status_code=204, headers=headers)
    position = await runtime.jobs.queue_position(job.id) if job.status is JobStatus.QUEUED else None

    async def events() -> AsyncIterator[bytes]:
        with runtime.jobs.follow(job) as follower:
            async for chunk in _stream(runtime, request, follower, position, last_id):
                yield chunk

    return StreamingResponse(events(), media_type=MEDIA_TYPE, headers={**headers, **STREAM_HEADERS})


class JobAsset(BaseModel):
    id: str
    kind: str = Field(description="`image`, `video` or `thumbnail`.")
    mime_type: str
    width: int | None
    height: int | None
    duration_seconds: float | None
    bytes: int
    url: str = Field(description="Signed; it expires.")


class JobFailure(BaseModel):
    code: str
    message: str


class JobState(BaseModel):
    """``GET /v1/jobs/{id}``: a job of any dialect, in the terms of its event stream."""

    job_id: str
    status: Literal["queued", "running", "succeeded", "failed", "canceled"]
    kind: Literal["image", "video", "text"]
    model: str
    progress: float = Field(description="0 to 100: 100 once it succeeded.")
    step: int | None = Field(description="The engine's step (from 1) of `steps`, while running.")
    steps: int | None
    credits_reserved: int = Field(description="Held while the job is queued or running.")
    credits_charged: int | None = Field(
        description="What the job cost, once it ended (0 if it failed); null before."
    )
    assets: list[JobAsset]
    text: str | None = Field(description="A text job's answer.")
    error: JobFailure | None


def _state(runtime: Runtime, job: Job, request: Request) -> JobState:
    progress = Progress.of(job) if job.status is JobStatus.RUNNING else None
    done = job.status is JobStatus.SUCCEEDED
    percent = 100.0 if done else round(100 * _fraction(progress), 2)
    error = _error(job)
    return JobState(
        job_id=job.id,
        status=job.status.value,
        kind=job.kind.value,
        model=job.model,
        progress=percent,
        step=progress.step if progress is not None else None,
        steps=progress.steps if progress is not None else None,
        credits_reserved=job.credits_reserved if not job.status.is_terminal else 0,
        credits_charged=job.credits_charged if job.status.is_terminal else None,
        assets=[JobAsset(**asset) for asset in _assets(runtime, job, request)],
        text=job.text.text if job.text is not None else None,
        error=JobFailure(**error) if error is not None else None,
    )


@router.get(
    "/{job_id}",
    summary="Get a job",
    responses=error_responses(creatix_v1.CreatixV1Error, LOOKUP),
)
async def get_job(
    *,
    principal: KeyPrincipal,
    runtime: RuntimeDep,
    request: Request,
    job_id: Annotated[str, Path(description="The job's id, as any dialect handed it out.")],
) -> JobState:
    """One job of any dialect as it is now, in the terms of its event stream: status,
    progress and step, the credits it holds and, once it ended, what it cost, its assets
    (signed URLs) or text, or its error. Any key of the job's account may read it, sent as
    `Authorization: Bearer` or as `X-API-ID` + `X-API-KEY`."""
    job = await runtime.jobs.get(job_id, principal.account_id)
    return _state(runtime, job, request)
