"""``POST /api/account/{account_id}/uploads``: an input image stored for the account, by its
people (the session cookie, with ``X-CSRF-Token``) or its ``manage`` keys; what the web
console's ad set form sends a product image to, as the platform's ``POST
/api/platform/upload`` (``api/uploads.py``, whose body handling, limit and answer it shares:
a PNG, JPEG or WebP image of at most 10 MB, in the multipart field ``file`` or as the raw
body; ``{"path", "publicUrl"}``). The body limit is registered for this path in ``app.py``;
who may upload is checked before the body is read. Another account's id is a 404.
``api.account_ad_sets.router`` includes ``router`` (the app includes that).
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from creatix.accounts import service as accounts
from creatix.api.account import AccountId
from creatix.api.actors import Manager, account_of, acting_principal
from creatix.api.deps import RuntimeDep
from creatix.api.openapi_docs import EXAMPLE_BASE_URL, MANAGE, error_responses
from creatix.api.platform import render_error
from creatix.api.platform_schemas import PlatformError
from creatix.api.routing import dialect_route
from creatix.api.uploads import REQUEST_BODY, UploadCreated, stored_upload

router = APIRouter(
    prefix="/api/account", tags=["Account uploads"], route_class=dialect_route(render_error)
)
PATH = "/api/account/{account_id}/uploads"
_URL = f"{EXAMPLE_BASE_URL}/api/account/ACCOUNT_ID/uploads"
_EXAMPLE = {  # a session (with its CSRF token), or a ``manage`` key
    "lang": "Shell",
    "label": "curl",
    "source": f"curl -X POST {_URL} \\\n"
    '  -H "Cookie: creatix_session=your-session-token" \\\n'
    '  -H "X-CSRF-Token: your-csrf-token" \\\n'
    '  -F "file=@product.jpg"\n\n'
    f"curl -X POST {_URL} \\\n"
    '  -H "Authorization: Bearer sk_live_..." \\\n'
    '  -F "file=@product.jpg"',
}


@router.post(
    PATH.removeprefix(router.prefix),
    status_code=201,
    response_model_by_alias=True,
    responses=error_responses(PlatformError, (*MANAGE, 404, 413)),
    openapi_extra={"requestBody": REQUEST_BODY, "x-codeSamples": [_EXAMPLE]},
)
async def upload(
    actor: Manager, runtime: RuntimeDep, account_id: AccountId, request: Request
) -> UploadCreated:
    """Store a PNG, JPEG or WebP image of at most 10 MB as one of the account's input images
    (an ad set's ``brief.inputImagePath``, a generation's input image)."""
    account_of(actor, account_id)
    # A suspended account's uploads are refused, as its keys' are.
    accounts.may_submit(await acting_principal(actor, runtime, account_id))
    return await stored_upload(request, runtime, account_id)
