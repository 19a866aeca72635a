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
        async with runtime.db.read() as session:
            await session.execute(text("SELECT 1"))
    except Exception:
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, 503)
    return JSONResponse({"status": "ok"})
