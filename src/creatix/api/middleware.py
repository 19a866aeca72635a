"""Gives every request an id (the caller's ``X-Request-ID`` if sane), logs its outcome and
counts it in the runtime's metrics by route template (never the raw path)."""

from __future__ import annotations

import logging
import re
import time

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from creatix.kit.ids import new_id
from creatix.kit.logging import request_id_var
from creatix.kit.metrics import UNMATCHED, Metrics

log = logging.getLogger("creatix.access")
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _route_of(scope: Scope) -> str:
    """The matched route's path template (the router leaves the route in the scope)."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else UNMATCHED


def _method_of(scope: Scope) -> str:
    """The method, or ``OTHER`` for made-up ones (a label's values must stay few)."""
    method: str = scope["method"]
    return method if method in _METHODS else "OTHER"


def _metrics_of(scope: Scope) -> Metrics | None:
    """The runtime's metrics; none before the lifespan has built the runtime."""
    runtime = getattr(getattr(scope.get("app"), "state", None), "runtime", None)
    metrics = getattr(runtime, "metrics", None)
    return metrics if isinstance(metrics, Metrics) else None


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _SANE_ID.match(given) else new_id("req", 20)
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append("X-Request-ID", request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            log.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                status,
                extra={"status": status, "ms": round(elapsed * 1000, 2)},
            )
            metrics = _metrics_of(scope)
            if metrics is not None:
                metrics.request_answered(_route_of(scope), _method_of(scope), status, elapsed)
            request_id_var.reset(token)
