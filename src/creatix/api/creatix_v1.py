"""Creatix v1, the native API: synchronous text-to-image in OpenAI's wire shape.

Wire → canonical: ``size`` × ``aspect_ratio`` become pixels by DESIGN.md's sizing rule.
Errors use OpenAI's envelope ``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from creatix.api.assets import asset_b64, asset_url, engine_header
from creatix.api.bodies import documented_body, model_body
from creatix.api.deps import BearerPrincipal, KeyPrincipal, RuntimeDep, idempotency_key
from creatix.api.openapi_docs import LOOKUP, READ, SYNC_CREATE, create_docs, error_responses
from creatix.api.routing import dialect_route, model_response
from creatix.jobs.specs import ImageSpec, Job, JobStatus, seed_or_random
from creatix.kit.errors import CreatixError, GenerationFailed, GenerationRejected, NotFound
from creatix.media.sizing import (
    ASPECT_RATIOS,
    SIZE_SIDES,
    AspectRatioName,
    SizeName,
    dimensions,
)
from creatix.runtime import ListedModel, Runtime

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    404: "invalid_request_error",
    409: "idempotency_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


class CreatixV1ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str
    request_id: str | None = Field(default=None, description="On a 5xx: the log's request id.")


class CreatixV1Error(BaseModel):
    """OpenAI's error envelope, as ``render_error`` draws it."""

    error: CreatixV1ErrorDetail


def render_error(error: CreatixError, request_id: str | None) -> Response:
    body: dict[str, object] = {
        "message": error.message,
        "type": _ERROR_TYPES.get(error.status, "server_error"),
        "param": error.param,
        "code": error.code,
    }
    if error.status >= 500:
        body["message"] = f"{error.message} (request id {request_id})"
        body["request_id"] = request_id
    return JSONResponse({"error": body}, status_code=error.status, headers=error.headers)


router = APIRouter(prefix="/v1", tags=["Creatix v1"], route_class=dialect_route(render_error))

Size = SizeName
AspectRatio = AspectRatioName


class ImageGenerationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    prompt: str = Field(min_length=1, max_length=1000, description="What to draw.")
    model: str = Field(default="creatix-flash", description="creatix-flash or creatix-pro.")
    n: int = Field(default=1, ge=1, le=4, description="Images to generate.")
    size: Size = Field(default="1024x1024", description="The pixel budget: its area.")
    aspect_ratio: AspectRatio = Field(default="1:1", description="Shapes the pixel budget.")
    response_format: Literal["url", "b64_json"] = "url"
    quality: Literal["standard", "hd"] = "standard"
    seed: int | None = Field(
        default=None, ge=0, lt=2**32, description="Same seed and parameters, same bytes."
    )
    negative_prompt: str | None = Field(default=None, max_length=1000)
    style: str | None = Field(default=None, description="A style id from the catalog.")
    output_format: Literal["png", "jpeg", "webp"] = "png"
    user: str | None = Field(default=None, description="OpenAI's end-user id; accepted, unused.")


class ImageData(BaseModel):
    url: str | None
    b64_json: str | None


class ImagesResponse(BaseModel):
    created: int
    data: list[ImageData]


class ModelLimits(BaseModel):
    max_n: int
    max_prompt_chars: int
    sizes: list[str]
    aspect_ratios: list[str]


class OutputProvenanceInfo(BaseModel):
    c2pa: bool = Field(
        default=True, description="Outputs carry a signed C2PA manifest (content credentials)."
    )
    development_certificate: bool = Field(
        description="The manifests are signed with this server's development certificate, "
        "which no verifier trusts unless told to (creatix provenance ca)."
    )
    invisible_mark: bool = Field(
        default=True, description="Outputs carry an invisible mark naming this server and job."
    )


class ModelObject(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 1735689600
    owned_by: str = "creatix"
    display_name: str
    description: str
    kind: str
    engine: str
    available: bool
    unavailable_reason: str | None = None
    limits: ModelLimits
    provenance: OutputProvenanceInfo


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelObject]


class KeyInfo(BaseModel):
    """``GET /v1/me``: the key the request was made with."""

    object: Literal["api_key"] = "api_key"
    id: str = Field(description="The key's id: what `X-API-ID` takes beside its secret.")
    account: str = Field(description="The account's name.")
    account_id: str
    plan: str
    scopes: list[str] = Field(description="What the key may do (`generate`, `read`, ...).")


def _spec(body: ImageGenerationRequest) -> ImageSpec:
    width, height = dimensions(SIZE_SIDES[body.size], body.aspect_ratio)
    return ImageSpec(
        prompt=body.prompt,
        negative_prompt=body.negative_prompt,
        width=width,
        height=height,
        n=body.n,
        seed=seed_or_random(body.seed),
        style=body.style,
        quality=body.quality,
        output_format=body.output_format,
    )


def _ensure_succeeded(job: Job) -> None:
    if job.status is JobStatus.SUCCEEDED:
        return
    if job.error is not None:
        failure = GenerationRejected if job.error.rejected else GenerationFailed
        raise failure(job.error.message, code=job.error.code)
    raise GenerationFailed(
        f"The generation did not finish in time; it is still {job.status}.", code="timeout"
    )


@router.post(
    "/images/generations",
    response_model=ImagesResponse,
    responses=error_responses(CreatixV1Error, SYNC_CREATE),
    openapi_extra=create_docs(
        documented_body(ImageGenerationRequest),
        {  # the reference's example request
            "prompt": "A majestic mountain landscape at sunset with a calm lake and pine trees, "
            "cinematic lighting",
            "n": 2,
            "size": "1024x1024",
            "aspect_ratio": "16:9",
        },
    ),
)
async def create_images(
    principal: BearerPrincipal,
    runtime: RuntimeDep,
    request: Request,
    response: Response,
) -> Response:
    """Generate 1–4 images from a prompt and wait for them."""
    body = await model_body(request, ImageGenerationRequest)
    idempotency = idempotency_key(request, body.model_dump(exclude_unset=True))
    job = await runtime.jobs.intake.submit_image(
        principal, body.model, _spec(body), idempotency=idempotency
    )
    job = await runtime.jobs.wait(job, runtime.settings.sync_timeout_seconds)
    _ensure_succeeded(job)
    response.headers.update(engine_header(runtime, job.engine))
    response.headers["X-Creatix-Job-Id"] = job.id
    response.headers["X-Creatix-Credits-Charged"] = str(job.credits_charged or 0)
    if body.response_format == "b64_json":
        data = [ImageData(url=None, b64_json=await asset_b64(runtime, a)) for a in job.assets]
    else:
        data = [ImageData(url=asset_url(runtime, a, request), b64_json=None) for a in job.assets]
    return model_response(
        ImagesResponse(created=int(job.created_at.timestamp()), data=data), response
    )


def _model_object(listed: ListedModel, provenance: OutputProvenanceInfo) -> ModelObject:
    entry = listed.entry
    return ModelObject(
        id=entry.id,
        display_name=entry.display_name,
        description=entry.description,
        kind=entry.kind,
        engine=listed.engine.type,
        available=listed.engine.available,
        unavailable_reason=listed.engine.reason,
        limits=ModelLimits(
            max_n=entry.limits.max_n,
            max_prompt_chars=entry.limits.max_prompt_chars,
            sizes=entry.limits.sizes,
            aspect_ratios=list(ASPECT_RATIOS),
        ),
        provenance=provenance,
    )


def _provenance(runtime: Runtime) -> OutputProvenanceInfo:
    return OutputProvenanceInfo(development_certificate=runtime.provenance.identity.development)


def _listed(runtime: Runtime) -> list[ListedModel]:
    return [m for m in runtime.models() if m.entry.kind == "image"]


@router.get("/models", responses=error_responses(CreatixV1Error, READ))
async def list_models(_: BearerPrincipal, runtime: RuntimeDep) -> ModelList:
    """The image models this server serves, the engine behind each, and whether it is up."""
    provenance = _provenance(runtime)
    return ModelList(data=[_model_object(m, provenance) for m in _listed(runtime)])


@router.get("/models/{model_id}", responses=error_responses(CreatixV1Error, LOOKUP))
async def retrieve_model(
    model_id: Annotated[str, Path()], _: BearerPrincipal, runtime: RuntimeDep
) -> ModelObject:
    for listed in _listed(runtime):
        if listed.entry.id == model_id:
            return _model_object(listed, _provenance(runtime))
    raise NotFound(f"The model '{model_id}' does not exist.", param="model", code="model_not_found")


@router.get(
    "/me",
    summary="The key in use",
    responses=error_responses(CreatixV1Error, READ),
)
async def me(principal: KeyPrincipal) -> KeyInfo:
    """The key this request was made with: its id (for the dialects that take
    `X-API-ID` + `X-API-KEY`), its account and its scopes. Any live key may ask, sent as
    `Authorization: Bearer` or as the `X-API-ID` + `X-API-KEY` pair."""
    return KeyInfo(
        id=principal.key_id,
        account=principal.account_name,
        account_id=principal.account_id,
        plan=principal.plan,
        scopes=list(principal.scopes),
    )
