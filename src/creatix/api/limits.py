"""Bounds on what a request may carry, enforced before any route reads it.

``RequestLimitsMiddleware`` is pure ASGI (the body is never buffered here):

- The body: each path has a ``BodyLimit`` (the JSON default, or a route's own, e.g. uploads;
  a route's path may hold ``{parameter}`` segments, each matching one path segment).
  A declared ``Content-Length`` over it is answered 413 at once, without reading a byte; a
  body without one (chunked) is counted as the route reads it, and the read that passes the
  limit raises ``ContentTooLarge``, so nothing past the limit is ever held. The 413 is
  rendered by the dialect whose path prefix the request falls under.
- A response to a request whose body was left unread (a 401 before the body, a 413) says
  ``Connection: close``: the server drops the connection instead of draining an unwanted
  body, however large.
- The URL's text: a query parameter that is not UTF-8 or holds a NUL, or a path holding a
  NUL, is a 400 naming the parameter; no route sees it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from creatix.api.bodies import InvalidText, text_problem
from creatix.api.routing import PathRenderers, renderer_for
from creatix.kit.errors import ContentTooLarge, CreatixError, InvalidRequest
from creatix.kit.logging import request_id_var


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.3g} MB"


@dataclass(frozen=True)
class BodyLimit:
    """The most bytes a route's request body may have, and how exceeding it is told."""

    max_bytes: int
    code: str = "request_too_large"
    param: str | None = None
    what: str = "The request body"

    def refusal(self) -> ContentTooLarge:
        return ContentTooLarge(
            f"{self.what} is larger than {self.max_bytes:,} bytes "
            f"({_megabytes(self.max_bytes)}); send at most that much.",
            code=self.code,
            param=self.param,
        )


class _MeteredBody:
    """The request's ``receive``, counting body bytes against ``limit``."""

    def __init__(self, receive: Receive, limit: BodyLimit, headers: Headers) -> None:
        self._receive = receive
        self._limit = limit
        self._received = 0
        length = headers.get("content-length", "0").strip()
        self.expected = "transfer-encoding" in headers or (length.isdigit() and int(length) > 0)
        self.finished = not self.expected

    async def receive(self) -> Message:
        if self._received > self._limit.max_bytes:
            raise self._limit.refusal()
        message = await self._receive()
        if message["type"] == "http.request":
            self._received += len(message.get("body", b""))
            if not message.get("more_body", False):
                self.finished = True
            if self._received > self._limit.max_bytes:
                raise self._limit.refusal()
        elif message["type"] == "http.disconnect":
            self.finished = True
        return message


def _declared_length(headers: Headers) -> int | None:
    value = headers.get("content-length", "").strip()
    return int(value) if value.isdigit() else None


def _decoded(raw: bytes) -> str | None:
    try:
        return unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return None


def url_problem(scope: Scope) -> InvalidRequest | None:
    """Why the request's path or query is not text a route can take, if it is not."""
    if "\x00" in scope["path"]:
        return InvalidRequest("The path contains a NUL character.", code="invalid_path")
    query: bytes = scope.get("query_string", b"")
    for pair in query.split(b"&"):
        raw_name, _, raw_value = pair.partition(b"=")
        name = _decoded(raw_name)
        if name is None or text_problem(name) is not None:
            return InvalidRequest(
                "A query parameter's name is not UTF-8 text without NUL characters.",
                code="invalid_value",
            )
        value = _decoded(raw_value)
        if value is None:
            return InvalidText(name, "is not UTF-8 once its %-escapes are decoded.")
        problem = text_problem(value)
        if problem is not None:
            return InvalidText(name, problem)
    return None


def _bare(error: CreatixError, request_id: str | None) -> Response:
    """Outside every dialect: FastAPI's own shape."""
    return JSONResponse({"detail": error.message}, status_code=error.status)


def _template(path: str) -> re.Pattern[str]:
    """A route path whose ``{parameter}`` segments match any one path segment."""
    return re.compile(
        "/".join(
            "[^/]+" if part.startswith("{") and part.endswith("}") else re.escape(part)
            for part in path.split("/")
        )
    )


class RequestLimitsMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        default: BodyLimit,
        routes: dict[str, BodyLimit],
        renderers: PathRenderers,
    ) -> None:
        self.app = app
        self.default = default
        self.routes: dict[str, BodyLimit] = {}
        self.templates: list[tuple[re.Pattern[str], BodyLimit]] = []
        for path, limit in routes.items():
            if "{" in path:
                self.templates.append((_template(path.rstrip("/")), limit))
            else:
                self.routes[path.rstrip("/")] = limit
        self.renderers = renderers

    def limit_for(self, path: str) -> BodyLimit:
        path = path.rstrip("/")
        found = self.routes.get(path)
        if found is not None:
            return found
        for template, limit in self.templates:
            if template.fullmatch(path):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        limit = self.limit_for(scope["path"])
        body = _MeteredBody(receive, limit, headers)
        started = False

        async def send_closing(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if not body.finished:
                    MutableHeaders(scope=message)["Connection"] = "close"
            await send(message)

        refused: CreatixError | None = url_problem(scope)
        declared = _declared_length(headers)
        if refused is None and declared is not None and declared > limit.max_bytes:
            refused = limit.refusal()
        if refused is None:
            try:
                await self.app(scope, body.receive, send_closing)
                return
            except ContentTooLarge as exc:
                if started:
                    raise
                refused = exc
        render = renderer_for(self.renderers, scope["path"]) or _bare
        response = render(refused, request_id_var.get())
        await response(scope, body.receive, send_closing)
