"""Dependencies every dialect shares: the runtime, JSON bodies, bearer keys and rate limits."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

from fastapi import Depends, Request, Response, Security
from fastapi.security import APIKeyHeader, HTTPBearer

from creatix.accounts.schemas import Principal
from creatix.jobs.specs import IdempotencyKey
from creatix.kit.errors import Forbidden, InvalidRequest, Unauthorized, Unavailable
from creatix.runtime import Runtime

# The key's headers, as the published OpenAPI names them (its security schemes, so /docs has
# an Authorize button). They only document: the principals below read the headers
# themselves, and answer every dialect's own 401.
BEARER_SCHEME = HTTPBearer(
    auto_error=False,
    scheme_name="bearerAuth",
    description="A key, sent as 'Authorization: Bearer sk_live_…' "
    "(Creatix v1, Artnex and the platform API).",
)
API_ID_SCHEME = APIKeyHeader(
    name="X-API-ID",
    auto_error=False,
    scheme_name="apiId",
    description="The key's id, always together with X-API-KEY "
    "(the asset generator and the text generator).",
)
API_KEY_SCHEME = APIKeyHeader(
    name="X-API-KEY",
    auto_error=False,
    scheme_name="apiKey",
    description="The key's secret, always together with X-API-ID.",
)


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(runtime_of)]


async def authorize(runtime: Runtime, secret: str, response: Response) -> Principal:
    """Resolve a key to its account (``accounts.keycache``: kept a while in this process)
    and count the request against the key's rate limit."""
    return await _admit(runtime, await runtime.keys.authenticate(secret), response)


def may_generate(principal: Principal) -> Principal:
    """The dialects take only keys with the ``generate`` scope, of an active account."""
    if "generate" not in principal.scopes:
        raise Forbidden(
            "This API key does not have the 'generate' scope.", code="insufficient_scope"
        )
    if principal.status == "suspended":
        raise Forbidden("This account is suspended.", code="account_suspended")
    return principal


async def count_request(runtime: Runtime, principal: Principal, response: Response) -> None:
    """Count the request against the key's rate limit (its plan's, or the key's own when
    that is lower); say so in the headers."""
    plan = runtime.catalog.plan(principal.plan)
    if plan is None:
        raise Unavailable(f"The account's plan '{principal.plan}' is not in the catalog.")
    limit = plan.requests_per_minute
    if principal.rate_limit_per_minute is not None:
        limit = min(limit, principal.rate_limit_per_minute)
    state = await runtime.rate_limiter.hit(principal.key_id, limit)
    response.headers.update(state.headers)


async def _admit(runtime: Runtime, principal: Principal, response: Response) -> Principal:
    """A generation API's key: it may generate, and the request is counted."""
    may_generate(principal)
    await count_request(runtime, principal, response)
    return principal


async def bearer_principal(
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    _documented: Annotated[object, Security(BEARER_SCHEME)],
) -> Principal:
    scheme, _, secret = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthorized(
            "You didn't provide an API key. Send it as 'Authorization: Bearer YOUR_API_KEY'."
        )
    return await authorize(runtime, secret.strip(), response)


BearerPrincipal = Annotated[Principal, Depends(bearer_principal)]


def idempotency_key(request: Request, body: Any) -> IdempotencyKey | None:
    """The request's ``Idempotency-Key``, fingerprinted with its method, path and body."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not 1 <= len(key) <= 255:
        raise InvalidRequest(
            "Idempotency-Key must be 1 to 255 characters.", param="Idempotency-Key"
        )
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    path = request.url.path.rstrip("/")
    material = f"{request.method} {path}\n{canonical}".encode()
    return IdempotencyKey(key=key, fingerprint=hashlib.sha256(material).hexdigest())


async def api_id_principal(
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    _documented_id: Annotated[object, Security(API_ID_SCHEME)],
    _documented_key: Annotated[object, Security(API_KEY_SCHEME)],
) -> Principal:
    """A key sent as ``X-API-ID`` (its key id) and ``X-API-KEY`` (its secret), both of one live
    key, counted against that key's rate limit like ``authorize`` does."""
    key_id = request.headers.get("x-api-id", "").strip()
    secret = request.headers.get("x-api-key", "").strip()
    if not key_id or not secret:
        missing = " and ".join(
            name for name, value in (("X-API-ID", key_id), ("X-API-KEY", secret)) if not value
        )
        raise Unauthorized(
            f"You didn't provide {missing}. Send your API ID as 'X-API-ID' and your API key "
            "as 'X-API-KEY'."
        )
    principal = await runtime.keys.authenticate_pair(key_id, secret)
    return await _admit(runtime, principal, response)


ApiIdPrincipal = Annotated[Principal, Depends(api_id_principal)]


async def key_principal(
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    _documented: Annotated[object, Security(BEARER_SCHEME)],
    _documented_id: Annotated[object, Security(API_ID_SCHEME)],
    _documented_key: Annotated[object, Security(API_KEY_SCHEME)],
) -> Principal:
    """A key sent either way, for routes every dialect's clients call: as ``X-API-ID`` and
    ``X-API-KEY`` when either of those is sent (and no ``Authorization``), else as
    ``Authorization: Bearer``."""
    headers = request.headers
    if "authorization" not in headers and ("x-api-id" in headers or "x-api-key" in headers):
        return await api_id_principal(request, response, runtime, None, None)
    return await bearer_principal(request, response, runtime, None)


KeyPrincipal = Annotated[Principal, Depends(key_principal)]
