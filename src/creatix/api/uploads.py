"""``POST /api/platform/upload``: reference images for generation, in the platform dialect.

The image comes as ``multipart/form-data`` in the ``file`` field, or as the raw body with
``Content-Type: image/png``, ``image/jpeg`` or ``image/webp``. The body is bounded by
``api/limits.py`` with this route's own limit (``body_limit``: ``max_upload_body_bytes``, a
10 MB image and its multipart framing), enforced while it streams in: a larger
``Content-Length`` is refused before reading, a body without one is cut off once it passes
the limit; both are a 413 ``file_too_large``, as is an image over ``MAX_UPLOAD_BYTES`` in a
body within it. The key is checked before the body is read. What the image is gets decided
by decoding it (``uploads.service.store_upload``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException

from creatix.api.assets import file_url
from creatix.api.bodies import InvalidText, text_problem
from creatix.api.deps import BearerPrincipal, RuntimeDep
from creatix.api.limits import BodyLimit
from creatix.api.openapi_docs import EXAMPLE_BASE_URL, error_responses
from creatix.api.platform import render_error
from creatix.api.platform_schemas import PlatformError
from creatix.api.routing import dialect_route
from creatix.kit.errors import ContentTooLarge, InvalidRequest
from creatix.runtime import Runtime
from creatix.uploads.service import MAX_UPLOAD_BYTES, store_upload

router = APIRouter(
    prefix="/api/platform", tags=["Platform"], route_class=dialect_route(render_error)
)

PATH = "/api/platform/upload"
FILE_FIELD = "file"
TOO_LARGE = "file_too_large"
RAW_TYPES = frozenset({"image/png", "image/jpeg", "image/webp"})


class UploadCreated(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    path: str
    """The storage path: pass it as the input image of a generation."""
    public_url: str


def body_limit(max_bytes: int) -> BodyLimit:
    """This route's body limit, for ``api/limits.py``."""
    return BodyLimit(max_bytes, code=TOO_LARGE, param=FILE_FIELD, what="The upload")


def _too_large() -> ContentTooLarge:
    return ContentTooLarge(
        f"The image is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB; send at most that much.",
        code=TOO_LARGE,
        param=FILE_FIELD,
    )


def _check_text_fields(form: FormData) -> None:
    """The form's text fields (and every field's name) must be text a route can take."""
    for name, value in form.multi_items():
        problem = text_problem(name)
        if problem is not None:
            raise InvalidText("", f"has a multipart field whose name {problem}")
        if isinstance(value, str) and (problem := text_problem(value)) is not None:
            raise InvalidText(name, problem)


async def multipart_file(request: Request, what: str = "image") -> tuple[bytes, str | None]:
    """The one file of a multipart body, in the field ``file``, and its declared type."""
    try:
        form = await request.form(max_files=1, max_fields=20)
    except HTTPException as exc:  # Starlette's word for a malformed multipart body
        raise InvalidRequest(
            f"The multipart body could not be read: {exc.detail}", code="invalid_multipart"
        ) from exc
    try:
        _check_text_fields(form)
        part = form.get(FILE_FIELD)
        if part is None:
            raise InvalidRequest(
                f"Send the {what} in the multipart field '{FILE_FIELD}'.",
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


_IMAGE = {"type": "string", "format": "binary", "description": "A PNG, JPEG or WebP image."}
REQUEST_BODY = {
    "required": True,
    "description": "The image: in the multipart field 'file', or as the raw body.",
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": [FILE_FIELD],
                "properties": {FILE_FIELD: _IMAGE},
            },
            "encoding": {FILE_FIELD: {"contentType": ", ".join(sorted(RAW_TYPES))}},
        },
        **{media_type: {"schema": _IMAGE} for media_type in sorted(RAW_TYPES)},
    },
}
_EXAMPLE = {  # the reference's example request
    "lang": "Shell",
    "label": "curl",
    "source": f"curl -X POST {EXAMPLE_BASE_URL}{PATH} \\\n"
    '  -H "Authorization: Bearer sk_live_..." \\\n'
    '  -F "file=@product.jpg"',
}


@router.post(
    PATH.removeprefix(router.prefix),
    status_code=201,
    response_model_by_alias=True,
    responses=error_responses(PlatformError, (400, 401, 403, 413, 429, 503)),
    openapi_extra={"requestBody": REQUEST_BODY, "x-codeSamples": [_EXAMPLE]},
)
async def upload(
    request: Request, principal: BearerPrincipal, runtime: RuntimeDep
) -> UploadCreated:
    """Store a PNG, JPEG or WebP image of at most 10 MB as an input for generation."""
    return await stored_upload(request, runtime, principal.account_id)


async def stored_upload(request: Request, runtime: Runtime, account_id: str) -> UploadCreated:
    """The request's image (the multipart field ``file`` or the raw body) stored as one of
    ``account_id``'s uploads; the caller has checked who may."""
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == "multipart/form-data":
        data, declared = await multipart_file(request)
    elif media_type in RAW_TYPES:
        data, declared = await request.body(), media_type
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
    if len(data) > MAX_UPLOAD_BYTES:
        raise _too_large()
    stored = await store_upload(
        runtime.db, runtime.storage, account_id, data, declared_type=declared
    )
    return UploadCreated(path=stored.path, public_url=file_url(runtime, stored.path, request))
