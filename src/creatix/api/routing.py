"""Each dialect renders errors in its own envelope; this route class routes them there.

A dialect's router is built with ``route_class=dialect_route(render)``: every ``CreatixError``,
every request validation error and every unexpected exception raised while handling one of
its routes reaches ``render``. Unexpected exceptions are logged with the request id and become
a 500 that says nothing of the internals.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

from fastapi import Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException

from creatix.kit.errors import (
    CreatixError,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    Unavailable,
)
from creatix.kit.logging import request_id_var

log = logging.getLogger(__name__)

ErrorRenderer = Callable[[CreatixError, str | None], Response]


def _param(loc: Sequence[Any]) -> str | None:
    path = [str(part) for part in loc[1:]] if loc and loc[0] in ("body", "query") else []
    return ".".join(path) or None


def invalid_request(errors: Sequence[Mapping[str, Any]]) -> InvalidRequest:
    """The first of pydantic's validation errors (``loc`` starting with ``body`` or
    ``query``), as a 400 naming the offending field."""
    first = errors[0]
    kind, loc, msg = first["type"], tuple(first["loc"]), first["msg"]
    param = _param(loc)
    if kind == "json_invalid":
        return InvalidRequest(
            "We could not parse the JSON body of your request.", code="invalid_json"
        )
    if param is None and kind == "missing":
        return InvalidRequest("The request body is empty; send a JSON object.", code="missing_body")
    if param is None:
        return InvalidRequest("The request body must be a JSON object.", code="invalid_body")
    if kind == "missing":
        return InvalidRequest(
            f"Missing required parameter: '{param}'.", param=param, code="missing_parameter"
        )
    if kind == "extra_forbidden":
        return InvalidRequest(
            f"Unrecognized request argument supplied: '{param}'.",
            param=param,
            code="unknown_parameter",
        )
    return InvalidRequest(f"Invalid value for '{param}': {msg}.", param=param, code="invalid_value")


def _internal_error() -> CreatixError:
    return CreatixError("The server had an error while processing your request.")


def dialect_route(render: ErrorRenderer) -> type[APIRoute]:
    class DialectRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def guarded(request: Request) -> Response:
                try:
                    return await handler(request)
                except CreatixError as exc:
                    error = exc
                    if exc.status >= 500:
                        log.error("request failed: %s", exc.message, extra={"code": exc.code})
                except RequestValidationError as exc:
                    error = invalid_request(exc.errors())
                except (OperationalError, InterfaceError) as exc:
                    # The database is gone (restarting, unreachable): nothing was written
                    # half-way (transactions roll back); the client may try again.
                    log.warning("database unavailable", extra={"error": type(exc).__name__})
                    error = Unavailable(
                        "The service's database is unavailable; try again shortly.",
                        headers={"Retry-After": "5"},
                    )
                except HTTPException as exc:
                    # FastAPI wraps what reading a declared body parameter raised (the body
                    # limit's 413) in a 400 of its own.
                    if isinstance(exc.__cause__, CreatixError):
                        error = exc.__cause__
                    else:
                        log.exception("unhandled error", extra={"path": request.url.path})
                        error = _internal_error()
                except Exception:
                    log.exception("unhandled error", extra={"path": request.url.path})
                    error = _internal_error()
                return render(error, request_id_var.get())

            return guarded

    return DialectRoute


PathRenderers = Sequence[tuple[str, ErrorRenderer]]
"""Each dialect's path prefix and its renderer."""


def renderer_for(renderers: PathRenderers, path: str) -> ErrorRenderer | None:
    """The renderer of the dialect whose path prefix ``path`` falls under (the longest
    matching prefix wins); None outside every dialect."""
    matching = [(prefix, render) for prefix, render in renderers if path.startswith(prefix)]
    return max(matching, key=lambda pair: len(pair[0]))[1] if matching else None


def unrouted_error_handler(
    renderers: PathRenderers,
) -> Callable[[Request, Exception], Coroutine[Any, Any, Response]]:
    """Render 404 and 405 for paths no route matched in the envelope of the dialect whose
    path prefix they fall under."""

    async def handle(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, HTTPException):
            raise exc
        path = request.url.path
        render = renderer_for(renderers, path)
        if render is None or exc.status_code not in (404, 405):
            return await http_exception_handler(request, exc)
        error: CreatixError
        if exc.status_code == 404:
            error = NotFound(f"Unknown path: {request.method} {path}", code="unknown_url")
        else:
            error = MethodNotAllowed(f"{request.method} is not allowed on {path}")
        response = render(error, request_id_var.get())
        response.headers.update(exc.headers or {})
        return response

    return handle


def model_response(model: BaseModel, headers_from: Response, status_code: int = 200) -> Response:
    """``model`` as JSON by pydantic's own serializer, with the headers set on ``headers_from``.

    Returning a Response skips FastAPI's re-validation and Python-side encoding of the model,
    which for a response carrying base64 images costs more than the rest of the rendering; the
    route still declares ``response_model`` so the OpenAPI schema is unchanged.
    """
    return Response(
        model.model_dump_json(),
        status_code=status_code,
        media_type="application/json",
        headers=dict(headers_from.headers),
    )
