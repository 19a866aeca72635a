"""The platform API (``/api/platform/...``), as adcreator-platform.txt documents it.

Credits, models, styles, and asynchronous image generation: ``POST /generate`` answers 202
with an id at once, ``GET /generations/{id}`` is polled for the result. Wire → canonical:
``aspectRatio`` shapes the 1024×1024 pixel budget, ``batchCount`` is ``n``, ``stylePreset`` is
``style`` (the job core appends its suffix), ``inputImagePath`` is ``input_image``. The job's
statuses map to ``processing | completed | failed``. Wire shapes are in ``platform_schemas``.

The reference gives no error body; this dialect answers ``{"error": {"code", "message"}}``
with the HTTP status, plus ``param`` (the wire name of the field at fault) and ``request_id``
for 5xx. See docs/api/platform.md.
"""

from __future__ import annotations

import logging
import math
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from creatix.api.assets import asset_url
from creatix.api.deps import BearerPrincipal, JsonBody, RuntimeDep, idempotency_key
from creatix.api.platform_schemas import (
    AspectRatioOption,
    Credits,
    Deleted,
    GenerateAccepted,
    GenerateRequest,
    Generation,
    GenerationEnvelope,
    GenerationList,
    GenerationStatus,
    ModelList,
    PlatformModel,
    StyleList,
    StylePreset,
)
from creatix.api.routing import dialect_route
from creatix.billing import service as billing
from creatix.catalog.schemas import Catalog, ModelEntry
from creatix.jobs.specs import ImageSpec, Job, JobKind, JobStatus, seed_or_random
from creatix.kit.errors import CreatixError, InvalidRequest, NotFound
from creatix.media.sizing import ASPECT_RATIOS, SIZE_SIDES, dimensions
from creatix.runtime import Runtime

log = logging.getLogger(__name__)

SIDE = 1024
"""Every platform generation spends the 1024×1024 pixel budget, shaped by aspectRatio."""

ASPECT_LABELS: dict[str, str] = {
    "1:1": "Square",
    "16:9": "Landscape 16:9",
    "9:16": "Portrait 9:16",
    "4:3": "Landscape 4:3",
    "3:4": "Portrait 3:4",
    "1:4": "Tall banner 1:4",
    "4:1": "Wide banner 4:1",
}

STATUSES: dict[JobStatus, GenerationStatus] = {
    JobStatus.QUEUED: "processing",
    JobStatus.RUNNING: "processing",
    JobStatus.SUCCEEDED: "completed",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELED: "failed",
}

# The job core names parameters canonically; the caller sent them under these names.
_WIRE_PARAMS = {
    "model": "modelId",
    "n": "batchCount",
    "size": "aspectRatio",
    "style": "stylePreset",
    "input_image": "inputImagePath",
    "negative_prompt": "negativePrompt",
}


def _ratios_by_size() -> dict[tuple[int, int], str]:
    """(width, height) → the aspect ratio that makes it, at any size budget: a generation
    made through another dialect of this server still shows its ratio."""
    found: dict[tuple[int, int], str] = {}
    for side in (SIDE, *SIZE_SIDES.values()):
        for ratio in ASPECT_RATIOS:
            found.setdefault(dimensions(side, ratio), ratio)
    return found


_RATIO_OF = _ratios_by_size()


def render_error(error: CreatixError, request_id: str | None) -> Response:
    body: dict[str, object] = {"code": error.code, "message": error.message}
    if error.param:
        body["param"] = error.param
    if error.status >= 500:
        body["request_id"] = request_id
    return JSONResponse({"error": body}, status_code=error.status, headers=error.headers)


router = APIRouter(
    prefix="/api/platform", tags=["Platform"], route_class=dialect_route(render_error)
)


# -- credits, models, styles -----------------------------------------------------------------


@router.get("/credits", response_model_by_alias=True)
async def credits(principal: BearerPrincipal, runtime: RuntimeDep) -> Credits:
    """The caller's credit balance and lifetime usage."""
    totals = await billing.credits_of(runtime.db, principal.account_id)
    return Credits(
        balance=totals.balance,
        lifetime_purchased=totals.lifetime_purchased,
        lifetime_used=totals.lifetime_used,
        unlimited=principal.unlimited,
    )


def _image_models(catalog: Catalog) -> list[ModelEntry]:
    return [m for m in catalog.models if m.kind == JobKind.IMAGE]


def _credits_cost(model: ModelEntry) -> int:
    """Credits per image; for a price table, the price of its default parameters (what a
    platform generation is priced at, as this API has no fields for the table's parameters)."""
    table = model.price_table
    if table is None:
        return model.credits_per_image
    return table.prices.get(table.key({}), 0)


@router.get("/models", response_model_by_alias=True)
async def list_models(_: BearerPrincipal, runtime: RuntimeDep) -> ModelList:
    """The image models and the aspect ratios, with their sizes, /generate takes."""
    models = [
        PlatformModel(
            id=m.id,
            display_name=m.display_name,
            credits_cost=_credits_cost(m),
            estimated_seconds=m.estimated_seconds,
            supports_image_input=m.supports_image_input,
            max_width=m.limits.max_side,
            max_height=m.limits.max_side,
        )
        for m in _image_models(runtime.catalog)
    ]
    ratios = []
    for ratio in ASPECT_RATIOS:
        width, height = dimensions(SIDE, ratio)
        ratios.append(
            AspectRatioOption(id=ratio, label=ASPECT_LABELS[ratio], width=width, height=height)
        )
    return ModelList(models=models, aspect_ratios=ratios)


@router.get("/styles", response_model_by_alias=True)
async def list_styles(_: BearerPrincipal, runtime: RuntimeDep) -> StyleList:
    """The style presets /generate takes as stylePreset."""
    return StyleList(
        styles=[
            StylePreset(
                id=s.id,
                display_name=s.name,
                category=s.category,
                prompt_suffix=s.prompt_suffix,
            )
            for s in runtime.catalog.styles
        ]
    )


# -- generate --------------------------------------------------------------------------------


def _model(catalog: Catalog, model_id: str) -> ModelEntry:
    entry = catalog.model(model_id)
    if entry is None or entry.kind != JobKind.IMAGE:
        known = ", ".join(m.id for m in _image_models(catalog))
        raise InvalidRequest(
            f"modelId '{model_id}' is not an image model of this server. "
            f"Available (GET /api/platform/models): {known}.",
            param="modelId",
            code="model_not_found",
        )
    return entry


def _spec(body: GenerateRequest, model: ModelEntry, catalog: Catalog) -> ImageSpec:
    if body.style_preset is not None and catalog.style(body.style_preset) is None:
        known = ", ".join(s.id for s in catalog.styles)
        raise InvalidRequest(
            f"stylePreset '{body.style_preset}' is not a style of this server. "
            f"Known (GET /api/platform/styles): {known}.",
            param="stylePreset",
            code="style_not_found",
        )
    width, height = dimensions(SIDE, body.aspect_ratio)
    table = model.price_table
    return ImageSpec(
        prompt=body.prompt,
        negative_prompt=body.negative_prompt,
        width=width,
        height=height,
        n=body.batch_count,
        seed=seed_or_random(None),
        style=body.style_preset,
        input_image=body.input_image_path,
        engine_params=dict(table.defaults) if table is not None else {},
    )


@router.post("/generate", status_code=202, dependencies=[JsonBody])
async def generate(
    body: GenerateRequest, principal: BearerPrincipal, runtime: RuntimeDep, request: Request
) -> GenerateAccepted:
    """Start generating 1–4 images; poll GET /generations/{id} for them."""
    model = _model(runtime.catalog, body.model_id)
    spec = _spec(body, model, runtime.catalog)
    idempotency = idempotency_key(request, body.model_dump(by_alias=True, exclude_unset=True))
    try:
        job = await runtime.jobs.submit_image(
            principal, model.id, spec, source="platform", idempotency=idempotency
        )
    except InvalidRequest as exc:
        param = _WIRE_PARAMS.get(exc.param or "", exc.param)
        raise InvalidRequest(exc.message, param=param, code=exc.code) from exc
    # A fresh job is processing; a replay (same Idempotency-Key) shows where that job is.
    return GenerateAccepted(id=job.id, status=STATUSES[job.status])


# -- generations -----------------------------------------------------------------------------


def _caller_prompt(spec: ImageSpec, catalog: Catalog) -> str:
    """The prompt as the caller sent it: the spec holds it with the style's suffix appended,
    which is stripped again. Should the catalog's suffix have changed since, the stored
    prompt is shown whole."""
    style = catalog.style(spec.style) if spec.style else None
    if style is not None:
        suffix = style.apply("")
        if spec.prompt.endswith(suffix):
            return spec.prompt[: -len(suffix)]
    return spec.prompt


def _aspect_ratio(spec: ImageSpec) -> str:
    ratio = _RATIO_OF.get((spec.width, spec.height))
    if ratio is not None:
        return ratio
    divisor = math.gcd(spec.width, spec.height)
    return f"{spec.width // divisor}:{spec.height // divisor}"


def _error(job: Job) -> str | None:
    if job.status is JobStatus.CANCELED:
        return "The generation was canceled."
    if job.status is JobStatus.FAILED:
        return job.error.message if job.error else "The generation failed."
    return None


def _percent_done(job: Job) -> int:
    if job.status is JobStatus.SUCCEEDED:
        return 100
    return math.floor((job.progress or 0.0) * 100)


def _generation(job: Job, runtime: Runtime, request: Request) -> Generation:
    status = STATUSES[job.status]
    urls = (
        [asset_url(runtime, asset, request) for asset in job.assets]
        if status == "completed"
        else []
    )
    return Generation(
        id=job.id,
        status=status,
        progress=_percent_done(job),
        prompt=_caller_prompt(job.image_spec, runtime.catalog),
        image_url=urls[0] if urls else None,
        image_urls=urls,
        model_id=job.model,
        aspect_ratio=_aspect_ratio(job.image_spec),
        style_preset=job.image_spec.style,
        batch_count=job.image_spec.n,
        created_at=job.created_at,
        completed_at=job.finished_at if job.status.is_terminal else None,
        error=_error(job),
    )


def _not_found(generation_id: str) -> NotFound:
    return NotFound(f"No generation found with id '{generation_id}'.", code="not_found")


async def _image_job(runtime: Runtime, generation_id: str, account_id: str) -> Job:
    """The account's image job; anything else (unknown, another account's, deleted, not an
    image) is the same 404."""
    try:
        job = await runtime.jobs.get(generation_id, account_id)
    except NotFound:
        raise _not_found(generation_id) from None
    if job.kind != JobKind.IMAGE:
        raise _not_found(generation_id)
    return job


GenerationId = Annotated[str, Path(description="The id /generate answered.")]


@router.get("/generations")
async def list_generations(
    principal: BearerPrincipal,
    runtime: RuntimeDep,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> GenerationList:
    """The caller's image generations, newest first."""
    jobs = await runtime.jobs.list_jobs(
        principal.account_id, JobKind.IMAGE, limit=limit, offset=offset
    )
    return GenerationList(generations=[_generation(job, runtime, request) for job in jobs])


@router.get("/generations/{generation_id}")
async def get_generation(
    generation_id: GenerationId, principal: BearerPrincipal, runtime: RuntimeDep, request: Request
) -> GenerationEnvelope:
    """One generation; poll it until its status is completed or failed."""
    job = await _image_job(runtime, generation_id, principal.account_id)
    return GenerationEnvelope(generation=_generation(job, runtime, request))


@router.delete("/generations/{generation_id}")
async def delete_generation(
    generation_id: GenerationId, principal: BearerPrincipal, runtime: RuntimeDep
) -> Deleted:
    """Delete a generation and its images; one still processing is canceled (and refunded)."""
    await _image_job(runtime, generation_id, principal.account_id)
    try:
        job = await runtime.jobs.delete(generation_id, principal.account_id)
    except NotFound:
        raise _not_found(generation_id) from None
    for asset in job.assets:
        try:
            await runtime.storage.delete(asset.storage_key)
        except Exception:
            # The record is gone already; a file left behind is logged, not the caller's error.
            log.exception("could not delete a stored image", extra={"key": asset.storage_key})
    return Deleted()
