"""Translation for ``api/account_generations.py``: request bodies into canonical specs, and
catalog entries and jobs into the wire types of ``account_generation_schemas``."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import Request

from creatix.api.account_generation_schemas import (
    AccountGeneration,
    AccountModel,
    AccountStyle,
    GenerationAsset,
    GenerationError,
    GenerationSpec,
    ImageModelLimits,
    ImagePrice,
    NewImageGeneration,
    NewTextGeneration,
    NewVideoGeneration,
    SpecMessage,
    TextModelLimits,
    TextPrice,
    VideoModelLimits,
    VideoPrice,
)
from creatix.api.assets import asset_url
from creatix.api.bodies import well_formed
from creatix.catalog.schemas import RESOLUTION, Catalog, ModelEntry, StyleEntry
from creatix.jobs.records import THUMBNAIL
from creatix.jobs.specs import (
    Asset,
    ChatTurn,
    ImageSpec,
    Job,
    JobKind,
    JobStatus,
    TextConfig,
    TextSpec,
    VideoSpec,
    seed_or_random,
)
from creatix.jobs.structured import JSON, invalid_schema
from creatix.kit.errors import InvalidRequest
from creatix.kit.patterns import schema_pattern_problems
from creatix.media.sizing import (
    ASPECT_RATIOS,
    SIZE_SIDES,
    dimensions,
    long_side_dimensions,
    video_size,
)
from creatix.runtime import ListedModel, Runtime

SOURCE = "console"
"""``Job.source`` of the generations this API makes (the web console's)."""
DEFAULT_SIZE = "1024x1024"
VIDEO_SHORT_SIDES = {"720p": 720, "1080p": 1080}
DEFAULT_VIDEO_RESOLUTION = "720p"
QUALITY = "quality"

# The job core's names for parameters, as this API's bodies name them, by kind.
_WIRE_PARAMS: dict[str, dict[str, str]] = {
    "image": {"width": "size", "height": "size"},
    "video": {
        "source_image": "source_asset",
        "duration_seconds": "duration",
        "generate_audio": "audio",
        "width": "resolution",
        "height": "resolution",
        "size": "resolution",
    },
    "text": {"config.max_output_tokens": "max_output_tokens"},
}


def wire_param(kind: str, param: str | None) -> str | None:
    if param is None:
        return None
    return _WIRE_PARAMS[kind].get(param, param)


# -- the catalog -----------------------------------------------------------------------------


def _price(entry: ModelEntry) -> ImagePrice | VideoPrice | TextPrice:
    if entry.kind == JobKind.VIDEO and entry.video is not None:
        by_duration = entry.video.credits_by_duration
        return VideoPrice(credits_by_duration={str(d): by_duration[d] for d in sorted(by_duration)})
    if entry.kind == JobKind.TEXT:
        return TextPrice(
            credits_per_1k_input_tokens=entry.credits_per_1k_input_tokens,
            credits_per_1k_output_tokens=entry.credits_per_1k_output_tokens,
        )
    table = entry.price_table
    if table is None:
        return ImagePrice(
            credits_per_image=entry.credits_per_image, price_by=[], prices={}, defaults={}
        )
    return ImagePrice(
        credits_per_image=table.prices.get(table.key({}), entry.credits_per_image),
        price_by=list(table.by),
        prices=dict(table.prices),
        defaults=dict(table.defaults),
    )


def _table_values(entry: ModelEntry, name: str) -> list[str]:
    """The values of price parameter ``name`` the model's price table prices."""
    table = entry.price_table
    if table is None or name not in table.by:
        return []
    position = table.by.index(name)
    return sorted({key.split("/")[position] for key in table.prices})


def _limits(entry: ModelEntry) -> ImageModelLimits | VideoModelLimits | TextModelLimits:
    if entry.kind == JobKind.VIDEO and entry.video is not None:
        options = entry.video
        return VideoModelLimits(
            durations=options.durations,
            resolutions=list(options.resolutions),
            fps=options.fps,
            supports_audio=options.supports_audio,
            supports_negative_prompt=options.supports_negative_prompt,
        )
    if entry.kind == JobKind.TEXT:
        return TextModelLimits(max_output_tokens=entry.max_output_tokens)
    limits = entry.limits
    return ImageModelLimits(
        max_n=limits.max_n,
        max_prompt_chars=limits.max_prompt_chars,
        min_side=limits.min_side,
        max_side=limits.max_side,
        sizes=[] if limits.resolutions else list(limits.sizes),
        aspect_ratios=list(ASPECT_RATIOS),
        resolutions=dict(limits.resolutions),
        qualities=_table_values(entry, QUALITY),
        supports_image_input=entry.supports_image_input,
    )


def model_view(listed: ListedModel) -> AccountModel:
    entry = listed.entry
    return AccountModel(
        id=entry.id,
        kind=entry.kind,
        name=entry.display_name,
        description=entry.description,
        engine=listed.engine.type,
        available=listed.engine.available,
        unavailable_reason=listed.engine.reason,
        price=_price(entry),
        limits=_limits(entry),
    )


def style_view(style: StyleEntry) -> AccountStyle:
    return AccountStyle(
        id=style.id, name=style.name, description=f"{style.category}: {style.prompt_suffix}"
    )


# -- requests into specs ---------------------------------------------------------------------


def _entry(catalog: Catalog, model_id: str, kind: JobKind) -> ModelEntry:
    entry = catalog.model(model_id)
    if entry is None or entry.kind != kind:
        raise InvalidRequest(
            f"The model '{model_id}' does not exist or is not a {kind} model "
            "(GET …/models lists them).",
            param="model",
            code="model_not_found",
        )
    return entry


def _engine_params(
    entry: ModelEntry, body: NewImageGeneration
) -> dict[str, str | int | float | bool]:
    """The price table's parameters (resolution, quality) from the body, else its defaults;
    a 400 naming one the model is not priced by."""
    table = entry.price_table
    given = {RESOLUTION: body.resolution, QUALITY: body.quality}
    for name, value in given.items():
        if value is not None and (table is None or name not in table.by):
            raise InvalidRequest(
                f"{entry.id} does not take {name}.", param=name, code="unsupported_parameter"
            )
    if table is None:
        return {}
    params: dict[str, str | int | float | bool] = {}
    for name in table.by:
        params[name] = given.get(name) or table.defaults.get(name, "")
    return params


def image_spec(catalog: Catalog, body: NewImageGeneration, input_image: str | None) -> ImageSpec:
    """The Creatix v1 sizing rule: ``size`` is a pixel budget that ``aspect_ratio`` shapes;
    for a model sized by resolution, the resolution's long side in that shape."""
    entry = _entry(catalog, body.model, JobKind.IMAGE)
    if body.style is not None and catalog.style(body.style) is None:
        raise InvalidRequest(
            f"Unknown style '{body.style}' (GET …/styles lists them).",
            param="style",
            code="style_not_found",
        )
    params = _engine_params(entry, body)
    long_side = entry.long_side(params)
    if long_side is not None:
        if body.size is not None:
            raise InvalidRequest(
                f"{entry.id} is sized by resolution, not size.",
                param="size",
                code="unsupported_parameter",
            )
        width, height = long_side_dimensions(long_side, body.aspect_ratio)
    else:
        size = body.size or DEFAULT_SIZE
        if size not in entry.limits.sizes:
            raise InvalidRequest(
                f"{entry.id} takes the sizes {', '.join(entry.limits.sizes)}.", param="size"
            )
        width, height = dimensions(SIZE_SIDES[size], body.aspect_ratio)
    return ImageSpec(
        prompt=body.prompt,
        negative_prompt=body.negative_prompt,
        width=width,
        height=height,
        n=body.n,
        seed=seed_or_random(body.seed),
        style=body.style,
        output_format=body.output_format,
        input_image=input_image,
        engine_params=params,
    )


def _unsupported(entry: ModelEntry, param: str) -> InvalidRequest:
    return InvalidRequest(
        f"{entry.id} does not take {param} (see its limits in GET …/models).",
        param=param,
        code="unsupported_parameter",
    )


def video_spec(catalog: Catalog, body: NewVideoGeneration, source: Asset) -> VideoSpec:
    """The source image's aspect ratio with the resolution's short side, both sides even."""
    entry = _entry(catalog, body.model, JobKind.VIDEO)
    assert entry.video is not None, "the catalog pairs kind video with video options"
    options = entry.video
    if body.audio and not options.supports_audio:
        raise _unsupported(entry, "audio")
    if body.negative_prompt is not None and not options.supports_negative_prompt:
        raise _unsupported(entry, "negative_prompt")
    resolution = body.resolution
    if resolution is None:
        default = DEFAULT_VIDEO_RESOLUTION
        resolution = default if default in options.resolutions else options.resolutions[0]
    elif resolution not in options.resolutions:
        raise InvalidRequest(
            f"{entry.id} makes videos of {', '.join(options.resolutions)}.", param="resolution"
        )
    width, height = video_size(
        source.width or 1024, source.height or 1024, VIDEO_SHORT_SIDES[resolution]
    )
    return VideoSpec(
        prompt=body.prompt,
        source_image=source.storage_key,
        negative_prompt=body.negative_prompt,
        duration_seconds=body.duration or options.durations[0],
        width=width,
        height=height,
        fps=options.fps,
        generate_audio=body.audio,
        movement=body.movement,
        seed=seed_or_random(body.seed),
    )


def text_spec(body: NewTextGeneration) -> TextSpec:
    schema = body.response_schema
    if schema is not None:
        patterns = schema_pattern_problems(schema)
        if patterns:
            place, problem = next(iter(patterns.items()))
            raise InvalidRequest(f"{place}: {problem}", param=f"response_schema.{place}")
        invalid = invalid_schema(schema)
        if invalid is not None:
            raise InvalidRequest(f"response_schema {invalid}", param="response_schema")
    return TextSpec(
        messages=[
            ChatTurn(role="user" if m.role == "user" else "model", content=m.content)
            for m in body.messages
        ],
        system_instruction=body.system_instruction or "",
        config=TextConfig(
            max_output_tokens=body.max_output_tokens,
            response_mime_type=JSON if schema is not None else "text/plain",
            response_json_schema=schema,
        ),
    )


# -- jobs into generations -------------------------------------------------------------------


def _image_fields(catalog: Catalog, spec: ImageSpec, ids: Mapping[str, str]) -> GenerationSpec:
    style = catalog.style(spec.style) if spec.style else None
    prompt, negative = spec.prompt, spec.negative_prompt
    if style is not None:
        prompt = style.unapply(prompt)
        if negative and style.negative_prompt:
            # The job core joined the style's negative prompt after the caller's.
            negative = negative.removesuffix(style.negative_prompt).removesuffix(", ") or None
    params = spec.engine_params
    return GenerationSpec(
        prompt=well_formed(prompt),
        negative_prompt=well_formed(negative) if negative else None,
        width=spec.width,
        height=spec.height,
        n=spec.n,
        seed=spec.seed,
        style=spec.style,
        resolution=str(params[RESOLUTION]) if RESOLUTION in params else None,
        quality=str(params[QUALITY]) if QUALITY in params else None,
        input_image=ids.get(spec.input_image) if spec.input_image else None,
    )


def _video_fields(spec: VideoSpec, ids: Mapping[str, str]) -> GenerationSpec:
    short = min(spec.width, spec.height)
    resolution = next((name for name, side in VIDEO_SHORT_SIDES.items() if side == short), None)
    return GenerationSpec(
        prompt=well_formed(spec.prompt),
        negative_prompt=well_formed(spec.negative_prompt) if spec.negative_prompt else None,
        width=spec.width,
        height=spec.height,
        seed=spec.seed,
        source_asset=ids.get(spec.source_image),
        duration=spec.duration_seconds,
        resolution=resolution,
        audio=spec.generate_audio,
        movement=spec.movement,
    )


def _text_fields(spec: TextSpec) -> GenerationSpec:
    return GenerationSpec(
        system_instruction=well_formed(spec.system_instruction) or None,
        messages=[SpecMessage(role=m.role, content=well_formed(m.content)) for m in spec.messages],
        response_schema=spec.config.response_json_schema,
        max_output_tokens=spec.config.max_output_tokens,
        seed=spec.config.seed,
    )


def _assets(runtime: Runtime, request: Request, job: Job) -> list[GenerationAsset]:
    if job.status is not JobStatus.SUCCEEDED:
        return []
    thumbnails = {a.index: a for a in job.assets if a.kind == THUMBNAIL}
    found = []
    for asset in sorted(job.assets, key=lambda a: a.index):
        if asset.kind not in ("image", "video"):
            continue
        thumbnail = thumbnails.get(asset.index) or next(iter(thumbnails.values()), None)
        found.append(
            GenerationAsset(
                id=asset.id,
                kind="image" if asset.kind == "image" else "video",
                mime_type=asset.mime_type,
                width=asset.width,
                height=asset.height,
                duration_seconds=asset.duration_seconds,
                bytes=asset.size_bytes,
                url=asset_url(runtime, asset, request),
                thumbnail_url=asset_url(runtime, thumbnail, request)
                if asset.kind == "video" and thumbnail is not None
                else None,
            )
        )
    return found


def _engine_type(runtime: Runtime, instance: str) -> str:
    """The type of the engine instance a job went to (its name, if the catalog lost it)."""
    try:
        return runtime.engines.status(instance).type
    except KeyError:
        return instance


def generation(
    runtime: Runtime, request: Request, job: Job, asset_ids: Mapping[str, str]
) -> AccountGeneration:
    """``job`` as the gallery shows it; ``asset_ids``: input images' asset ids by key."""
    if isinstance(job.spec, ImageSpec):
        fields = _image_fields(runtime.catalog, job.spec, asset_ids)
    elif isinstance(job.spec, VideoSpec):
        fields = _video_fields(job.spec, asset_ids)
    else:
        fields = _text_fields(job.spec)
    error = job.error
    if job.status is JobStatus.SUCCEEDED:
        progress: float | None = 1.0
    else:
        progress = None if job.progress is None else min(1.0, max(0.0, job.progress))
    return AccountGeneration(
        id=job.id,
        kind=job.kind,
        model=job.model,
        engine=_engine_type(runtime, job.engine),
        source=job.source,
        status=job.status,
        progress=progress,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        credits_reserved=job.credits_reserved,
        credits_charged=job.credits_charged,
        error=GenerationError(code=error.code, message=well_formed(error.message))
        if error is not None
        else None,
        spec=fields,
        assets=_assets(runtime, request, job),
        text=well_formed(job.text.text) if job.text is not None else None,
    )
