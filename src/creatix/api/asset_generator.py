"""The asset generator (``/api/asset_generator/...``), as creatify-asset-generator.txt has it."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from creatix.api.routing import dialect_route
from creatix.kit.errors import CreatixError


def render_error(error: CreatixError, request_id: str | None) -> Response:
    body: dict[str, object] = {"error": error.code, "detail": error.message}
    if error.param:
        body["field"] = error.param
    if error.status >= 500:
        body["request_id"] = request_id
    return JSONResponse(body, status_code=error.status, headers=error.headers)


router = APIRouter(
    prefix="/api/asset_generator", tags=["Asset generator"], route_class=dialect_route(render_error)
)
