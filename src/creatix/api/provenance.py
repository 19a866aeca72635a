"""``POST /v1/provenance/verify``: whether a file or a text came from this server, in the
Creatix v1 dialect. Any key may ask; the job that made it is shown only to its account.

A file comes as ``multipart/form-data`` in the ``file`` field, a text as JSON ``{"text": …}``;
the body is bounded like an upload (``api/limits.py``: ``max_upload_body_bytes``). The answer
is ``provenance/verification.py``'s.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from creatix.api.bodies import model_body
from creatix.api.creatix_v1 import CreatixV1Error, render_error
from creatix.api.deps import BearerPrincipal, RuntimeDep
from creatix.api.limits import BodyLimit
from creatix.api.openapi_docs import EXAMPLE_BASE_URL, READ, error_responses
from creatix.api.routing import dialect_route
from creatix.api.uploads import FILE_FIELD, multipart_file
from creatix.kit.errors import ContentTooLarge, InvalidRequest
from creatix.provenance.schemas import (
    TextVerificationReport,
    VerificationReport,
    text_verification_report,
    verification_report,
)
from creatix.provenance.verification import verify_file, verify_text
from creatix.provenance.verify import UnreadableFile

router = APIRouter(prefix="/v1", tags=["Creatix v1"], route_class=dialect_route(render_error))

PATH = "/v1/provenance/verify"
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_TEXT_CHARS = 200_000


class TextToVerify(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    text: str = Field(
        min_length=1, max_length=MAX_TEXT_CHARS, description="The copy, as it was delivered."
    )


def body_limit(max_bytes: int) -> BodyLimit:
    """This route's body limit, for ``api/limits.py``."""
    return BodyLimit(max_bytes, code="file_too_large", param=FILE_FIELD, what="The file")


_FILE = {"type": "string", "format": "binary", "description": "A PNG, JPEG, WebP or MP4 file."}
_TEXT = {
    "type": "object",
    "required": ["text"],
    "properties": {"text": {"type": "string", "maxLength": MAX_TEXT_CHARS}},
    "additionalProperties": False,
}
_REQUEST_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": _TEXT, "example": {"text": "Fresh bread, every morning."}},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": [FILE_FIELD],
                "properties": {FILE_FIELD: _FILE},
            }
        },
    },
}
_EXAMPLE = {
    "lang": "Shell",
    "label": "curl",
    "source": f"curl -X POST {EXAMPLE_BASE_URL}{PATH} \\\n"
    '  -H "Authorization: Bearer sk_live_..." \\\n'
    '  -F "file=@ad.jpg"\n\n'
    "# or a text:\n"
    f"curl -X POST {EXAMPLE_BASE_URL}{PATH} \\\n"
    '  -H "Authorization: Bearer sk_live_..." \\\n'
    '  -H "Content-Type: application/json" \\\n'
    """  -d '{"text": "Fresh bread, every morning."}'""",
}


@router.post(
    PATH.removeprefix(router.prefix),
    responses=error_responses(CreatixV1Error, (*READ, 413)),
    openapi_extra={"requestBody": _REQUEST_BODY, "x-codeSamples": [_EXAMPLE]},
)
async def verify(
    request: Request, principal: BearerPrincipal, runtime: RuntimeDep
) -> VerificationReport | TextVerificationReport:
    """Whether a file or a text came from this server. A file (multipart ``file``): its
    content credentials (present, intact, trusted, what they claim), its invisible mark, and
    the job that made it when that job is your account's. A text (JSON ``{"text": …}``): whether
    a text generator task here answered it (compared after normalizing Unicode and
    whitespace), and the task when it is your account's."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type == "application/json":
        body = await model_body(request, TextToVerify)
        found_text = await verify_text(runtime.db, body.text, account_id=principal.account_id)
        return text_verification_report(found_text)
    if media_type != "multipart/form-data":
        raise InvalidRequest(
            f"Send a file as multipart/form-data in a '{FILE_FIELD}' field, or a text as JSON "
            '{"text": ...}.',
            param=FILE_FIELD,
            code="invalid_content_type",
        )
    data, _declared = await multipart_file(request, "file")
    if len(data) > MAX_FILE_BYTES:
        raise ContentTooLarge(
            f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB.",
            code="file_too_large",
            param=FILE_FIELD,
        )
    try:
        found = await verify_file(
            runtime.db, runtime.provenance, data, account_id=principal.account_id
        )
    except UnreadableFile as exc:
        raise InvalidRequest(f"'{FILE_FIELD}': {exc}.", param=FILE_FIELD) from exc
    return verification_report(found)
