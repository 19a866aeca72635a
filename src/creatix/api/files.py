"""``/files/...``: downloads of stored outputs through signed, expiring links.

Every file is streamed from storage in chunks (``Storage.open_range``), never held whole in
memory, and answers HTTP range requests (RFC 9110 §14) so a browser can seek in a video.
"""

from __future__ import annotations

import mimetypes
import re
import time
from collections.abc import AsyncIterator
from pathlib import PurePosixPath
from typing import Annotated

import anyio
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel
from starlette.types import Receive, Scope, Send

from creatix.api.deps import RuntimeDep
from creatix.api.openapi_docs import error_responses
from creatix.api.routing import dialect_route
from creatix.kit.errors import CreatixError, Forbidden, NotFound
from creatix.storage.base import ObjectNotFound

# Explicit, so the answer does not depend on the host's mime.types.
MEDIA_TYPES = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".webm": "video/webm",
    ".mov": "video/quicktime",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".gif": "image/gif",
}

# One range-spec: ``first-last``, ``first-`` or ``-suffix`` (RFC 9110 §14.1.1). The unit is
# compared case-insensitively; a header holding a list of ranges does not match.
_SINGLE_RANGE = re.compile(r"bytes=[ \t]*([0-9]{0,50})[ \t]*-[ \t]*([0-9]{0,50})[ \t]*", re.I)


class RangeNotSatisfiable(CreatixError):
    status = 416
    default_code = "range_not_satisfiable"


class FilesErrorDetail(BaseModel):
    message: str
    code: str
    request_id: str | None


class FilesError(BaseModel):
    """The error body of ``/files``, as ``render_error`` draws it."""

    error: FilesErrorDetail


def render_error(error: CreatixError, request_id: str | None) -> Response:
    body = {"message": error.message, "code": error.code, "request_id": request_id}
    return JSONResponse({"error": body}, status_code=error.status, headers=error.headers)


router = APIRouter(tags=["Files"], route_class=dialect_route(render_error))


def media_type_of(key: str) -> str:
    suffix = PurePosixPath(key).suffix.lower()
    return MEDIA_TYPES.get(suffix) or mimetypes.guess_type(key)[0] or "application/octet-stream"


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive ``(start, end)`` a ``Range`` header asks of ``size`` bytes, or None
    for the whole file.

    RFC 9110 lets a server ignore a Range header it will not serve, so a malformed one, a
    unit other than bytes and a list of several ranges are all ignored (the whole file,
    200). A single range that is invalid (``last < first``) or selects nothing of the file
    (``first >= size``, or a suffix of 0 bytes) raises ``RangeNotSatisfiable`` (416).
    """
    if header is None:
        return None
    match = _SINGLE_RANGE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first:
        if not last:
            return None  # "bytes=-"
        suffix = int(last)
        if suffix == 0:
            raise _unsatisfiable(size)
        if size == 0:
            return None  # a non-empty suffix of nothing: the whole (empty) file
        return max(0, size - suffix), size - 1
    start = int(first)
    end = size - 1 if not last else min(int(last), size - 1)
    if start >= size or (last and int(last) < start):
        raise _unsatisfiable(size)
    return start, end


def _unsatisfiable(size: int) -> RangeNotSatisfiable:
    return RangeNotSatisfiable(
        "The requested range is not satisfiable.",
        headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"},
    )


class _ObjectStream(StreamingResponse):
    """Streams chunks already primed from storage; closes the storage stream however the
    response ends, a client that goes away mid-video included, so no file or connection is
    left open until garbage collection."""

    def __init__(
        self,
        first: bytes,
        rest: AsyncIterator[bytes],
        status_code: int,
        headers: dict[str, str],
    ) -> None:
        self._rest = rest
        super().__init__(self._chunks(first, rest), status_code=status_code, headers=headers)

    @staticmethod
    async def _chunks(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        if first:
            yield first
        async for chunk in rest:
            yield chunk

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            aclose = getattr(self._rest, "aclose", None)
            if aclose is not None:
                with anyio.CancelScope(shield=True):
                    await aclose()


# GET and HEAD: two routes on one function, so OpenAPI does not see one operation id twice.
@router.head("/files/{key:path}", include_in_schema=False)
@router.get(
    "/files/{key:path}",
    responses={
        200: {
            "description": "The file, its Content-Type by its name (image/png, video/mp4, …).",
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        },
        206: {"description": "The byte range asked for, with Content-Range."},
        **error_responses(FilesError, (400, 403, 404, 416)),
    },
)
async def download(
    key: str,
    request: Request,
    runtime: RuntimeDep,
    expires: Annotated[int, Query()],
    signature: Annotated[str, Query(max_length=100)],
) -> Response:
    """A stored output, if the link's signature is valid and it has not expired, streamed.

    A single byte range (``Range: bytes=first-last``, ``bytes=first-``, ``bytes=-suffix``)
    is answered 206 with ``Content-Range``; a range that selects nothing of the file 416
    with ``Content-Range: bytes */size``. A malformed Range header, or one asking for
    several ranges, is ignored and the whole file sent (200), as RFC 9110 §14.2 allows. So
    is any Range with an ``If-Range``: these responses carry no validator, so the client's
    cannot be confirmed to match (§13.1.5). HEAD answers a GET's headers without a body; a
    Range header is then ignored, since range handling is defined only for GET (§14.2).
    """
    if not runtime.signer.verify(key, expires, signature):
        raise Forbidden("This link is invalid or has expired.", code="invalid_signature")
    storage = runtime.storage
    try:
        size = await storage.size(key)
    except ObjectNotFound as exc:
        raise NotFound("No such file.") from exc
    headers = {
        "Accept-Ranges": "bytes",
        "Cache-Control": f"private, max-age={max(0, expires - int(time.time()))}",
        "Content-Type": media_type_of(key),
    }
    wanted = None
    if request.method == "GET" and "if-range" not in request.headers:
        wanted = byte_range(request.headers.get("range"), size)
    start, end = wanted or (0, size - 1)
    headers["Content-Length"] = str(end - start + 1)
    status = 200
    if wanted is not None:
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers)
    chunks = storage.open_range(key, start, end if size else None)
    try:
        # The first chunk before the headers: an object gone since ``size`` is still a 404.
        first = await anext(chunks, b"")
    except ObjectNotFound as exc:
        raise NotFound("No such file.") from exc
    return _ObjectStream(first, chunks, status, headers)
