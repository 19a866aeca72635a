"""The platform API (``/api/platform/...``), as adcreator-platform.txt documents it.

Credits, models, styles, and asynchronous image generation: ``POST /generate`` answers 202
with an id at once, ``GET /generations/{id}`` is polled for the result. Wire → canonical:
``aspectRatio`` shapes the 1024×1024 pixel budget, ``batchCount`` is ``n``, ``stylePreset`` is
``style`` (the job core appends its suffix), ``inputImagePath`` is ``input_image``. The job's
statuses map to ``processing | completed | failed``. Wire shapes are in ``platform_schemas``.

Image-to-video the same way: ``POST /videos`` animates one of the caller's completed image
generations (``sourceGenerationId``: its first image is ``VideoSpec.source_image``), sized to
that image's aspect ratio with the short side of ``resolution`` (720 or 1080, both sides even);
``GET /videos/{id}`` is polled. The video models and their prices per duration are the
catalog's (``GET /video-models``).

The reference gives no error body; this dialect answers ``{"error": {"code", "message"}}``
with the HTTP status, plus ``param`` (the wire name of the field at fault) and ``request_id``
for 5xx. See docs/api/platform.md.
"""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from creatix.api.assets import asset_url, delete_files
from creatix.api.bodies import documented_body, model_body, well_formed
from creatix.api.deps import BearerPrincipal, RuntimeDep, idempotency_key
from creatix.api.openapi_docs import CREATE, LOOKUP, READ, create_docs, error_responses
from creatix.api.platform_schemas import (
    AspectRatioOption,
    Credits,
    Deleted,
    GenerateAccepted,
    GenerateRequest,
    Generation,
    GenerationEnvelope,
    GenerationStatus,
    ModelList,
    PlatformError,
    PlatformModel,
    StyleList,
    StylePreset,
    Video,
    VideoAccepted,
    VideoEnvelope,
    VideoModel,
    VideoModelList,
    VideoRequest,
)
from creatix.api.routing import dialect_route
from creatix.billing import service as billing
from creatix.catalog.schemas import Catalog, ModelEntry, Resolution, VideoOptions
from creatix.jobs.records import THUMBNAIL
from creatix.jobs.service import MAX_OFFSET
from creatix.jobs.specs import (
    Asset,
    ImageSpec,
    Job,
    JobKind,
    JobScope,
    JobStatus,
    VideoSpec,
    seed_or_random,
)
from creatix.kit.errors import CreatixError, Forbidden, InvalidRequest, NotFound
from creatix.media.sizing import ASPECT_RATIOS, SIZE_SIDES, dimensions, video_size
from creatix.runtime import Runtime

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


@router.get(
    "/credits", response_model_by_alias=True, responses=error_responses(PlatformError, READ)
)
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


@router.get("/models", response_model_by_alias=True, responses=error_responses(PlatformError, READ))
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


@router.get("/styles", response_model_by_alias=True, responses=error_responses(PlatformError, READ))
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


@router.post(
    "/generate",
    status_code=202,
    responses=error_responses(PlatformError, CREATE),
    openapi_extra=create_docs(
        documented_body(GenerateRequest),
        {  # the reference's example request
            "prompt": "Luxury perfume bottle on marble surface, soft studio lighting",
            "modelId": "nano-banana-2",
            "aspectRatio": "1:1",
            "stylePreset": "studio-product",
        },
    ),
)
async def generate(
    principal: BearerPrincipal, runtime: RuntimeDep, request: Request
) -> GenerateAccepted:
    """Start generating 1–4 images; poll GET /generations/{id} for them."""
    body = await model_body(request, GenerateRequest)
    model = _model(runtime.catalog, body.model_id)
    spec = _spec(body, model, runtime.catalog)
    idempotency = idempotency_key(request, body.model_dump(by_alias=True, exclude_unset=True))
    try:
        job = await runtime.jobs.intake.submit_image(
            principal, model.id, spec, source="platform", idempotency=idempotency
        )
    except (InvalidRequest, Forbidden) as exc:  # named by its wire field (a 403: the key's)
        param = _WIRE_PARAMS.get(exc.param or "", exc.param)
        raise type(exc)(exc.message, param=param, code=exc.code) from exc
    # A fresh job is processing; a replay (same Idempotency-Key) shows where that job is.
    return GenerateAccepted(id=job.id, status=STATUSES[job.status])


# -- generations -----------------------------------------------------------------------------


def _caller_prompt(spec: ImageSpec, catalog: Catalog) -> str:
    """The prompt as the caller sent it: the spec holds it with the style's suffix appended,
    which is stripped again. Should the catalog's suffix have changed since, the stored
    prompt is shown whole."""
    style = catalog.style(spec.style) if spec.style else None
    return style.unapply(spec.prompt) if style is not None else spec.prompt


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
        return well_formed(job.error.message) if job.error else "The generation failed."
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
        # Text stored before the API refused lone surrogates must not make a listing fail.
        prompt=well_formed(_caller_prompt(job.image_spec, runtime.catalog)),
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


GENERATIONS = JobScope("platform", frozenset({JobKind.IMAGE}))
VIDEOS = JobScope("platform", frozenset({JobKind.VIDEO}))
"""What /generations and /videos see: this API's image and video jobs, nothing else."""
TOTAL_COUNT = "X-Total-Count"
Limit = Annotated[int, Query(ge=1, le=100, description="Results per page, 1 to 100.")]
Offset = Annotated[
    int, Query(ge=0, le=MAX_OFFSET, description="Results to skip; a 64-bit integer.")
]


def _not_found(generation_id: str) -> NotFound:
    return NotFound(f"No generation found with id '{generation_id}'.", code="not_found")


async def _image_job(runtime: Runtime, generation_id: str, account_id: str) -> Job:
    """The account's image generation; anything else (unknown, another account's, deleted,
    not an image, made through another API) is the same 404."""
    try:
        return await runtime.jobs.get(generation_id, account_id, scope=GENERATIONS)
    except NotFound:
        raise _not_found(generation_id) from None


GenerationId = Annotated[str, Path(description="The id /generate answered.")]


@router.get("/generations", responses=error_responses(PlatformError, READ))
async def list_generations(
    principal: BearerPrincipal,
    runtime: RuntimeDep,
    request: Request,
    response: Response,
    *,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[Generation]:
    """The caller's image generations, newest first: a bare array, as the reference
    documents; the number of them all in the `X-Total-Count` header."""
    jobs = await runtime.jobs.list_jobs(
        principal.account_id, GENERATIONS, limit=limit, offset=offset
    )
    total = await runtime.jobs.count_jobs(principal.account_id, GENERATIONS)
    response.headers[TOTAL_COUNT] = str(total)
    return [_generation(job, runtime, request) for job in jobs]


@router.get("/generations/{generation_id}", responses=error_responses(PlatformError, LOOKUP))
async def get_generation(
    generation_id: GenerationId, principal: BearerPrincipal, runtime: RuntimeDep, request: Request
) -> GenerationEnvelope:
    """One generation; poll it until its status is completed or failed."""
    job = await _image_job(runtime, generation_id, principal.account_id)
    return GenerationEnvelope(generation=_generation(job, runtime, request))


@router.delete("/generations/{generation_id}", responses=error_responses(PlatformError, LOOKUP))
async def delete_generation(
    generation_id: GenerationId, principal: BearerPrincipal, runtime: RuntimeDep
) -> Deleted:
    """Delete a generation and its images; one still processing is canceled (and refunded)."""
    try:
        job = await runtime.jobs.delete(generation_id, principal.account_id, scope=GENERATIONS)
    except NotFound:
        raise _not_found(generation_id) from None
    await delete_files(runtime, job.assets)
    return Deleted()


# -- videos ----------------------------------------------------------------------------------

RESOLUTION_SIDES: dict[Resolution, int] = {"720p": 720, "1080p": 1080}
"""A video's resolution is the length of its short side."""
DEFAULT_RESOLUTION: Resolution = "720p"

# The job core's names for a video's parameters, as /videos names them.
_VIDEO_WIRE_PARAMS = {
    "model": "modelId",
    "source_image": "sourceGenerationId",
    "duration_seconds": "durationSeconds",
    "negative_prompt": "negativePrompt",
    "cfg_scale": "cfgScale",
    "movement": "movementAmplitude",
    "generate_audio": "generateAudio",
    "background_music": "bgm",
    "width": "resolution",
    "height": "resolution",
    "size": "resolution",
}


def _video_models(catalog: Catalog) -> list[tuple[ModelEntry, VideoOptions]]:
    return [(m, m.video) for m in catalog.models if m.kind == JobKind.VIDEO and m.video]


@router.get(
    "/video-models",
    response_model_by_alias=True,
    responses=error_responses(PlatformError, READ),
)
async def list_video_models(_: BearerPrincipal, runtime: RuntimeDep) -> VideoModelList:
    """The video models /videos takes, with their durations and the price of each."""
    return VideoModelList(
        models=[
            VideoModel(
                id=m.id,
                display_name=m.display_name,
                durations=options.durations,
                credits={str(d): options.credits_by_duration[d] for d in options.durations},
                resolutions=list(options.resolutions),
                supports_audio=options.supports_audio,
                supports_negative_prompt=options.supports_negative_prompt,
                supports_cfg_scale=options.supports_cfg_scale,
            )
            for m, options in _video_models(runtime.catalog)
        ]
    )


def _video_model(catalog: Catalog, model_id: str) -> tuple[ModelEntry, VideoOptions]:
    models = _video_models(catalog)
    for model, options in models:
        if model.id == model_id:
            return model, options
    known = ", ".join(m.id for m, _ in models)
    raise InvalidRequest(
        f"modelId '{model_id}' is not a video model of this server. "
        f"Available (GET /api/platform/video-models): {known}.",
        param="modelId",
        code="model_not_found",
    )


def _unsupported(model: ModelEntry, param: str, what: str) -> InvalidRequest:
    return InvalidRequest(
        f"{model.id} does not take {param}: it {what} (see GET /api/platform/video-models).",
        param=param,
        code="unsupported_parameter",
    )


def _checked_options(body: VideoRequest, model: ModelEntry, options: VideoOptions) -> Resolution:
    """The resolution asked for, or the default; a 400 naming a field whose value the model
    does not offer, or that it does not take."""
    if body.duration_seconds not in options.credits_by_duration:
        offered = ", ".join(str(d) for d in options.durations)
        raise InvalidRequest(
            f"{model.id} makes videos of {offered} seconds; "
            f"durationSeconds {body.duration_seconds} is not one of them.",
            param="durationSeconds",
            code="invalid_value",
        )
    if body.generate_audio and not options.supports_audio:
        raise _unsupported(model, "generateAudio", "makes no audio")
    if body.negative_prompt is not None and not options.supports_negative_prompt:
        raise _unsupported(model, "negativePrompt", "takes no negative prompt")
    if body.cfg_scale is not None and not options.supports_cfg_scale:
        raise _unsupported(model, "cfgScale", "takes no CFG scale")
    if body.resolution is None:
        resolutions = options.resolutions
        return DEFAULT_RESOLUTION if DEFAULT_RESOLUTION in resolutions else resolutions[0]
    if body.resolution not in options.resolutions:
        raise InvalidRequest(
            f"{model.id} makes videos of {', '.join(options.resolutions)}; "
            f"resolution '{body.resolution}' is not one of them.",
            param="resolution",
            code="invalid_value",
        )
    return body.resolution


def _source_problem(generation_id: str, problem: str, code: str) -> InvalidRequest:
    return InvalidRequest(
        f"sourceGenerationId '{generation_id}' {problem}", param="sourceGenerationId", code=code
    )


async def _source_image(runtime: Runtime, account_id: str, generation_id: str) -> tuple[Asset, Job]:
    """The first image of the account's completed image generation ``generation_id``, and
    the generation; a 400 naming sourceGenerationId otherwise."""
    try:
        job: Job | None = await runtime.jobs.get(generation_id, account_id, scope=GENERATIONS)
    except NotFound:
        job = None
    if job is None:
        raise _source_problem(
            generation_id,
            "is not one of your image generations (GET /api/platform/generations lists them).",
            "source_not_found",
        )
    status = STATUSES[job.status]
    if status == "processing":
        raise _source_problem(
            generation_id,
            "is still processing: poll GET /api/platform/generations/{id} until it is "
            "completed, then start the video.",
            "source_not_ready",
        )
    images = sorted((a for a in job.assets if a.kind == "image"), key=lambda a: a.index)
    if status == "failed" or not images:
        raise _source_problem(
            generation_id, "failed, so it has no image to animate.", "source_failed"
        )
    return images[0], job


@router.post(
    "/videos",
    status_code=202,
    responses=error_responses(PlatformError, CREATE),
    openapi_extra=create_docs(
        documented_body(VideoRequest),
        {  # the reference's example request
            "sourceGenerationId": "a1b2c3d4-e5f6-7890-abcd-ef1234567890",
            "prompt": "Smooth camera orbit around the product",
            "modelId": "kling-v3-pro",
            "durationSeconds": 5,
        },
    ),
)
async def create_video(
    principal: BearerPrincipal, runtime: RuntimeDep, request: Request
) -> VideoAccepted:
    """Start animating one of the caller's completed image generations; poll
    GET /videos/{id} for the video."""
    body = await model_body(request, VideoRequest)
    model, options = _video_model(runtime.catalog, body.model_id)
    resolution = _checked_options(body, model, options)
    image, generation = await _source_image(
        runtime, principal.account_id, body.source_generation_id
    )
    spec_of_image = generation.image_spec
    width, height = video_size(
        image.width or spec_of_image.width,
        image.height or spec_of_image.height,
        RESOLUTION_SIDES[resolution],
    )
    spec = VideoSpec(
        prompt=body.prompt,
        source_image=image.storage_key,
        negative_prompt=body.negative_prompt,
        duration_seconds=body.duration_seconds,
        width=width,
        height=height,
        fps=options.fps,
        generate_audio=bool(body.generate_audio),
        background_music=bool(body.bgm),
        cfg_scale=body.cfg_scale,
        movement=body.movement_amplitude or "auto",
        seed=seed_or_random(None),
    )
    idempotency = idempotency_key(request, body.model_dump(by_alias=True, exclude_unset=True))
    try:
        job = await runtime.jobs.intake.submit_video(
            principal, model.id, spec, source="platform", idempotency=idempotency
        )
    except (InvalidRequest, Forbidden) as exc:
        param = _VIDEO_WIRE_PARAMS.get(exc.param or "", exc.param)
        message = exc.message
        if exc.param in ("width", "height", "size"):
            message = (
                f"A {resolution} video of this source's aspect ratio is {width}×{height} "
                f"pixels, which {model.id} cannot make: {exc.message}."
            )
        raise type(exc)(message, param=param, code=exc.code) from exc
    return VideoAccepted(id=job.id, status=STATUSES[job.status])


def _resolution_of(spec: VideoSpec) -> str | None:
    short_side = min(spec.width, spec.height)
    return next((name for name, side in RESOLUTION_SIDES.items() if side == short_side), None)


def _first(job: Job, kind: str) -> Asset | None:
    return min((a for a in job.assets if a.kind == kind), key=lambda a: a.index, default=None)


def _video(job: Job, runtime: Runtime, request: Request) -> Video:
    spec = job.video_spec
    status = STATUSES[job.status]
    video = _first(job, "video") if status == "completed" else None
    thumbnail = _first(job, THUMBNAIL) if status == "completed" else None
    return Video(
        id=job.id,
        status=status,
        progress=_percent_done(job),
        prompt=well_formed(spec.prompt),
        video_url=asset_url(runtime, video, request) if video else None,
        thumbnail_url=asset_url(runtime, thumbnail, request) if thumbnail else None,
        model_id=job.model,
        duration_seconds=spec.duration_seconds,
        resolution=_resolution_of(spec),
        # What was made (an upstream provider renders its own sizes), else what was asked.
        width=video.width if video and video.width else spec.width,
        height=video.height if video and video.height else spec.height,
        created_at=job.created_at,
        completed_at=job.finished_at if job.status.is_terminal else None,
        error=_error(job),
    )


async def _video_job(runtime: Runtime, video_id: str, account_id: str) -> Job:
    """The account's video job; anything else is the same 404."""
    try:
        return await runtime.jobs.get(video_id, account_id, scope=VIDEOS)
    except NotFound:
        raise NotFound(f"No video found with id '{video_id}'.", code="not_found") from None


@router.get("/videos", responses=error_responses(PlatformError, READ))
async def list_videos(
    principal: BearerPrincipal,
    runtime: RuntimeDep,
    request: Request,
    response: Response,
    *,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[Video]:
    """The caller's videos, newest first: a bare array like /generations, the number of
    them all in the `X-Total-Count` header."""
    jobs = await runtime.jobs.list_jobs(principal.account_id, VIDEOS, limit=limit, offset=offset)
    total = await runtime.jobs.count_jobs(principal.account_id, VIDEOS)
    response.headers[TOTAL_COUNT] = str(total)
    return [_video(job, runtime, request) for job in jobs]


@router.get("/videos/{video_id}", responses=error_responses(PlatformError, LOOKUP))
async def get_video(
    video_id: Annotated[str, Path(description="The id /videos answered.")],
    principal: BearerPrincipal,
    runtime: RuntimeDep,
    request: Request,
) -> VideoEnvelope:
    """One video; poll it until its status is completed or failed."""
    job = await _video_job(runtime, video_id, principal.account_id)
    return VideoEnvelope(video=_video(job, runtime, request))
