"""``POST /api/platform/upload``: reference images for generation, in the platform dialect.

The image comes as ``multipart/form-data`` in the ``file`` field, or as the raw body with
``Content-Type: image/png``, ``image/jpeg`` or ``image/webp``. Either way no more than
``MAX_UPLOAD_BYTES`` (plus the multipart framing) is read: a larger ``Content-Length`` is
refused before reading, and a body without one is cut off once it passes the cap. What the
image is gets decided by decoding it (``uploads.service.store_upload``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.types import Message

from creatix.api.assets import file_url
from creatix.api.deps import BearerPrincipal, RuntimeDep
from creatix.api.platform import render_error
from creatix.api.routing import dialect_route
from creatix.kit.errors import InvalidRequest
from creatix.uploads.errors import too_large
from creatix.uploads.service import MAX_UPLOAD_BYTES, store_upload

router = APIRouter(
    prefix="/api/platform", tags=["Platform"], route_class=dialect_route(render_error)
)

FILE_FIELD = "file"
RAW_TYPES = frozenset({"image/png", "image/jpeg", "image/webp"})
MULTIPART_SLACK = 64 * 1024
"""Room for the multipart boundaries, part headers and a few small fields around the file."""


class UploadCreated(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    path: str
    """The storage path: pass it as the input image of a generation."""
    public_url: str


def _check_declared_length(request: Request, limit: int) -> None:
    declared = request.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > limit:
        raise too_large(FILE_FIELD, MAX_UPLOAD_BYTES)


def _capped(request: Request, limit: int) -> Request:
    """The request, whose body stream fails with a 400 once more than ``limit`` bytes came."""
    receive = request.receive
    received = 0

    async def capped_receive() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise too_large(FILE_FIELD, MAX_UPLOAD_BYTES)
        return message

    return Request(request.scope, capped_receive)


async def _raw_body(request: Request) -> bytes:
    chunks: list[bytes] = []
    async for chunk in _capped(request, MAX_UPLOAD_BYTES).stream():
        chunks.append(chunk)
    return b"".join(chunks)


async def _multipart_file(request: Request) -> tuple[bytes, str | None]:
    try:
        form = await _capped(request, MAX_UPLOAD_BYTES + MULTIPART_SLACK).form(
            max_files=1, max_fields=20
        )
    except HTTPException as exc:  # Starlette's word for a malformed multipart body
        raise InvalidRequest(
            f"The multipart body could not be read: {exc.detail}", code="invalid_multipart"
        ) from exc
    try:
        part = form.get(FILE_FIELD)
        if part is None:
            raise InvalidRequest(
                f"Send the image in the multipart field '{FILE_FIELD}'.",
                param=FILE_FIELD,
                code="missing_parameter",
            )
        if not isinstance(part, UploadFile):
            raise InvalidRequest(
                f"'{FILE_FIELD}' must be a file, not a text field.",
                param=FILE_FIELD,
                code="invalid_value",
            )
        return await part.read(), part.content_type
    finally:
        await form.close()


@router.post("/upload", status_code=201, response_model_by_alias=True)
async def upload(
    request: Request, principal: BearerPrincipal, runtime: RuntimeDep
) -> UploadCreated:
    """Store a PNG, JPEG or WebP image of at most 10 MB as an input for generation."""
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == "multipart/form-data":
        _check_declared_length(request, MAX_UPLOAD_BYTES + MULTIPART_SLACK)
        data, declared = await _multipart_file(request)
    elif media_type in RAW_TYPES:
        _check_declared_length(request, MAX_UPLOAD_BYTES)
        data, declared = await _raw_body(request), media_type
    elif media_type.startswith("image/"):
        raise InvalidRequest(
            f"{media_type} images are not supported; upload a PNG, JPEG or WebP image.",
            code="unsupported_image_type",
        )
    else:
        raise InvalidRequest(
            "Send the image as multipart/form-data in a 'file' field, or as the raw body with "
            f"Content-Type image/png, image/jpeg or image/webp (not '{content_type or 'none'}').",
            code="invalid_content_type",
        )
    stored = await store_upload(
        runtime.db, runtime.storage, principal.account_id, data, declared_type=declared
    )
    return UploadCreated(path=stored.path, public_url=file_url(runtime, stored.path, request))
