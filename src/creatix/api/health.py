"""``/healthz``: the process answers and its database is reachable."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from creatix.api.deps import RuntimeDep

router = APIRouter(tags=["Health"])


@router.get("/healthz")
async def healthz(runtime: RuntimeDep) -> JSONResponse:
    try:
        await runtime.db.read(lambda session: session.execute(text("SELECT 1")))
    except Exception:
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, 503)
    return JSONResponse({"status": "ok"})
