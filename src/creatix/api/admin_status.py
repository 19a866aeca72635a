"""The platform's state for operators: the catalog's models with their engines' availability
(``GET /api/admin/models``), its plans (``GET /api/admin/plans``) and the queue's health
(``GET /api/admin/queue``). Who may call
is ``api/actors.py``'s ``Operator``; errors are the platform's shape."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter
from pydantic import BaseModel, Field

from creatix.api.actors import Operator
from creatix.api.deps import RuntimeDep
from creatix.api.openapi_docs import MANAGE, error_responses
from creatix.api.platform import render_error
from creatix.api.platform_schemas import PlatformError
from creatix.api.routing import dialect_route
from creatix.catalog.schemas import Quota
from creatix.jobs import health
from creatix.runtime import ListedModel

router = APIRouter(prefix="/api/admin", tags=["Admin"], route_class=dialect_route(render_error))


class AdminModel(BaseModel):
    id: str
    kind: str
    display_name: str
    engine: str = Field(description="The catalog's engine instance of its first route.")
    engine_type: str = Field(description="preview, diffusers, openai, fal, replicate, gemini…")
    available: bool
    unavailable_reason: str | None = Field(description="Why it cannot be served, when it cannot.")


class AdminModelList(BaseModel):
    data: list[AdminModel]


class AdminPlan(BaseModel):
    id: str
    default: bool = Field(description="New accounts get it unless another is named.")
    quota: Quota | None = Field(description="Images per day or month; null: no quota.")
    requests_per_minute: int
    priority: int = Field(description="Queued jobs of higher-priority plans are claimed first.")
    content_policy: str | None = Field(description="null: the catalog's default policy.")


class AdminPlanList(BaseModel):
    data: list[AdminPlan]


class WorkerInfo(BaseModel):
    id: str
    hostname: str
    models: list[str] | None = Field(description="The models it runs; null: every model.")
    concurrency: int
    started_at: datetime
    last_seen_at: datetime


class QueueHealthInfo(BaseModel):
    queued: int = Field(description="Jobs waiting for a worker.")
    running: int = Field(description="Jobs a worker holds.")
    oldest_queued_at: datetime | None
    oldest_queued_seconds: float | None = Field(description="How long the oldest has waited.")
    workers: list[WorkerInfo] = Field(
        description="Workers seen alive lately (each says so every half lease)."
    )


def _model(listed: ListedModel) -> AdminModel:
    return AdminModel(
        id=listed.entry.id,
        kind=listed.entry.kind,
        display_name=listed.entry.display_name,
        engine=listed.entry.engine,
        engine_type=listed.engine.type,
        available=listed.engine.available,
        unavailable_reason=listed.engine.reason,
    )


@router.get("/models", responses=error_responses(PlatformError, MANAGE))
async def list_models(_actor: Operator, runtime: RuntimeDep) -> AdminModelList:
    """Every model of the catalog, of every kind, with its engine and whether that engine can
    serve it (and why not)."""
    return AdminModelList(data=[_model(listed) for listed in runtime.models()])


@router.get("/plans", responses=error_responses(PlatformError, MANAGE))
async def list_plans(_actor: Operator, runtime: RuntimeDep) -> AdminPlanList:
    """The catalog's plans, in its order, with their quotas and limits."""
    catalog = runtime.catalog
    return AdminPlanList(
        data=[
            AdminPlan(
                id=plan.id,
                default=plan.id == catalog.default_plan,
                quota=plan.quota,
                requests_per_minute=plan.requests_per_minute,
                priority=plan.priority,
                content_policy=plan.content_policy,
            )
            for plan in catalog.plans
        ]
    )


@router.get("/queue", responses=error_responses(PlatformError, MANAGE))
async def queue_health(_actor: Operator, runtime: RuntimeDep) -> QueueHealthInfo:
    """The queue: jobs waiting and running, how long the oldest has waited, and the workers
    seen alive within two leases."""
    window = timedelta(seconds=max(60.0, 2 * runtime.settings.lease_seconds))
    found = await health.queue_health(runtime.db, window)
    return QueueHealthInfo(
        queued=found.queued,
        running=found.running,
        oldest_queued_at=found.oldest_queued_at,
        oldest_queued_seconds=found.oldest_queued_seconds,
        workers=[WorkerInfo(**worker.__dict__) for worker in found.workers],
    )
