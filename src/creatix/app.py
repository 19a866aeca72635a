"""The ASGI application: routers, middleware, and the runtime's life cycle."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware

from creatix import __version__
from creatix.api import (
    account,
    account_ad_sets,
    account_generations,
    account_uploads,
    account_usage,
    account_webhooks,
    admin,
    admin_policy,
    admin_status,
    artnex,
    asset_generator,
    brand_kits,
    creatix_v1,
    files,
    health,
    job_events,
    openapi_docs,
    people_routes,
    platform,
    provenance,
    session,
    text_generator,
    uploads,
)
from creatix.api.bodies import add_documented_bodies
from creatix.api.docs_pages import add_docs_pages
from creatix.api.limits import BodyLimit, RequestLimitsMiddleware
from creatix.api.middleware import RequestIdMiddleware
from creatix.api.routing import PathRenderers, unrouted_error_handler
from creatix.background import BackgroundWork
from creatix.config import Settings
from creatix.console.pages import add_console
from creatix.kit.migrate import upgrade_database
from creatix.runtime import Runtime

log = logging.getLogger(__name__)
CORS_EXPOSED_HEADERS = [
    "X-Request-ID",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "Retry-After",
    "X-Creatix-Engine",
    "X-Creatix-Job-Id",
    "X-Creatix-Credits-Charged",
    "Location",
]
"""Response headers a browser's script may read (others are hidden from it by CORS)."""

DIALECTS: PathRenderers = [
    ("/v1/", creatix_v1.render_error),
    ("/v1/generate", artnex.render_error),
    ("/v1/jobs/", creatix_v1.render_error),
    ("/files/", files.render_error),
    ("/api/platform/", platform.render_error),
    ("/api/account/", platform.render_error),
    ("/api/asset_generator/", asset_generator.render_error),
    ("/api/text_generator/", text_generator.render_error),
    ("/api/session", platform.render_error),
    ("/api/admin/", platform.render_error),
]
"""Each dialect's path prefix and the renderer of its errors (the longest prefix wins)."""


def create_app(
    settings: Settings | None = None,
    *,
    on_ready: Callable[[Runtime], None] | None = None,
    migrate: bool = True,
) -> FastAPI:
    """The app; ``migrate=False`` where the database was migrated before (``serve
    --workers``'s supervisor does it once for all its processes)."""
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if migrate:
            await asyncio.to_thread(upgrade_database, settings.resolved_database_url)
        runtime = Runtime.build(settings)
        app.state.runtime = runtime
        background = BackgroundWork(runtime, worker=settings.run_worker)
        background.start()
        if on_ready is not None:
            on_ready(runtime)
        try:
            yield
        finally:
            await background.stop(settings.drain_seconds)
            await runtime.close()

    app = FastAPI(
        title="Creatix",
        version=__version__,
        description="Self-hosted creative generation: images, videos and ad copy.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(
        RequestLimitsMiddleware,
        default=BodyLimit(settings.max_json_body_bytes),
        routes={
            uploads.PATH: uploads.body_limit(settings.max_upload_body_bytes),
            account_uploads.PATH: uploads.body_limit(settings.max_upload_body_bytes),
            provenance.PATH: provenance.body_limit(settings.max_upload_body_bytes),
        },
        renderers=DIALECTS,
    )
    app.add_middleware(RequestIdMiddleware)
    if settings.trusted_hosts:
        # Links are built on the Host header when CREATIX_PUBLIC_URL is unset: only these.
        app.add_middleware(
            TrustedHostMiddleware, allowed_hosts=settings.trusted_hosts, www_redirect=False
        )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["*"],
            expose_headers=CORS_EXPOSED_HEADERS,
        )
    app.include_router(health.router)
    app.include_router(artnex.router)
    app.include_router(creatix_v1.router)
    app.include_router(job_events.router)
    app.include_router(files.router)
    app.include_router(platform.router)
    app.include_router(uploads.router)
    app.include_router(brand_kits.router)
    app.include_router(account_ad_sets.router)  # both APIs' ad set routes, the account upload
    app.include_router(provenance.router)
    app.include_router(asset_generator.router)
    app.include_router(text_generator.router)
    app.include_router(session.router)
    app.include_router(people_routes.router)
    app.include_router(account.router)
    app.include_router(admin.router)
    app.include_router(account_usage.account_router)
    app.include_router(account_webhooks.router)
    app.include_router(account_generations.router)
    app.include_router(account_usage.admin_router)
    app.include_router(admin_policy.router)
    app.include_router(admin_status.router)
    app.add_exception_handler(StarletteHTTPException, unrouted_error_handler(DIALECTS))
    add_docs_pages(app)
    add_console(app)
    _complete_openapi(app)
    return app


def _complete_openapi(app: FastAPI) -> None:
    """Publish the request bodies of routes that read their body themselves
    (``bodies.documented_body``), then what ``api/openapi_docs.py`` adds: security, no
    FastAPI 422, an example request on every operation."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            add_documented_bodies(document)
            openapi_docs.complete(document)
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]
