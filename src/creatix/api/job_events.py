"""``GET /v1/jobs/{id}/events``: one job's life as Server-Sent Events, for any dialect's job.

Translation only: each event is drawn from the canonical job as the job core's follower
(``JobService.follow``) last heard of it. Every event has an ``id:``, an ``event:`` and one
``data:`` line of JSON; the ids only rise, and are derived from the job's state, so a
reconnect with ``Last-Event-ID: N`` (stateless) gets only what lies past N:

- ``queued`` (id 0), once, at connect, while the job is queued: its ``position``.
- ``progress`` (id 1 + the percent, rounded: 1..101) when the job runs and each time its
  rounded percent rises; ``step`` and ``steps`` are null (engines report a fraction only).
- ``completed`` or ``failed`` (id 1000), then the stream closes. A job that had ended
  before the connect gets only this one; with ``Last-Event-ID`` 1000 or more, a 204.

A ``: keep-alive`` comment goes out after 15 s without an event.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Request, Response
from fastapi.responses import StreamingResponse

from creatix.api import creatix_v1
from creatix.api.assets import asset_url
from creatix.api.deps import KeyPrincipal, RuntimeDep
from creatix.api.openapi_docs import LOOKUP, error_responses
from creatix.api.routing import dialect_route
from creatix.jobs.events import Follower
from creatix.jobs.specs import Job, JobStatus
from creatix.runtime import Runtime

KEEP_ALIVE_SECONDS = 15.0
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
  percent rises: `{"job_id", "status": "running", "progress": 0..100, "step": null,
  "steps": null}`.
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


def _progress_id(fraction: float | None) -> int:
    return 1 + round(100 * min(1.0, max(0.0, fraction or 0.0)))


def _progress(job_id: str, fraction: float | None) -> bytes:
    percent = round(100 * min(1.0, max(0.0, fraction or 0.0)), 2)
    data = {
        "job_id": job_id,
        "status": "running",
        "progress": percent,
        "step": None,
        "steps": None,
    }
    return _event(_progress_id(fraction), "progress", data)


def _terminal(runtime: Runtime, job: Job, request: Request) -> bytes:
    if job.status is JobStatus.SUCCEEDED:
        assets = [
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
        data: dict[str, Any] = {
            "job_id": job.id,
            "status": "succeeded",
            "kind": str(job.kind),
            "model": job.model,
            "credits_charged": job.credits_charged or 0,
            "assets": assets,
            "text": job.text.text if job.text is not None else None,
        }
        return _event(TERMINAL_ID, "completed", data)
    if job.error is not None:
        error = {"code": job.error.code, "message": job.error.message}
    elif job.status is JobStatus.CANCELED:
        error = {"code": "canceled", "message": "The job was canceled."}
    else:
        error = {"code": "failed", "message": "The job failed."}
    data = {"job_id": job.id, "status": str(job.status), "error": error}
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
        if not await follower.changed(KEEP_ALIVE_SECONDS):
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
