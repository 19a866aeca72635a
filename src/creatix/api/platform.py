"""The platform API (``/api/platform/...``), as adcreator-platform.txt documents it.

So far: ``GET /api/platform/credits``. The reference gives no error body; this dialect answers
``{"error": {"code", "message"}}`` with the HTTP status, and ``request_id`` for 5xx.
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from creatix.api.deps import BearerPrincipal, RuntimeDep
from creatix.api.routing import dialect_route
from creatix.billing import service as billing
from creatix.kit.errors import CreatixError


def render_error(error: CreatixError, request_id: str | None) -> Response:
    body: dict[str, object] = {"code": error.code, "message": error.message}
    if error.status >= 500:
        body["request_id"] = request_id
    return JSONResponse({"error": body}, status_code=error.status, headers=error.headers)


router = APIRouter(
    prefix="/api/platform", tags=["Platform"], route_class=dialect_route(render_error)
)


class Credits(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    balance: int
    lifetime_purchased: int
    lifetime_used: int
    unlimited: bool


@router.get("/credits", response_model_by_alias=True)
async def credits(principal: BearerPrincipal, runtime: RuntimeDep) -> Credits:
    """The caller's credit balance and lifetime usage."""
    totals = await billing.credits_of(runtime.db, principal.account_id)
    return Credits(
        balance=totals.balance,
        lifetime_purchased=totals.lifetime_purchased,
        lifetime_used=totals.lifetime_used,
        unlimited=principal.unlimited,
    )
