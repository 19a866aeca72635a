"""Artnex-compatible generate: ``POST /v1/generate``, synchronous, priced in credits.

Wire → canonical: ``width`` × ``height`` are pixels (multiples of 8, within the model's
limits), ``num_images`` is ``n``; for a model with a price table (``gpt-image-2``) the table's
parameters (``resolution``, ``quality``) become ``ImageSpec.engine_params``. What is priced is
what is made: where the catalog says a resolution's long side (``limits.resolutions``), the
image has exactly that long side: sides left out default to it, and sides that contradict it
are ``invalid_dimensions``. Fields this API
does not document are ignored, as Artnex's SDKs send whatever they add. Images are JPEGs, as
Artnex's are, unless the model's catalog entry names another ``output_format``.

Errors use Artnex's envelope ``{"success": false, "error": {"code", "message"}}`` with its
codes (``missing_prompt``, ``invalid_model``, ``invalid_dimensions``, ``invalid_parameter``,
``invalid_api_key``, ``insufficient_credits``, ``rate_limit_exceeded``, ...); 5xx errors also
carry the ``request_id`` the log has. See docs/api/artnex.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic_core import ErrorDetails, PydanticCustomError

from creatix.api.assets import asset_url, engine_header
from creatix.api.bodies import read_json, require_json
from creatix.api.deps import BearerPrincipal, RuntimeDep, idempotency_key
from creatix.api.openapi_docs import SYNC_CREATE, create_docs, error_responses
from creatix.api.routing import dialect_route, model_response
from creatix.catalog.schemas import RESOLUTION, Catalog, ModelEntry
from creatix.jobs.specs import (
    ImageSpec,
    Job,
    JobKind,
    JobStatus,
    OutputFormat,
    seed_or_random,
)
from creatix.kit.errors import CreatixError, GenerationFailed, GenerationRejected, InvalidRequest

PATH = "/v1/generate"
MAX_PROMPT_CHARS = 4000
MAX_IMAGES = 4
DEFAULT_SIDE = 1024
SIDE_MULTIPLE = 8
DEFAULT_FORMAT: OutputFormat = "jpeg"
"""Artnex's images are JPEGs (its reference's links end in ``image_0.jpg``); a model's
catalog ``output_format`` overrides it."""

MISSING_PROMPT = "missing_prompt"
INVALID_MODEL = "invalid_model"
INVALID_DIMENSIONS = "invalid_dimensions"
INVALID_PARAMETER = "invalid_parameter"
GENERATION_FAILED = "generation_failed"
INTERNAL_ERROR = "internal_error"

_REQUEST_CODES = {MISSING_PROMPT, INVALID_MODEL, INVALID_DIMENSIONS, INVALID_PARAMETER}
_CODES_BY_STATUS = {
    401: "invalid_api_key",
    402: "insufficient_credits",
    429: "rate_limit_exceeded",
    503: "unavailable",
}
_DIMENSION_PARAMS = {"width", "height", "size"}

EngineParams = dict[str, str | int | float | bool]


def _wire_code(error: CreatixError) -> str:
    """Artnex's code for a canonical error, by its status and code."""
    if error.status == 400:
        if error.code in _REQUEST_CODES:
            return error.code
        if error.code == "model_not_found" or error.param == "model":
            return INVALID_MODEL
        if error.param in _DIMENSION_PARAMS:
            return INVALID_DIMENSIONS
        return INVALID_PARAMETER
    if error.status == 500:
        return INTERNAL_ERROR if error.code == INTERNAL_ERROR else GENERATION_FAILED
    return _CODES_BY_STATUS.get(error.status, error.code)


class ArtnexErrorDetail(BaseModel):
    code: str
    message: str
    request_id: str | None = Field(default=None, description="On a 5xx: the log's request id.")


class ArtnexError(BaseModel):
    """Artnex's error envelope, as ``render_error`` draws it."""

    success: Literal[False]
    error: ArtnexErrorDetail


def render_error(error: CreatixError, request_id: str | None) -> Response:
    body: dict[str, object] = {"code": _wire_code(error), "message": error.message}
    if error.status >= 500:
        body["request_id"] = request_id
    return JSONResponse(
        {"success": False, "error": body}, status_code=error.status, headers=error.headers
    )


router = APIRouter(tags=["Artnex"], route_class=dialect_route(render_error))


# -- the request -----------------------------------------------------------------------------


def _catalog(info: ValidationInfo) -> Catalog:
    context = info.context
    assert isinstance(context, dict), "validate with context={'catalog': ...}"
    catalog: Catalog = context["catalog"]
    return catalog


def _image_model(catalog: Catalog, model_id: str) -> ModelEntry | None:
    entry = catalog.model(model_id)
    return entry if entry is not None and entry.kind == JobKind.IMAGE else None


def _entry(info: ValidationInfo) -> ModelEntry | None:
    """The request's model, if it validated (fields validate in order, model before the
    fields that depend on it)."""
    model_id = info.data.get("model")
    return _image_model(_catalog(info), model_id) if isinstance(model_id, str) else None


def _supported(catalog: Catalog) -> str:
    return ", ".join(m.id for m in catalog.models if m.kind == JobKind.IMAGE)


class GenerateRequest(BaseModel):
    """The documented fields, strictly typed; anything else in the body is ignored."""

    # Validate with context={"catalog": catalog}: the model must be one of its image models,
    # and the sides and the image count are checked against that model's limits.
    model_config = ConfigDict(strict=True, extra="ignore")

    prompt: str = Field(description="What to draw; 1 to 4000 characters.")
    model: str = Field(description="An image model id from the catalog, e.g. flux-2-pro.")
    width: int = Field(
        default=DEFAULT_SIDE,
        validate_default=True,
        description="Pixels; a multiple of 8 within the model's limits. For a model priced "
        "by resolution (gpt-image-2) the longer of width and height is the resolution's "
        "(1k 1024, 2k 2048, 4k 4096), and a side left out is that.",
    )
    height: int = Field(
        default=DEFAULT_SIDE,
        validate_default=True,
        description="Pixels; as width.",
    )
    num_images: int = Field(default=1, validate_default=True, description="1 to 4.")

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, value: str) -> str:
        if not value.strip():
            raise PydanticCustomError(MISSING_PROMPT, "The prompt field is empty.")
        if len(value) > MAX_PROMPT_CHARS:
            raise PydanticCustomError(
                INVALID_PARAMETER,
                "prompt is {length} characters long; the maximum is {limit}.",
                {"length": len(value), "limit": MAX_PROMPT_CHARS},
            )
        return value

    @field_validator("model")
    @classmethod
    def _model(cls, value: str, info: ValidationInfo) -> str:
        catalog = _catalog(info)
        if _image_model(catalog, value) is None:
            raise PydanticCustomError(
                INVALID_MODEL,
                "The model '{model}' is not a supported model ID. Supported: {supported}.",
                {"model": value, "supported": _supported(catalog)},
            )
        return value

    @field_validator("width", "height")
    @classmethod
    def _side(cls, value: int, info: ValidationInfo) -> int:
        name = info.field_name
        entry = _entry(info)
        if entry is not None:
            low, high = entry.limits.min_side, entry.limits.max_side
            if not low <= value <= high:
                raise PydanticCustomError(
                    INVALID_DIMENSIONS,
                    "{name} {value} is outside the range for {model}: {low} to {high} pixels.",
                    {"name": name, "value": value, "model": entry.id, "low": low, "high": high},
                )
        elif value <= 0:
            raise PydanticCustomError(
                INVALID_DIMENSIONS, "{name} must be positive.", {"name": name}
            )
        if value % SIDE_MULTIPLE:
            raise PydanticCustomError(
                INVALID_DIMENSIONS,
                "{name} must be a multiple of {multiple}; {value} is not.",
                {"name": name, "multiple": SIDE_MULTIPLE, "value": value},
            )
        return value

    @field_validator("num_images")
    @classmethod
    def _num_images(cls, value: int, info: ValidationInfo) -> int:
        entry = _entry(info)
        most = min(MAX_IMAGES, entry.limits.max_n) if entry is not None else MAX_IMAGES
        if not 1 <= value <= most:
            raise PydanticCustomError(
                INVALID_PARAMETER,
                "num_images must be between 1 and {most}; got {value}.",
                {"most": most, "value": value},
            )
        return value


_FIELD_ORDER = list(GenerateRequest.model_fields)
_FIELD_CODES = {
    "prompt": MISSING_PROMPT,
    "model": INVALID_MODEL,
    "width": INVALID_DIMENSIONS,
    "height": INVALID_DIMENSIONS,
}
_TYPE_NAMES = {"string_type": "a string", "int_type": "an integer"}


def _field_of(error: ErrorDetails) -> str:
    return str(error["loc"][0]) if error["loc"] else ""


def _request_error(exc: ValidationError, catalog: Catalog) -> InvalidRequest:
    """The first failing field in documented order (prompt, model, width, height,
    num_images), as Artnex's code for it."""
    order = {name: index for index, name in enumerate(_FIELD_ORDER)}
    first = min(exc.errors(), key=lambda e: order.get(_field_of(e), len(order)))
    field, kind = _field_of(first), first["type"]
    if kind in _REQUEST_CODES:
        return InvalidRequest(first["msg"], param=field, code=kind)
    code = _FIELD_CODES.get(field, INVALID_PARAMETER)
    if kind == "missing":
        message = f"The {field} field is required."
        if field == "model":
            message += f" Supported models: {_supported(catalog)}."
    elif kind in _TYPE_NAMES:
        message = f"{field} must be {_TYPE_NAMES[kind]}."
    else:
        message = f"Invalid {field}: {first['msg']}."
    return InvalidRequest(message, param=field, code=code)


def _engine_params(entry: ModelEntry, body: Mapping[str, Any]) -> EngineParams:
    """The model's price-table parameters (``resolution``, ``quality``) from the body, or the
    table's defaults; empty for a model without a table, where those fields are ignored."""
    table = entry.price_table
    if table is None:
        return {}
    params: EngineParams = {}
    for position, name in enumerate(table.by):
        choices = list(dict.fromkeys(key.split("/")[position] for key in table.prices))
        value = body.get(name)
        if value is None:
            value = table.defaults.get(name)
        if value is None:
            raise InvalidRequest(
                f"{name} is required for {entry.id}: one of {', '.join(choices)}.",
                param=name,
                code=INVALID_PARAMETER,
            )
        if not isinstance(value, str) or value not in choices:
            raise InvalidRequest(
                f"{name} must be one of {', '.join(choices)} for {entry.id}; "
                f"got {json.dumps(value)}.",
                param=name,
                code=INVALID_PARAMETER,
            )
        params[name] = value
    return params


def _sides(entry: ModelEntry, request: GenerateRequest, params: EngineParams) -> tuple[int, int]:
    """``width`` × ``height``: the request's, or for a model whose resolution is the image's
    long side (gpt-image-2), that side wherever the request left one out. Sides whose longer
    one is not the resolution's are ``invalid_dimensions``, naming the side at fault."""
    long_side = entry.long_side(params)
    if long_side is None:
        return request.width, request.height
    given = request.model_fields_set
    width = request.width if "width" in given else long_side
    height = request.height if "height" in given else long_side
    if max(width, height) == long_side:
        return width, height
    if width > long_side or height > long_side:
        field = "width" if width > long_side else "height"
    else:
        field = "width" if width >= height else "height"
    resolution = params.get(RESOLUTION)
    raise InvalidRequest(
        f"{field} does not match resolution {resolution}: {entry.id} at {resolution} makes "
        f"images {long_side} pixels on the long side, and width {width} x height {height} "
        f"is {max(width, height)}. Send {field} {long_side} (the other side at most "
        f"{long_side}), leave width and height out for {long_side}x{long_side}, or choose "
        "the resolution of the size you want.",
        param=field,
        code=INVALID_DIMENSIONS,
    )


def parse(body: Mapping[str, Any], catalog: Catalog) -> tuple[ModelEntry, ImageSpec]:
    """The wire body, as a JSON object, to the catalog model and the canonical spec."""
    try:
        request = GenerateRequest.model_validate(body, context={"catalog": catalog})
    except ValidationError as exc:
        raise _request_error(exc, catalog) from None
    entry = _image_model(catalog, request.model)
    assert entry is not None, "the model validator checked it"
    params = _engine_params(entry, body)
    width, height = _sides(entry, request, params)
    spec = ImageSpec(
        prompt=request.prompt,
        width=width,
        height=height,
        n=request.num_images,
        seed=seed_or_random(None),
        output_format=entry.output_format or DEFAULT_FORMAT,
        engine_params=params,
    )
    return entry, spec


async def _json_object(request: Request) -> dict[str, Any]:
    require_json(request)
    body = await read_json(request)
    if body is None:
        raise InvalidRequest(
            "The request body is empty; send a JSON object with prompt and model.",
            param="body",
            code=INVALID_PARAMETER,
        )
    if not isinstance(body, dict):
        raise InvalidRequest(
            f"The request body must be a JSON object, not {type(body).__name__}.",
            param="body",
            code=INVALID_PARAMETER,
        )
    return body


# -- the response ----------------------------------------------------------------------------


class GeneratedImage(BaseModel):
    url: str = Field(description="A signed link to the image on this server.")


class GenerateResponse(BaseModel):
    success: Literal[True] = True
    images: list[GeneratedImage]
    request_id: str = Field(
        description="``req_`` and the Creatix job's UUID as 32 hex digits, as Artnex writes "
        "its request ids; the UUID itself is in X-Creatix-Job-Id."
    )
    credits_used: int = Field(description="Credits charged for this request.")


def request_id_of(job: Job) -> str:
    return "req_" + job.id.replace("-", "")


def _ensure_succeeded(job: Job) -> None:
    if job.status is JobStatus.SUCCEEDED:
        return
    if job.error is not None:
        failure = GenerationRejected if job.error.rejected else GenerationFailed
        raise failure(
            f"The generation failed ({job.error.code}): {job.error.message} (job {job.id})",
            code=GENERATION_FAILED,
        )
    if job.status.is_terminal:
        raise GenerationFailed(f"The generation was {job.status} (job {job.id}).")
    raise GenerationFailed(
        f"The generation did not finish in time; it is still {job.status} (job {job.id}). "
        "Send the request again with the same Idempotency-Key to collect it.",
    )


_REQUEST_SCHEMA = GenerateRequest.model_json_schema()
_REQUEST_SCHEMA["properties"].update(
    {
        "resolution": {
            "type": "string",
            "description": "Models priced by a table (gpt-image-2): 1k, 2k or 4k, the "
            "image's long side (1024, 2048 or 4096 pixels).",
        },
        "quality": {
            "type": "string",
            "description": "Models priced by a table (gpt-image-2): low, medium or high.",
        },
    }
)


@router.post(
    PATH,
    response_model=GenerateResponse,
    responses=error_responses(ArtnexError, SYNC_CREATE),
    openapi_extra=create_docs(
        {
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _REQUEST_SCHEMA}},
            }
        },
        {  # the reference's example request
            "prompt": "A serene mountain landscape at sunset, photorealistic, golden hour lighting",
            "model": "flux-2-pro",
            "width": 1024,
            "height": 1024,
            "num_images": 1,
        },
    ),
)
async def generate(
    principal: BearerPrincipal,
    runtime: RuntimeDep,
    request: Request,
    response: Response,
) -> Response:
    """Generate 1–4 images from a prompt with a credit-priced model, and wait for them."""
    body = await _json_object(request)
    entry, spec = parse(body, runtime.catalog)
    idempotency = idempotency_key(request, body)
    job = await runtime.jobs.intake.submit_image(
        principal, entry.id, spec, source="artnex", idempotency=idempotency
    )
    job = await runtime.jobs.wait(job, runtime.settings.sync_timeout_seconds)
    _ensure_succeeded(job)
    response.headers.update(engine_header(runtime, job.engine))
    response.headers["X-Creatix-Job-Id"] = job.id
    rendered = GenerateResponse(
        images=[GeneratedImage(url=asset_url(runtime, asset, request)) for asset in job.assets],
        request_id=request_id_of(job),
        credits_used=job.credits_charged or 0,
    )
    return model_response(rendered, response)
