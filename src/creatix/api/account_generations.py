"""The account API's generations (``/api/account/{account_id}/…``): what the web console's
playground and gallery call, for any of the account's people or its ``manage`` keys.

The models and styles on offer (each model's price and limits from the catalog, its engine's
availability as ``GET /api/admin/models`` says it), a quote, a generation of any kind made
through the same intake as the dialects (``source`` ``console``), and the account's
generations of every source, newest first, a keyset page at a time. A signed-in person acts
as the account (``accounts.service.person_principal``: no key, so no key's limits); a key as
itself. Routes translate only; wire types are in ``account_generation_schemas``. Errors are
the platform's shape.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import ValidationError

from creatix.accounts import service as accounts
from creatix.api.account_generation_schemas import (
    AccountGeneration,
    AccountGenerationList,
    AccountModelList,
    AccountStyleList,
    GenerationQuote,
    NewGeneration,
    NewImageGeneration,
    NewTextGeneration,
    NewVideoGeneration,
)
from creatix.api.account_generation_views import (
    SOURCE,
    generation,
    image_spec,
    model_view,
    style_view,
    text_spec,
    video_spec,
    wire_param,
)
from creatix.api.actors import Manager, account_of, acting_principal
from creatix.api.assets import delete_files
from creatix.api.bodies import documented_body, read_json, require_json
from creatix.api.deps import RuntimeDep, count_request, idempotency_key
from creatix.api.openapi_docs import MANAGE, create_docs, error_responses
from creatix.api.platform import render_error
from creatix.api.platform_schemas import PlatformError
from creatix.api.routing import dialect_route, invalid_request
from creatix.jobs.repository import JobFilter
from creatix.jobs.specs import Asset, ImageSpec, Job, JobKind, JobStatus, TextSpec, VideoSpec
from creatix.kit.errors import CreatixError, InvalidRequest, NotFound
from creatix.runtime import Runtime

LOOKUP = (*MANAGE, 404)
QUOTE = (*LOOKUP, 413)
CREATE = (*QUOTE, 402, 409)

router = APIRouter(
    prefix="/api/account", tags=["Account generations"], route_class=dialect_route(render_error)
)
AccountId = Annotated[str, Path(max_length=40, description="The account's id")]
JobId = Annotated[str, Path(max_length=40, description="The generation's id")]

EXAMPLE = {
    "kind": "image",
    "model": "creatix-flash",
    "prompt": "Luxury perfume bottle on marble, soft studio lighting",
    "aspect_ratio": "16:9",
    "n": 2,
}
_KINDS = ("image", "video", "text")


def _loc(loc: tuple[int | str, ...]) -> tuple[str, ...]:
    """A pydantic error's place as this API names fields: without the union's tag (``kind``
    picks the model), list items as ``messages[0]``."""
    parts = list(loc[1:] if loc and loc[0] in _KINDS else loc)
    named: list[str] = []
    for part in parts:
        if isinstance(part, int) and named:
            named[-1] = f"{named[-1]}[{part}]"
        else:
            named.append(str(part))
    return tuple(named)


async def _body(request: Request) -> NewImageGeneration | NewVideoGeneration | NewTextGeneration:
    require_json(request)
    value = await read_json(request)
    if value is None:
        raise invalid_request([{"type": "missing", "loc": ("body",), "msg": "Field required"}])
    try:
        return NewGeneration.model_validate(value).root
    except ValidationError as exc:
        errors = []
        for error in exc.errors():
            loc = _loc(error["loc"])
            if error["type"].startswith("union_tag"):
                loc = ("kind",)
            errors.append({**error, "loc": ("body", *loc)})
        raise invalid_request(errors) from None


async def _spec(
    runtime: Runtime,
    account_id: str,
    body: NewImageGeneration | NewVideoGeneration | NewTextGeneration,
) -> ImageSpec | VideoSpec | TextSpec:
    if isinstance(body, NewImageGeneration):
        image = None
        if body.input_image is not None:
            image = await _image_asset(runtime, account_id, body.input_image, "input_image")
        return image_spec(runtime.catalog, body, image.storage_key if image else None)
    if isinstance(body, NewVideoGeneration):
        source = await _image_asset(runtime, account_id, body.source_asset, "source_asset")
        return video_spec(runtime.catalog, body, source)
    return text_spec(body)


async def _image_asset(runtime: Runtime, account_id: str, asset_id: str, param: str) -> Asset:
    """The account's image asset ``asset_id``; a 400 naming ``param`` when it is not one."""
    asset = await runtime.jobs.image_asset(account_id, asset_id)
    if asset is None:
        raise InvalidRequest(
            f"'{asset_id}' is not an image of one of your succeeded generations.",
            param=param,
            code="asset_not_found",
        )
    return asset


def _renamed(exc: CreatixError, kind: str) -> CreatixError:
    """The job core's error, naming the field as this API's body does."""
    exc.param = wire_param(kind, exc.param)
    return exc


@router.get("/{account_id}/models", responses=error_responses(PlatformError, LOOKUP))
async def list_models(
    actor: Manager, runtime: RuntimeDep, account_id: AccountId
) -> AccountModelList:
    """Every model of every kind, with its engine's availability, its price in credits and
    the limits a request to it must keep."""
    account_of(actor, account_id)
    return AccountModelList(data=[model_view(listed) for listed in runtime.models()])


@router.get("/{account_id}/styles", responses=error_responses(PlatformError, LOOKUP))
async def list_styles(
    actor: Manager, runtime: RuntimeDep, account_id: AccountId
) -> AccountStyleList:
    """The style presets an image request may name as ``style``."""
    account_of(actor, account_id)
    return AccountStyleList(data=[style_view(style) for style in runtime.catalog.styles])


def _docs(*, idempotent: bool) -> dict[str, object]:
    return create_docs(documented_body(NewGeneration), EXAMPLE, idempotent=idempotent)


@router.post(
    "/{account_id}/generations/quote",
    openapi_extra=_docs(idempotent=False),
    responses=error_responses(PlatformError, QUOTE),
)
async def quote(
    actor: Manager, runtime: RuntimeDep, account_id: AccountId, request: Request
) -> GenerationQuote:
    """What a generation would make (its exact pixels) and the credits it would reserve now,
    priced as a submission is; nothing is made or reserved. A text generation: the most it
    can cost (it is charged its exact tokens)."""
    account_of(actor, account_id)
    body = await _body(request)
    principal = await acting_principal(actor, runtime, account_id)
    try:
        spec = await _spec(runtime, account_id, body)
        credits = runtime.jobs.intake.quote(principal, body.model, spec)
    except CreatixError as exc:
        raise _renamed(exc, body.kind) from None
    if isinstance(spec, ImageSpec):
        return GenerationQuote(
            credits=credits, width=spec.width, height=spec.height, n=spec.n, duration=None
        )
    if isinstance(spec, VideoSpec):
        return GenerationQuote(
            credits=credits,
            width=spec.width,
            height=spec.height,
            n=None,
            duration=spec.duration_seconds,
        )
    return GenerationQuote(credits=credits, width=None, height=None, n=None, duration=None)


@router.post(
    "/{account_id}/generations",
    status_code=202,
    openapi_extra=_docs(idempotent=True),
    responses=error_responses(PlatformError, CREATE),
)
async def create_generation(
    actor: Manager, runtime: RuntimeDep, account_id: AccountId, request: Request, response: Response
) -> AccountGeneration:
    """Start an image, video or text generation; poll ``GET …/generations/{id}`` until it
    has ended. Credits are reserved now and settled when it ends."""
    account_of(actor, account_id)
    body = await _body(request)
    principal = accounts.may_submit(await acting_principal(actor, runtime, account_id))
    if actor.kind == "person":  # a key's request was counted when it authenticated
        await count_request(runtime, principal, response)
    idempotency = idempotency_key(request, body.model_dump(exclude_unset=True))
    intake = runtime.jobs.intake
    try:
        spec = await _spec(runtime, account_id, body)
        if isinstance(spec, ImageSpec):
            job = await intake.submit_image(
                principal, body.model, spec, source=SOURCE, idempotency=idempotency
            )
        elif isinstance(spec, VideoSpec):
            job = await intake.submit_video(
                principal, body.model, spec, source=SOURCE, idempotency=idempotency
            )
        else:
            job = await intake.submit_text(
                principal, body.model, spec, source=SOURCE, idempotency=idempotency
            )
    except CreatixError as exc:
        raise _renamed(exc, body.kind) from None
    return (await _views(runtime, request, account_id, [job]))[0]


async def _views(
    runtime: Runtime, request: Request, account_id: str, jobs: list[Job]
) -> list[AccountGeneration]:
    inputs = set()
    for job in jobs:
        if isinstance(job.spec, ImageSpec) and job.spec.input_image is not None:
            inputs.add(job.spec.input_image)
        elif isinstance(job.spec, VideoSpec):
            inputs.add(job.spec.source_image)
    asset_ids = await runtime.jobs.asset_ids(account_id, inputs)
    return [generation(runtime, request, job, asset_ids) for job in jobs]


def _cursor(job: Job) -> str:
    raw = json.dumps([job.created_at.isoformat(), job.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _after(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, job_id = json.loads(raw)
        moment = datetime.fromisoformat(created_at)
        if moment.tzinfo is None or not isinstance(job_id, str) or len(job_id) > 40:
            raise ValueError(cursor)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise InvalidRequest(
            "cursor is not one this API gave out; pass next_cursor as it is.",
            param="cursor",
            code="invalid_cursor",
        ) from None
    return moment, job_id


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@router.get("/{account_id}/generations", responses=error_responses(PlatformError, LOOKUP))
async def list_generations(
    actor: Manager,
    runtime: RuntimeDep,
    account_id: AccountId,
    request: Request,
    *,
    kind: Annotated[JobKind | None, Query(description="Only this kind.")] = None,
    model: Annotated[str | None, Query(max_length=100, description="Only this model.")] = None,
    status: Annotated[JobStatus | None, Query(description="Only this status.")] = None,
    since: Annotated[
        datetime | None, Query(description="Made at or after (ISO 8601; UTC if no offset).")
    ] = None,
    until: Annotated[datetime | None, Query(description="Made before.")] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Results per page.")] = 24,
    cursor: Annotated[
        str | None, Query(max_length=200, description="The next_cursor of the page before.")
    ] = None,
) -> AccountGenerationList:
    """The account's generations of every API (deleted ones left out), newest first, a page
    at a time: pass each page's ``next_cursor`` as ``cursor`` for the next."""
    account_of(actor, account_id)
    after = _after(cursor) if cursor is not None else None
    found = JobFilter(kind=kind, model=model, status=status, since=_utc(since), until=_utc(until))
    jobs = await runtime.jobs.page(account_id, found, after=after, limit=limit + 1)
    more = len(jobs) > limit
    jobs = jobs[:limit]
    return AccountGenerationList(
        data=await _views(runtime, request, account_id, jobs),
        next_cursor=_cursor(jobs[-1]) if more else None,
    )


def _missing(job_id: str) -> NotFound:
    return NotFound(f"No generation with id '{job_id}'.", param="job_id", code="not_found")


async def _job(runtime: Runtime, account_id: str, job_id: str) -> Job:
    try:
        return await runtime.jobs.get(job_id, account_id)
    except NotFound:
        raise _missing(job_id) from None


@router.get("/{account_id}/generations/{job_id}", responses=error_responses(PlatformError, LOOKUP))
async def get_generation(
    actor: Manager, runtime: RuntimeDep, account_id: AccountId, job_id: JobId, request: Request
) -> AccountGeneration:
    """One generation, whichever API made it; poll it until its status has ended."""
    account_of(actor, account_id)
    job = await _job(runtime, account_id, job_id)
    return (await _views(runtime, request, account_id, [job]))[0]


@router.delete(
    "/{account_id}/generations/{job_id}",
    status_code=204,
    responses=error_responses(PlatformError, LOOKUP),
)
async def delete_generation(
    actor: Manager, runtime: RuntimeDep, account_id: AccountId, job_id: JobId
) -> Response:
    """Delete a generation and its files; one not yet ended is canceled (and refunded)."""
    account_of(actor, account_id)
    try:
        job = await runtime.jobs.delete(job_id, account_id)
    except NotFound:
        raise _missing(job_id) from None
    await delete_files(runtime, job.assets)
    return Response(status_code=204)
