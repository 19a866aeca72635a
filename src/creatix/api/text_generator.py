"""The text generator (``/api/text_generator/...``), as creatify-text-generator.txt has it.

``POST /`` takes a chat-style conversation (``messages`` of ``user`` and ``model`` turns), a
``system_instruction`` and a generation ``config`` (which may ask for JSON, valid against a
JSON Schema), queues a text job and answers 201 with the task at once; ``GET /{id}/`` (or the
webhook) tells how it went, and ``GET /`` lists the caller's text tasks, a page at a time.

Wire → canonical: the body is validated whole with ``text_schemas.REQUEST_SCHEMA`` (every
failing field named, dotted: ``config.temperature``, ``messages.0.role``), then becomes a
``TextSpec`` (``ChatTurn``s, ``TextConfig``) for ``JobIntake.submit_text``.

Credentials are ``X-API-ID`` and ``X-API-KEY``; errors are the asset generator's envelope,
``{"error", "detail"}`` plus ``field`` and ``fields`` for a 400 and ``request_id`` for a 5xx.
See docs/api/text-generator.md.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from creatix.api import asset_generator
from creatix.api.asset_generator import AssetGeneratorError, InvalidFields
from creatix.api.bodies import InvalidText, read_json, require_json
from creatix.api.deps import ApiIdPrincipal, RuntimeDep, idempotency_key
from creatix.api.openapi_docs import CREATE, LOOKUP, READ, create_docs, error_responses
from creatix.api.routing import dialect_route
from creatix.api.text_schemas import (
    CONFIG_KEYS,
    JSON_MIME,
    MIME_TYPES,
    REQUEST_SCHEMA,
    Message,
    TaskConfig,
    TaskStatus,
    TextProvenance,
    TextTask,
    TextTaskPage,
    field_rank,
    request_errors,
    response_schema_pattern_problems,
)
from creatix.catalog.schemas import Catalog, ModelEntry
from creatix.jobs.service import MAX_OFFSET
from creatix.jobs.specs import (
    ChatTurn,
    Job,
    JobKind,
    JobScope,
    JobStatus,
    TextConfig,
    TextSpec,
)
from creatix.jobs.structured import invalid_schema
from creatix.kit.errors import CreatixError, InvalidRequest, NotFound
from creatix.provenance.texts import text_digest
from creatix.runtime import Runtime
from creatix.webhooks import payloads
from creatix.webhooks.ssrf import UnsafeUrl, check_url

SOURCE = "text_generator"
"""``Job.source`` of the jobs this dialect creates: it renders their webhook bodies."""

TASKS = JobScope(SOURCE, frozenset({JobKind.TEXT}))
"""What ``GET /`` and ``GET /{id}/`` see: the text tasks this API created, nothing else."""
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


def render_error(error: CreatixError, request_id: str | None) -> Response:
    """Creatify's envelope, the asset generator's: ``{"error", "detail"}``, plus ``field`` and
    ``fields`` (every failing field) for a 400 and ``request_id`` for a 5xx."""
    return asset_generator.render_error(error, request_id)


router = APIRouter(
    prefix="/api/text_generator", tags=["Text generator"], route_class=dialect_route(render_error)
)


# -- the task, as POST, GET, the list and the webhook show it --------------------------------

STATUSES: dict[JobStatus, TaskStatus] = {
    JobStatus.QUEUED: "pending",
    JobStatus.RUNNING: "running",
    JobStatus.SUCCEEDED: "done",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELED: "failed",
}


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _failed_reason(job: Job) -> str | None:
    # A job requeued after a retryable error keeps that error while it waits: only a job
    # that ended failed or canceled has a reason.
    if STATUSES[job.status] != "failed":
        return None
    if job.error is not None and job.error.message:
        return job.error.message
    if job.status is JobStatus.CANCELED:
        return "The task was canceled."
    return "The task failed."


def _credits_used(job: Job) -> float:
    if job.status.is_terminal and job.credits_charged is not None:
        return float(job.credits_charged)
    return 0.0


def _config(config: TextConfig) -> TaskConfig:
    return TaskConfig.model_validate(config.model_dump())


def task(job: Job) -> TextTask:
    """A text job as this API shows it."""
    spec = job.text_spec
    moments = [job.created_at, job.started_at, job.finished_at]
    return TextTask(
        id=job.id,
        model_name=job.model,
        messages=[Message(role=turn.role, content=turn.content) for turn in spec.messages],
        config=_config(spec.config),
        created_at=_utc(job.created_at),
        updated_at=max(_utc(moment) for moment in moments if moment is not None),
        system_instruction=spec.system_instruction,
        status=STATUSES[job.status],
        response_text=(
            job.text.text if job.status is JobStatus.SUCCEEDED and job.text is not None else None
        ),
        failed_reason=_failed_reason(job),
        credits_used=_credits_used(job),
        provenance=_provenance(job),
    )


def _provenance(job: Job) -> TextProvenance | None:
    if job.status is not JobStatus.SUCCEEDED or job.text is None or job.finished_at is None:
        return None
    return TextProvenance(
        model=job.model,
        job_id=job.id,
        created_at=_utc(job.finished_at),
        digest=f"sha256:{text_digest(job.text.text)}",
    )


def webhook_body(job: Job, url_for: payloads.UrlFor) -> dict[str, Any]:
    """What a finished task's ``webhook_url`` receives: the task as ``GET /{id}/`` shows it."""
    return task(job).model_dump(mode="json")


payloads.register(SOURCE, webhook_body)


# -- create a task ---------------------------------------------------------------------------


def text_models(catalog: Catalog) -> list[ModelEntry]:
    """The models this API serves: the catalog's text models, in its order."""
    return [m for m in catalog.models if m.kind == JobKind.TEXT]


async def _json_object(request: Request) -> dict[str, Any]:
    require_json(request)
    try:
        body = await read_json(request)
    except InvalidText as exc:
        raise InvalidFields({exc.param or "body": exc.problem}) from None
    if not isinstance(body, dict):
        raise InvalidRequest(
            "Send a JSON object with model_name and messages, and optionally "
            "system_instruction, config and webhook_url.",
            code="invalid_body",
        )
    return body


def _about(param: str, message: str) -> str:
    """What a message says about ``param``, without the name it may start with."""
    return message.removeprefix(param).lstrip(": ") if message.startswith(param) else message


async def _url_problem(url: str, param: str, runtime: Runtime) -> str | None:
    """Why the SSRF guard refuses ``url``, if it does."""
    try:
        await check_url(url, param=param, allow_private=runtime.settings.allow_private_urls)
    except UnsafeUrl as exc:
        return _about(param, exc.message)
    return None


def _model_problem(model_name: str, models: dict[str, ModelEntry]) -> str | None:
    if model_name in models:
        return None
    known = ", ".join(models) or "none on this server"
    return f"'{model_name}' is not a text model of this API; models: {known}."


async def _checked(body: dict[str, Any], runtime: Runtime) -> tuple[ModelEntry, TextSpec]:
    """The model and the spec the body asks for; ``InvalidFields`` naming every failing
    field otherwise."""
    fields = request_errors(body)
    models = {m.id: m for m in text_models(runtime.catalog)}
    model_name = body.get("model_name")
    entry = None
    if "model_name" not in fields and isinstance(model_name, str):
        problem = _model_problem(model_name, models)
        if problem is not None:
            fields["model_name"] = problem
        else:
            entry = models[model_name]
    config = body.get("config")
    if isinstance(config, dict) and "config" not in fields:
        for name, problem in _config_problems(config, entry).items():
            fields.setdefault(name, problem)
    webhook_url = body.get("webhook_url")
    if isinstance(webhook_url, str) and webhook_url and "webhook_url" not in fields:
        problem = await _url_problem(webhook_url, "webhook_url", runtime)
        if problem is not None:
            fields["webhook_url"] = problem
    if fields:
        raise InvalidFields(dict(sorted(fields.items(), key=lambda item: field_rank(item[0]))))
    assert entry is not None
    return entry, _spec(body)


def _config_problems(config: dict[str, Any], entry: ModelEntry | None) -> dict[str, str]:
    """What the schema cannot say about ``config``; a setting the schema refused (it is named
    already) is looked at no further."""
    found: dict[str, str] = {}
    most = config.get("max_output_tokens")
    if entry is not None and isinstance(most, int | float) and most > entry.max_output_tokens:
        found["config.max_output_tokens"] = (
            f"must be at most {entry.max_output_tokens} for {entry.id}; got {most}."
        )
    schema = config.get("response_json_schema")
    mime = config.get("response_mime_type") or "text/plain"
    if isinstance(schema, dict) and mime in MIME_TYPES:
        if mime != JSON_MIME:
            found["config.response_json_schema"] = (
                f'needs "response_mime_type": "application/json" (it is {json.dumps(mime)}).'
            )
        elif patterns := response_schema_pattern_problems(schema):
            found.update(patterns)
        else:
            problem = invalid_schema(schema)
            if problem is not None:
                found["config.response_json_schema"] = problem
    return found


_INTEGERS = frozenset({"max_output_tokens", "top_k", "seed"})


def _spec(body: dict[str, Any]) -> TextSpec:
    """A body that passed ``_checked`` in canonical terms; null is the same as left out."""
    given = {
        name: (int(value) if name in _INTEGERS else value)
        for name, value in (body.get("config") or {}).items()
        if name in CONFIG_KEYS and value is not None
    }
    return TextSpec(
        messages=[ChatTurn(role=m["role"], content=m["content"]) for m in body["messages"]],
        system_instruction=body.get("system_instruction") or "",
        config=TextConfig(**given),
    )


_CORE_PARAMS = {"model": "model_name"}


def _location(job: Job) -> str:
    return f"{router.prefix}/{job.id}/"


_REQUEST_BODY_SCHEMA = {key: value for key, value in REQUEST_SCHEMA.items() if key != "$schema"}


@router.post(
    "/",
    status_code=201,
    responses=error_responses(AssetGeneratorError, CREATE),
    openapi_extra=create_docs(
        {
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _REQUEST_BODY_SCHEMA}},
            }
        },
        {  # the reference's example request, its placeholders filled in
            "model_name": "gemini-2.5-flash",
            "messages": [
                {"role": "user", "content": "Write a headline for a summer sale on sneakers."}
            ],
            "system_instruction": "",
            "config": {
                "temperature": 0.7,
                "max_output_tokens": 256,
                "response_mime_type": "text/plain",
            },
        },
    ),
)
async def create_task(
    principal: ApiIdPrincipal, runtime: RuntimeDep, request: Request, response: Response
) -> TextTask:
    """Queue a text generation; the answer is the task as ``GET /{id}/`` shows it (201)."""
    body = await _json_object(request)
    entry, spec = await _checked(body, runtime)
    idempotency = idempotency_key(request, body)
    webhook_url = body.get("webhook_url") or None
    try:
        job = await runtime.jobs.intake.submit_text(
            principal,
            entry.id,
            spec,
            source=SOURCE,
            webhook_url=webhook_url,
            idempotency=idempotency,
        )
    except InvalidRequest as exc:
        exc.param = _CORE_PARAMS.get(exc.param or "", exc.param)
        raise
    response.headers["Location"] = _location(job)
    return task(job)


router.add_api_route("", create_task, methods=["POST"], status_code=201, include_in_schema=False)


# -- the tasks -------------------------------------------------------------------------------


def _page_url(request: Request, runtime: Runtime, page: int) -> str:
    base = (runtime.settings.public_url or str(request.base_url)).rstrip("/")
    query = request.url.include_query_params(page=page).query
    return f"{base}{request.url.path}?{query}"


@router.get("/", responses=error_responses(AssetGeneratorError, READ))
async def list_tasks(
    principal: ApiIdPrincipal,
    runtime: RuntimeDep,
    request: Request,
    page: Annotated[
        int, Query(ge=1, le=MAX_OFFSET, description="The page, from 1; a 64-bit integer.")
    ] = 1,
    limit: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description="Tasks per page, 1 to 100.")
    ] = DEFAULT_PAGE_SIZE,
) -> TextTaskPage:
    """The caller's text tasks, newest first, a page at a time."""
    offset = (page - 1) * limit  # past MAX_OFFSET for the last pages: those are empty
    jobs = await runtime.jobs.list_jobs(principal.account_id, TASKS, limit=limit, offset=offset)
    count = await runtime.jobs.count_jobs(principal.account_id, TASKS)
    return TextTaskPage(
        count=count,
        next=_page_url(request, runtime, page + 1) if offset + len(jobs) < count else None,
        previous=_page_url(request, runtime, min(page - 1, _last_page(count, limit)))
        if page > 1
        else None,
        results=[task(job) for job in jobs],
    )


def _last_page(count: int, limit: int) -> int:
    return max(1, -(-count // limit))


router.add_api_route("", list_tasks, methods=["GET"], include_in_schema=False)


@router.get("/{task_id}/", responses=error_responses(AssetGeneratorError, LOOKUP))
async def get_task(
    task_id: Annotated[str, Path(description="The id the create returned.")],
    principal: ApiIdPrincipal,
    runtime: RuntimeDep,
) -> TextTask:
    """The task's status and, once it is done, the model's answer."""
    try:
        job = await runtime.jobs.get(task_id, principal.account_id, scope=TASKS)
    except NotFound:
        raise NotFound(f"No task found with id '{task_id}'.", param="id") from None
    return task(job)


router.add_api_route("/{task_id}", get_task, methods=["GET"], include_in_schema=False)
