"""``/files/...``: downloads of stored outputs through signed, expiring links."""

from __future__ import annotations

import mimetypes
import time
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from creatix.api.deps import RuntimeDep
from creatix.api.routing import dialect_route
from creatix.kit.errors import CreatixError, Forbidden, NotFound
from creatix.storage.base import ObjectNotFound


def render_error(error: CreatixError, request_id: str | None) -> Response:
    body = {"message": error.message, "code": error.code, "request_id": request_id}
    return JSONResponse({"error": body}, status_code=error.status, headers=error.headers)


router = APIRouter(tags=["Files"], route_class=dialect_route(render_error))


@router.get("/files/{key:path}")
async def download(
    key: str,
    runtime: RuntimeDep,
    expires: Annotated[int, Query()],
    signature: Annotated[str, Query(max_length=100)],
) -> Response:
    """A stored output, if the link's signature is valid and it has not expired."""
    if not runtime.signer.verify(key, expires, signature):
        raise Forbidden("This link is invalid or has expired.", code="invalid_signature")
    try:
        data = await runtime.storage.get(key)
    except ObjectNotFound as exc:
        raise NotFound("No such file.") from exc
    media_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
    return Response(
        data,
        media_type=media_type,
        headers={"Cache-Control": f"private, max-age={max(0, expires - int(time.time()))}"},
    )
