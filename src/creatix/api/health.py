"""Probes and metrics for the operator; none needs a key.

- ``/healthz``: the process answers and its database is reachable.
- ``/readyz``: every dependency answers within ``READY_TIMEOUT_SECONDS``: the database (a
  ``SELECT 1``), storage (``Storage.check``) and Redis when the rate limiter counts there; a
  503 names the failing check with a short error (credentials in URLs redacted).
- ``/metrics``: the runtime's Prometheus metrics in the text exposition format, the queue
  gauges read from the jobs table at the scrape (``metrics_enabled`` turns it off).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.exceptions import HTTPException

from creatix.api.deps import RuntimeDep
from creatix.jobs import repository
from creatix.jobs.specs import JobKind
from creatix.kit.clock import utcnow
from creatix.kit.metrics import CONTENT_TYPE
from creatix.runtime import Runtime

log = logging.getLogger(__name__)
router = APIRouter(tags=["Health"])

READY_TIMEOUT_SECONDS = 2.0
"""How long each readiness check may take before it counts as failed."""
NOT_CONFIGURED = "not configured"
_URL_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")
_PASSWORD_PARAMETER = re.compile(r"(password|passwd|pwd)=\S+", re.IGNORECASE)
_MAX_ERROR_CHARS = 200


_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"description": "Not ready: a check failed (named in the body)."}
}


@router.get("/healthz", responses=_UNAVAILABLE)
async def healthz(runtime: RuntimeDep) -> JSONResponse:
    try:
        await runtime.db.read(lambda session: session.execute(text("SELECT 1")))
    except Exception:
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, 503)
    return JSONResponse({"status": "ok"})


@router.get("/readyz", responses=_UNAVAILABLE)
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    async def database() -> None:
        await runtime.db.read(lambda session: session.execute(text("SELECT 1")))

    redis = _redis_probe(runtime)
    database_check, storage_check, redis_check = await asyncio.gather(
        _check("database", database),
        _check("storage", runtime.storage.check),
        _check("redis", redis) if redis is not None else _not_configured(),
    )
    checks = {"database": database_check, "storage": storage_check, "redis": redis_check}
    ready = all(result in ("ok", NOT_CONFIGURED) for result in checks.values())
    body = {"status": "ready" if ready else "not ready", "checks": checks}
    return JSONResponse(body, 200 if ready else 503)


@router.get(
    "/metrics",
    responses={
        200: {"description": "Prometheus' text format.", "content": {CONTENT_TYPE: {}}},
        404: {"description": "Metrics are turned off (CREATIX_METRICS_ENABLED)."},
    },
)
async def metrics(runtime: RuntimeDep) -> Response:
    if not runtime.settings.metrics_enabled:
        raise HTTPException(404)
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            queued = await runtime.db.read(repository.queued_by_kind)
    except Exception:
        log.warning("reading the queue for /metrics failed", exc_info=True)
        runtime.metrics.clear_queue()
    else:
        runtime.metrics.set_queue([kind.value for kind in JobKind], queued, utcnow())
    return Response(runtime.metrics.exposition(), media_type=CONTENT_TYPE)


def _redis_probe(runtime: Runtime) -> Callable[[], Awaitable[None]] | None:
    """A PING through the rate limiter's storage when it is Redis, else None."""
    scheme = runtime.settings.rate_limiter_uri.removeprefix("async+").split(":", 1)[0]
    if not scheme.startswith("redis"):
        return None
    limiter = runtime.rate_limiter

    async def ping() -> None:
        if not await limiter.check():
            raise ConnectionError("Redis did not answer PING")

    return ping


async def _check(name: str, probe: Callable[[], Awaitable[None]]) -> str:
    """``"ok"``, or why not in a few words fit for an unauthenticated response."""
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            await probe()
    except TimeoutError:
        log.warning("readiness check timed out", extra={"check": name})
        return f"timed out after {READY_TIMEOUT_SECONDS:g} s"
    except Exception as exc:
        log.warning("readiness check failed", extra={"check": name}, exc_info=True)
        return _short_error(exc)
    return "ok"


async def _not_configured() -> str:
    return NOT_CONFIGURED


def _short_error(exc: Exception) -> str:
    """The first line of the error's message, without credentials, at most 200 characters."""
    lines = str(exc).strip().splitlines()
    message = lines[0] if lines else type(exc).__name__
    message = _URL_CREDENTIALS.sub("***@", message)
    message = _PASSWORD_PARAMETER.sub(r"\1=***", message)
    return message[:_MAX_ERROR_CHARS]
