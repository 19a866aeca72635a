"""Ad sets on the platform dialect: ``POST /api/platform/ad-sets`` answers 202 with an id,
``POST /api/platform/ad-sets/quote`` the credits that body would reserve (nothing made),
``GET /api/platform/ad-sets/{id}`` shows the parts' progress and, as variants finish, every
creative by variant and placement with its copy and signed URL. Wire → canonical here; the
rules are ``adsets.service``'s, the layout step ``adsets.assembler``'s. See
docs/api/platform.md.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field

from creatix.accounts.schemas import Principal
from creatix.adsets import service as adsets
from creatix.adsets.plan import Brief, CustomSize
from creatix.adsets.schemas import AdSetView, PartView, VariantView
from creatix.api.assets import file_url
from creatix.api.bodies import documented_body, model_body, well_formed
from creatix.api.brand_kit_schemas import (
    AdCopyOut,
    AdSetAccepted,
    AdSetEnvelope,
    AdSetOut,
    AdSetPart,
    AdSetRequest,
    AdSetVariant,
    CreativeOut,
    PlacementOut,
)
from creatix.api.deps import BearerPrincipal, RuntimeDep, idempotency_key
from creatix.api.openapi_docs import CREATE, LOOKUP, READ, create_docs, error_responses
from creatix.api.platform import STATUSES, TOTAL_COUNT, Limit, Offset, render_error
from creatix.api.platform_schemas import PlatformError
from creatix.api.routing import dialect_route
from creatix.kit.errors import CreatixError, InvalidRequest
from creatix.runtime import Runtime

router = APIRouter(
    prefix="/api/platform", tags=["Ad sets"], route_class=dialect_route(render_error)
)
SOURCE = "platform"
WIRE_FIELDS = {
    "brand_kit_id": "brandKitId",
    "image_model": "imageModel",
    "copy_model": "copyModel",
    "brief.input_image": "brief.inputImagePath",
}
VARIANT_STATUSES = {
    "waiting": "processing",
    "composing": "processing",
    "done": "completed",
    "failed": "failed",
}
EXAMPLE = {
    "brandKitId": "kit_…",
    "brief": {
        "product": "Cold brew coffee",
        "audience": "busy commuters",
        "offer": "20% off the first box",
    },
    "placements": ["square_feed", "story", "display_300x250"],
    "variants": 2,
    "imageModel": "creatix-flash",
    "copyModel": "gemini-2.5-flash",
}


def _placements(items: list[Any]) -> list[str | CustomSize]:
    found: list[str | CustomSize] = []
    for index, item in enumerate(items):
        if isinstance(item, str):
            found.append(item)
            continue
        if (
            isinstance(item, dict)
            and set(item) == {"width", "height"}
            and all(type(item[side]) is int for side in ("width", "height"))
        ):
            found.append(CustomSize(width=item["width"], height=item["height"]))
            continue
        raise InvalidRequest(
            f'placements[{index}] must be a preset name or {{"width": W, "height": H}} '
            "with integer sides.",
            param=f"placements[{index}]",
        )
    return found


def _wire_error(exc: CreatixError) -> CreatixError:
    """``exc`` naming the wire's field rather than the canonical one."""
    param = WIRE_FIELDS.get(exc.param or "", exc.param)
    return type(exc)(exc.message, param=param, code=exc.code, headers=exc.headers)


def _request(body: AdSetRequest) -> adsets.AdSetRequest:
    brief = body.brief
    return adsets.AdSetRequest(
        brand_kit_id=body.brand_kit_id,
        brief=Brief(
            product=brief.product,
            audience=brief.audience,
            offer=brief.offer,
            input_image=brief.input_image_path,
            cta=brief.cta,
        ),
        placements=_placements(body.placements),
        variants=body.variants,
        image_model=body.image_model,
        copy_model=body.copy_model,
    )


@router.post(
    "/ad-sets",
    status_code=202,
    responses=error_responses(PlatformError, (*CREATE, 404)),
    openapi_extra=create_docs(documented_body(AdSetRequest), EXAMPLE),
)
async def create_ad_set(
    principal: BearerPrincipal, runtime: RuntimeDep, request: Request
) -> AdSetAccepted:
    """Start an ad set: copy and key visuals as jobs, then every placement composed in the
    brand kit; poll GET /ad-sets/{id}. Credits: the sum of its parts, reserved now."""
    body = await model_body(request, AdSetRequest)
    return await start_ad_set(runtime, principal, body, request, SOURCE)


async def start_ad_set(
    runtime: Runtime, principal: Principal, body: AdSetRequest, request: Request, source: str
) -> AdSetAccepted:
    """Submit ``body`` (with the request's Idempotency-Key) as ``principal``; refusals name
    the wire's fields. A replay (the same key and body) shows where that set is."""
    idempotency = idempotency_key(request, body.model_dump(by_alias=True, exclude_unset=True))
    try:
        ad_set_id, created = await adsets.submit(
            runtime.jobs,
            principal,
            _request(body),
            source=source,
            storage=runtime.storage,
            idempotency=idempotency,
        )
    except CreatixError as exc:
        raise _wire_error(exc) from exc
    if created:
        return AdSetAccepted(id=ad_set_id, status="processing")
    view = await adsets.get(runtime.jobs, principal.account_id, ad_set_id)
    return AdSetAccepted(id=ad_set_id, status=view.status)


class AdSetQuote(BaseModel):
    credits: int = Field(
        description="What the set would reserve now: its copy job's most and every key "
        "visual's price (0 for an unlimited account)."
    )


@router.post(
    "/ad-sets/quote",
    responses=error_responses(PlatformError, (*LOOKUP, 413)),
    openapi_extra=create_docs(documented_body(AdSetRequest), EXAMPLE, idempotent=False),
)
async def quote_ad_set(
    principal: BearerPrincipal, runtime: RuntimeDep, request: Request
) -> AdSetQuote:
    """The credits POST /ad-sets with this body would reserve now, refused as it would be;
    nothing is made or reserved."""
    body = await model_body(request, AdSetRequest)
    return await quoted_ad_set(runtime, principal, body)


async def quoted_ad_set(runtime: Runtime, principal: Principal, body: AdSetRequest) -> AdSetQuote:
    """``body``'s quote for ``principal``; refusals name the wire's fields."""
    try:
        credits = await adsets.quote(
            runtime.jobs, principal, _request(body), storage=runtime.storage
        )
    except CreatixError as exc:
        raise _wire_error(exc) from exc
    return AdSetQuote(credits=credits)


def _error(code: str | None, message: str | None) -> str | None:
    if code is None and message is None:
        return None
    return well_formed(message or code or "")


def _part(part: PartView) -> AdSetPart:
    return AdSetPart(
        role=part.role,
        variant=part.variant,
        job_id=part.job_id,
        status=STATUSES[part.status],
        progress=math.floor(part.progress * 100),
        error=_error(part.error_code, part.error_message) if part.status.is_terminal else None,
        credits_reserved=part.credits_reserved,
        credits_charged=part.credits_charged,
    )


def _variant(variant: VariantView, runtime: Runtime, request: Request) -> AdSetVariant:
    copy = (
        AdCopyOut(headline=variant.headline, body=variant.body or "", cta=variant.cta or "")
        if variant.headline is not None
        else None
    )
    return AdSetVariant(
        index=variant.index,
        status=VARIANT_STATUSES[variant.status],
        copy_text=copy,
        error=_error(variant.error_code, variant.error_message),
        creatives=[
            CreativeOut(
                placement=c.placement,
                width=c.width,
                height=c.height,
                url=file_url(runtime, c.storage_key, request),
            )
            for c in variant.creatives
        ],
    )


def ad_set_out(view: AdSetView, runtime: Runtime, request: Request) -> AdSetOut:
    return AdSetOut(
        id=view.id,
        status=view.status,
        progress=math.floor(view.progress * 100),
        brand_kit_id=view.brand_kit_id,
        image_model=view.image_model,
        copy_model=view.copy_model,
        placements=[PlacementOut(**p.model_dump()) for p in view.placements],
        parts=[_part(part) for part in view.parts],
        variants=[_variant(v, runtime, request) for v in view.variants],
        credits_reserved=view.credits_reserved,
        credits_charged=view.credits_charged,
        created_at=view.created_at,
        completed_at=view.finished_at,
    )


@router.get(
    "/ad-sets", response_model_by_alias=True, responses=error_responses(PlatformError, READ)
)
async def list_ad_sets(
    principal: BearerPrincipal,
    runtime: RuntimeDep,
    request: Request,
    response: Response,
    *,
    limit: Limit = 20,
    offset: Offset = 0,
) -> list[AdSetOut]:
    """The caller's ad sets, newest first: a bare array as /generations, the number of them
    all in the `X-Total-Count` header."""
    views, total = await adsets.page(runtime.jobs, principal.account_id, limit=limit, offset=offset)
    response.headers[TOTAL_COUNT] = str(total)
    return [ad_set_out(view, runtime, request) for view in views]


@router.get(
    "/ad-sets/{ad_set_id}",
    response_model_by_alias=True,
    responses=error_responses(PlatformError, LOOKUP),
)
async def get_ad_set(
    ad_set_id: Annotated[str, Path(max_length=40, description="The id /ad-sets answered.")],
    principal: BearerPrincipal,
    runtime: RuntimeDep,
    request: Request,
) -> AdSetEnvelope:
    """One ad set: its parts' progress, and each variant's copy and creatives (signed URLs)."""
    view = await adsets.get(runtime.jobs, principal.account_id, ad_set_id)
    return AdSetEnvelope(ad_set=ad_set_out(view, runtime, request))
