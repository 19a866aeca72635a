"""The asset generator (``/api/asset_generator/...``), as creatify-asset-generator.txt has it.

Three steps: ``GET /schemas/`` lists the image and video models with the JSON Schema of their
``input_params`` (made from the catalog by ``api/asset_schemas.py``); ``POST /`` validates
``input_params`` with that same schema and queues a job; ``GET /{id}/`` (or the webhook) tells
how it went. Jobs run asynchronously: the create answers at once with the task as ``GET``
shows it.

Wire → canonical, images: ``aspect_ratio`` shapes a 1024×1024 pixel budget
(``media.sizing``), ``num_images`` is ``n``, a missing ``seed`` is drawn at random, a price
table's parameters become ``ImageSpec.engine_params``, and ``image_url`` is imported as one of
the account's uploads whose path becomes ``ImageSpec.input_image``.

Videos: ``image_url`` is imported the same way and becomes ``VideoSpec.source_image``;
``duration`` (``"5"`` or ``5``) is ``duration_seconds``; ``aspect_ratio`` shapes the pixels
around a 720 short side. A video task's asset is the MP4, its ``thumbnail_url`` the link to
the JPEG thumbnail the job made with it.

Credentials are ``X-API-ID`` (a key's id) and ``X-API-KEY`` (its secret). Errors are
``{"error": code, "detail": message}``, plus ``field`` and ``fields`` (each failing field with
what is wrong with it) for a 400 about the request, and ``request_id`` for a 5xx.
See docs/api/asset-generator.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from creatix.api.asset_schemas import (
    BUDGET_SIDE,
    DEFAULT_ASPECT_RATIO,
    DEFAULT_VIDEO_ASPECT_RATIO,
    input_params_errors,
    input_params_schema,
    served_models,
    video_dimensions,
    video_short_side,
)
from creatix.api.assets import asset_url
from creatix.api.bodies import InvalidText, read_json, require_json
from creatix.api.deps import ApiIdPrincipal, RuntimeDep, idempotency_key
from creatix.api.openapi_docs import CREATE, LOOKUP, READ, create_docs, error_responses
from creatix.api.routing import dialect_route
from creatix.catalog.schemas import Catalog, ModelEntry, VideoOptions
from creatix.jobs.records import THUMBNAIL
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
from creatix.kit.errors import CreatixError, InvalidRequest, NotFound
from creatix.media.sizing import dimensions, long_side_dimensions
from creatix.runtime import Runtime
from creatix.uploads import service as uploads
from creatix.webhooks import payloads
from creatix.webhooks.ssrf import UnsafeUrl, check_url

SOURCE = "asset_generator"
"""``Job.source`` of the jobs this dialect creates: it renders their webhook bodies."""

TASKS = JobScope(SOURCE, frozenset({JobKind.IMAGE, JobKind.VIDEO}))
"""What ``GET /{id}/`` sees: the image and video tasks this API created, nothing else."""
BODY_FIELDS = ("model_name", "input_params", "webhook_url")
IMAGE_URL = "input_params.image_url"


# -- errors ----------------------------------------------------------------------------------


class InvalidFields(InvalidRequest):
    """A 400 naming every failing field of the request (``input_params.<name>`` inside
    ``input_params``), each with what is wrong with it."""

    def __init__(self, fields: dict[str, str]) -> None:
        assert fields, "name at least one field"
        code = (
            "invalid_input_params"
            if any(name.startswith("input_params") for name in fields)
            else "invalid_request"
        )
        detail = "; ".join(f"{name} {message.rstrip('.')}" for name, message in fields.items())
        super().__init__(f"Invalid request: {detail}.", code=code, param=next(iter(fields)))
        self.fields = fields


def _about(param: str, message: str) -> str:
    """What a message says about ``param``, without the name it may start with."""
    return message.removeprefix(param).lstrip(": ") if message.startswith(param) else message


class AssetGeneratorError(BaseModel):
    """Creatify's error body, as ``render_error`` draws it (the text generator's too)."""

    error: str = Field(description="The error's code.")
    detail: str
    field: str | None = Field(default=None, description="The offending field, when one is.")
    fields: dict[str, str] | None = Field(
        default=None, description="On a 400 naming a field: every failing field, and why."
    )
    request_id: str | None = Field(default=None, description="On a 5xx: the log's request id.")


def render_error(error: CreatixError, request_id: str | None) -> Response:
    body: dict[str, object] = {"error": error.code, "detail": error.message}
    if error.param:
        body["field"] = error.param
    if error.param and error.status == 400:
        body["fields"] = (
            error.fields
            if isinstance(error, InvalidFields)
            else {error.param: _about(error.param, error.message)}
        )
    if error.status >= 500:
        body["request_id"] = request_id
    return JSONResponse(body, status_code=error.status, headers=error.headers)


router = APIRouter(
    prefix="/api/asset_generator", tags=["Asset generator"], route_class=dialect_route(render_error)
)


# -- the task, as GET and the webhook show it ------------------------------------------------

TaskStatus = Literal["pending", "running", "done", "failed"]

STATUSES: dict[JobStatus, TaskStatus] = {
    JobStatus.QUEUED: "pending",
    JobStatus.RUNNING: "running",
    JobStatus.SUCCEEDED: "done",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELED: "failed",
}


class TaskAsset(BaseModel):
    id: str
    type: Literal["image", "video", "text"]
    url: str = Field(description="A signed link to the file on this server; it expires.")
    thumbnail_url: str = Field(
        description="A video's JPEG thumbnail (a signed link too); an image's own url."
    )
    name: str = Field(description="'Image-' or 'Video-' and 8 characters of the asset id.")


class Task(BaseModel):
    id: str
    status: TaskStatus
    failed_reason: str = Field(description="Why the task failed; empty unless it did.")
    assets: list[TaskAsset]


def _failed_reason(job: Job) -> str:
    # A job requeued after a retryable error keeps that error while it waits: only a job
    # that ended failed or canceled has a reason.
    if STATUSES[job.status] != "failed":
        return ""
    if job.error is not None:
        return job.error.message
    if job.status is JobStatus.CANCELED:
        return "The task was canceled."
    return "The task failed."


def asset_name(asset: Asset) -> str:
    """``Image-1a2b3c4d``: the last (random) hex digits of the UUIDv7, not its leading time."""
    return f"{asset.kind.capitalize()}-{asset.id.replace('-', '')[-8:]}"


def _stem(key: str) -> str:
    return key.rsplit(".", 1)[0]


def _thumbnail_of(asset: Asset, thumbnails: list[Asset]) -> Asset | None:
    """A video's thumbnail: the one stored beside it (same key but the extension), else the
    one recorded right after it."""
    for thumbnail in thumbnails:
        if _stem(thumbnail.storage_key) == _stem(asset.storage_key):
            return thumbnail
    return next((t for t in thumbnails if t.index == asset.index + 1), None)


def task(job: Job, url_for: Callable[[Asset], str]) -> Task:
    """The task of ``job``: its outputs as assets, a video's thumbnail as its
    ``thumbnail_url`` rather than an asset of its own."""
    thumbnails = [a for a in job.assets if a.kind == THUMBNAIL]
    assets = []
    for asset in job.assets:
        if asset.kind == THUMBNAIL:
            continue
        url = url_for(asset)
        thumbnail = _thumbnail_of(asset, thumbnails) if asset.kind == "video" else None
        assets.append(
            TaskAsset(
                id=asset.id,
                type=asset.kind,
                url=url,
                thumbnail_url=url_for(thumbnail) if thumbnail is not None else url,
                name=asset_name(asset),
            )
        )
    return Task(
        id=job.id, status=STATUSES[job.status], failed_reason=_failed_reason(job), assets=assets
    )


def webhook_body(job: Job, url_for: payloads.UrlFor) -> dict[str, Any]:
    """What a finished job's ``webhook_url`` receives: the task as ``GET /{id}/`` shows it."""
    return task(job, url_for).model_dump(mode="json")


payloads.register(SOURCE, webhook_body)


# -- step 1: models and their input schemas --------------------------------------------------


class ModelSchema(BaseModel):
    model_name: str
    input_params_schema: dict[str, Any] = Field(
        description="A JSON Schema (draft 2020-12) that input_params must satisfy."
    )


def _requested_models(catalog: Catalog, model_name: list[str] | None) -> list[ModelEntry]:
    models = served_models(catalog)
    names = [
        name.strip() for value in model_name or [] for name in value.split(",") if name.strip()
    ]
    if not names:
        return models
    by_id = {m.id: m for m in models}
    unknown = [name for name in names if name not in by_id]
    if unknown:
        raise InvalidRequest(
            f"Unknown model_name {', '.join(repr(n) for n in unknown)}; "
            f"models: {', '.join(by_id)}.",
            param="model_name",
            code="model_not_found",
        )
    return [by_id[name] for name in dict.fromkeys(names)]


@router.get("/schemas/", responses=error_responses(AssetGeneratorError, READ))
async def list_schemas(
    _: ApiIdPrincipal,
    runtime: RuntimeDep,
    model_name: Annotated[
        list[str] | None,
        Query(description="Model names, comma-separated; all models when left out."),
    ] = None,
) -> list[ModelSchema]:
    """The models and the JSON Schema of each one's ``input_params``."""
    catalog = runtime.catalog
    return [
        ModelSchema(model_name=entry.id, input_params_schema=input_params_schema(entry, catalog))
        for entry in _requested_models(catalog, model_name)
    ]


router.add_api_route("/schemas", list_schemas, methods=["GET"], include_in_schema=False)


# -- step 2: create a task -------------------------------------------------------------------


async def _json_object(request: Request) -> dict[str, Any]:
    require_json(request)
    try:
        body = await read_json(request)
    except InvalidText as exc:
        raise InvalidFields({exc.param or "body": exc.problem}) from None
    if not isinstance(body, dict):
        raise InvalidRequest(
            "Send a JSON object with model_name, input_params and optionally webhook_url.",
            code="invalid_body",
        )
    return body


def _model_problem(model_name: object, models: dict[str, ModelEntry]) -> str | None:
    if model_name is None:
        return f"is required: one of {', '.join(models)}."
    if not isinstance(model_name, str):
        return "must be a string."
    if model_name not in models:
        return f"'{model_name}' is not a model of this API; models: {', '.join(models)}."
    return None


async def _url_problem(url: object, param: str, runtime: Runtime) -> str | None:
    """Why the SSRF guard refuses ``url``, if it does."""
    if url is None:
        return None
    if not isinstance(url, str):
        return "must be a string URL."
    try:
        await check_url(url, param=param, allow_private=runtime.settings.allow_private_urls)
    except UnsafeUrl as exc:
        return _about(param, exc.message)
    return None


async def _checked(
    body: dict[str, Any], runtime: Runtime
) -> tuple[ModelEntry, dict[str, Any], str | None]:
    """The model, its input_params and the webhook URL (``""`` and ``null`` are none);
    ``InvalidFields`` naming every failing field otherwise."""
    fields: dict[str, str] = {}
    catalog = runtime.catalog
    models = {m.id: m for m in served_models(catalog)}
    model_name = body.get("model_name")
    problem = _model_problem(model_name, models)
    if problem is not None:
        fields["model_name"] = problem
    entry = models[str(model_name)] if problem is None else None
    params = body.get("input_params")
    if params is None:
        fields["input_params"] = (
            "is required: a JSON object (see GET /api/asset_generator/schemas/)."
        )
    elif not isinstance(params, dict):
        fields["input_params"] = "must be a JSON object."
    elif entry is not None:
        fields.update(input_params_errors(input_params_schema(entry, catalog), params, entry.id))
        if "image_url" in params and IMAGE_URL not in fields:
            problem = await _url_problem(params["image_url"], IMAGE_URL, runtime)
            if problem is not None:
                fields[IMAGE_URL] = problem
    webhook_url = body.get("webhook_url") if body.get("webhook_url") != "" else None
    problem = await _url_problem(webhook_url, "webhook_url", runtime)
    if problem is not None:
        fields["webhook_url"] = problem
    for name in body:
        if name not in BODY_FIELDS:
            fields[name] = f"is not a parameter; send {', '.join(BODY_FIELDS)}."
    if fields:
        raise InvalidFields(fields)
    assert entry is not None
    assert isinstance(params, dict)
    return entry, params, webhook_url


def _spec(entry: ModelEntry, params: dict[str, Any], input_image: str | None) -> ImageSpec:
    seed = params.get("seed")
    engine_params: dict[str, str | int | float | bool] = {}
    if entry.price_table is not None:
        for name in entry.price_table.by:
            engine_params[name] = params.get(name, entry.price_table.defaults.get(name, ""))
    ratio = params.get("aspect_ratio", DEFAULT_ASPECT_RATIO)
    # A model priced by resolution makes that resolution's long side (what is priced is made).
    long_side = entry.long_side(engine_params)
    if long_side is not None:
        width, height = long_side_dimensions(long_side, ratio)
    else:
        width, height = dimensions(BUDGET_SIDE, ratio)
    return ImageSpec(
        prompt=params["prompt"],
        negative_prompt=params.get("negative_prompt") or None,
        width=width,
        height=height,
        n=int(params.get("num_images", 1)),
        seed=seed_or_random(None if seed is None else int(seed)),
        style=params.get("style"),
        input_image=input_image,
        engine_params=engine_params,
    )


def _video_options(entry: ModelEntry) -> VideoOptions:
    assert entry.video is not None, "served_models pairs kind video with video options"
    return entry.video


def _video_spec(entry: ModelEntry, params: dict[str, Any], source_image: str) -> VideoSpec:
    options = _video_options(entry)
    width, height = video_dimensions(
        params.get("aspect_ratio", DEFAULT_VIDEO_ASPECT_RATIO), video_short_side(options)
    )
    seed = params.get("seed")
    cfg_scale = params.get("cfg_scale")
    return VideoSpec(
        prompt=params["prompt"],
        source_image=source_image,
        negative_prompt=params.get("negative_prompt") or None,
        # The schema allows each duration as a string or an integer (or 5.0, equal to 5).
        duration_seconds=int(params.get("duration", options.durations[0])),
        width=width,
        height=height,
        fps=options.fps,
        generate_audio=bool(params.get("generate_audio", False)),
        cfg_scale=None if cfg_scale is None else float(cfg_scale),
        seed=seed_or_random(None if seed is None else int(seed)),
    )


_CORE_PARAMS = {
    "model": "model_name",
    "n": "input_params.num_images",
    "prompt": "input_params.prompt",
    "negative_prompt": "input_params.negative_prompt",
    "style": "input_params.style",
    "seed": "input_params.seed",
    "size": "input_params.aspect_ratio",
    "width": "input_params.aspect_ratio",
    "height": "input_params.aspect_ratio",
    "input_image": IMAGE_URL,
    "source_image": IMAGE_URL,
    "duration_seconds": "input_params.duration",
    "cfg_scale": "input_params.cfg_scale",
    "generate_audio": "input_params.generate_audio",
}


def _wire_param(param: str | None, entry: ModelEntry) -> str | None:
    """The job core's name for a parameter, as this API names it."""
    if param is None:
        return None
    if param in _CORE_PARAMS:
        return _CORE_PARAMS[param]
    if entry.price_table is not None and param in entry.price_table.by:
        return f"input_params.{param}"
    return param


def _location(job: Job) -> str:
    return f"{router.prefix}/{job.id}/"


_REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["model_name", "input_params"],
                    "properties": {
                        "model_name": {"type": "string"},
                        "input_params": {
                            "type": "object",
                            "description": "Must satisfy the model's input_params_schema.",
                        },
                        "webhook_url": {"type": "string", "format": "uri"},
                    },
                    "additionalProperties": False,
                }
            }
        },
    }
}


@router.post(
    "/",
    responses=error_responses(AssetGeneratorError, CREATE),
    openapi_extra=create_docs(
        _REQUEST_BODY,
        {  # the reference's example request
            "model_name": "kling-video/v1.6/pro/image-to-video",
            "webhook_url": "https://webhook.site/8de4fa26-a1aa-4e83-8795-ede39bb99d78",
            "input_params": {
                "prompt": "A man working in the snow moutains with small image logo.",
                "duration": "5",
                "cfg_scale": 0.5,
                "image_url": "https://d35ghwdno3nak3.cloudfront.net/media_file/18165/"
                "d91443bdd92c82ed5d5992e38f3ff9d3.jpg",
                "aspect_ratio": "16:9",
                "negative_prompt": "blur, distort, and low quality",
            },
        },
    ),
)
async def create_task(
    principal: ApiIdPrincipal, runtime: RuntimeDep, request: Request, response: Response
) -> Task:
    """Queue a generation; the answer is the task as ``GET /{id}/`` shows it (200)."""
    body = await _json_object(request)
    entry, params, webhook_url = await _checked(body, runtime)
    idempotency = idempotency_key(request, body)
    input_image = None
    image_url = params.get("image_url")
    if image_url is not None:
        upload = await uploads.import_url(
            runtime.db,
            runtime.storage,
            principal.account_id,
            image_url,
            allow_private=runtime.settings.allow_private_urls,
            param=IMAGE_URL,
        )
        input_image = upload.path
    try:
        if entry.kind == JobKind.VIDEO:
            assert input_image is not None, "the video schema requires image_url"
            job = await runtime.jobs.intake.submit_video(
                principal,
                entry.id,
                _video_spec(entry, params, input_image),
                source=SOURCE,
                webhook_url=webhook_url,
                idempotency=idempotency,
            )
        else:
            job = await runtime.jobs.intake.submit_image(
                principal,
                entry.id,
                _spec(entry, params, input_image),
                source=SOURCE,
                webhook_url=webhook_url,
                idempotency=idempotency,
            )
    except InvalidRequest as exc:
        exc.param = _wire_param(exc.param, entry)
        raise
    response.headers["Location"] = _location(job)
    return task(job, lambda asset: asset_url(runtime, asset, request))


router.add_api_route("", create_task, methods=["POST"], include_in_schema=False)


# -- step 3: the task ------------------------------------------------------------------------


@router.get("/{task_id}/", responses=error_responses(AssetGeneratorError, LOOKUP))
async def get_task(
    task_id: Annotated[str, Path(description="The id the create returned.")],
    principal: ApiIdPrincipal,
    runtime: RuntimeDep,
    request: Request,
) -> Task:
    """The task's status and, once it is done, its assets."""
    try:
        job = await runtime.jobs.get(task_id, principal.account_id, scope=TASKS)
    except NotFound:
        raise NotFound(f"No task found with id '{task_id}'.", param="id") from None
    return task(job, lambda asset: asset_url(runtime, asset, request))


router.add_api_route("/{task_id}", get_task, methods=["GET"], include_in_schema=False)
