"""The self-service account API (``/api/account/{account_id}``), for the account's people
(a session) and its keys with the ``manage`` scope (``api/actors.py``).

Its members read; its owners (and ``manage`` keys) also make and revoke keys and set their
limits. Another account's id is a 404. Routes translate only: the rules are the services' the
CLI calls too (``accounts.service``, ``billing.service``). Usage and the ledger are read by
``api/account_usage.py``. Errors are the platform's shape.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from creatix.accounts import service as accounts
from creatix.accounts.audit import AuditActor
from creatix.accounts.schemas import KeyInfo, KeyLimits, NewKey, Scope
from creatix.api.actors import Manager, account_of, owner_of
from creatix.api.bodies import documented_body, model_body
from creatix.api.deps import RuntimeDep
from creatix.api.openapi_docs import MANAGE, create_docs, error_responses
from creatix.api.platform import render_error
from creatix.api.platform_schemas import PlatformError
from creatix.api.routing import dialect_route
from creatix.billing import service as billing
from creatix.billing.schemas import AccountOverview
from creatix.kit.errors import Forbidden, Unavailable
from creatix.runtime import Runtime

LOOKUP = (*MANAGE, 404)
CHANGE = (*LOOKUP, 413)

router = APIRouter(prefix="/api/account", tags=["Account"], route_class=dialect_route(render_error))
AccountId = Annotated[str, Path(max_length=40, description="The account's id")]
KeyId = Annotated[str, Path(max_length=40, description="The key's id (its X-API-ID)")]


def _generate_only() -> list[Scope]:
    return ["generate"]


class NewKeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str | None = Field(
        default=None, min_length=1, max_length=100, description="What the key is for"
    )
    scopes: list[Scope] = Field(
        default_factory=_generate_only,
        min_length=1,
        max_length=3,
        description="generate: the generation APIs; manage: this account API. "
        "Only operators may give 'operator' (the admin API).",
    )


NEW_KEY_EXAMPLE = {"name": "website backend", "scopes": ["generate"]}


class KeyLimitsRequest(KeyLimits):
    model_config = ConfigDict(extra="forbid", strict=True)


KEY_LIMITS_EXAMPLE = {
    "allowed_models": ["z-image-turbo"],
    "budget_daily_credits": 5000,
    "budget_monthly_credits": None,
    "rate_limit_per_minute": 30,
}


class KeyList(BaseModel):
    data: list[KeyInfo]


def new_key_docs() -> dict[str, object]:
    return create_docs(documented_body(NewKeyRequest), NEW_KEY_EXAMPLE, idempotent=False)


@router.get("/{account_id}", responses=error_responses(PlatformError, LOOKUP))
async def get_account(
    actor: Manager, runtime: RuntimeDep, account_id: AccountId
) -> AccountOverview:
    """The account: its plan, balance, lifetime totals, and its plan quota's use and reset."""
    return await billing.overview(runtime.db, runtime.catalog, account_of(actor, account_id))


@router.get("/{account_id}/keys", responses=error_responses(PlatformError, LOOKUP))
async def list_keys(actor: Manager, runtime: RuntimeDep, account_id: AccountId) -> KeyList:
    """The account's keys, revoked ones too, with when each was last used (never a secret)."""
    keys = await accounts.list_account_keys(runtime.db, account_of(actor, account_id))
    return KeyList(data=keys)


@router.post(
    "/{account_id}/keys",
    status_code=201,
    openapi_extra=new_key_docs(),
    responses=error_responses(PlatformError, CHANGE),
)
async def create_key(
    actor: Manager, runtime: RuntimeDep, account_id: AccountId, request: Request
) -> NewKey:
    """A new key of the account; its secret is in this answer only. Its ``key_id`` is also
    its ``X-API-ID`` for the asset and text generators."""
    owner_of(actor, account_id)
    body = await model_body(request, NewKeyRequest)
    if "operator" in body.scopes and not actor.operator:
        raise Forbidden("Only operators may give a key the 'operator' scope.", param="scopes")
    return await accounts.create_account_key(
        runtime.db, account_id, scopes=body.scopes, name=body.name, actor=actor.audit
    )


@router.delete("/{account_id}/keys/{key_id}", responses=error_responses(PlatformError, LOOKUP))
async def revoke_key(
    actor: Manager, runtime: RuntimeDep, account_id: AccountId, key_id: KeyId
) -> KeyInfo:
    """Revoke one of the account's keys: requests with it get a 401 from now on."""
    owner_of(actor, account_id)
    return await accounts.revoke_key(runtime.db, key_id, account_id=account_id, actor=actor.audit)


def key_limits_docs() -> dict[str, object]:
    return create_docs(documented_body(KeyLimitsRequest), KEY_LIMITS_EXAMPLE, idempotent=False)


async def set_limits(
    runtime: Runtime, request: Request, account_id: str, key_id: str, actor: AuditActor
) -> KeyInfo:
    """Replace a key's own limits from the request's body, checked against the catalog and
    the account's plan."""
    body = await model_body(request, KeyLimitsRequest)
    account = await accounts.get_account(runtime.db, account_id)
    plan = runtime.catalog.plan(account.plan)
    if plan is None:
        raise Unavailable(f"The account's plan '{account.plan}' is not in the catalog.")
    return await accounts.set_key_limits(
        runtime.db,
        key_id,
        KeyLimits.model_validate(body.model_dump()),
        max_rate_limit=plan.requests_per_minute,
        known_models=[model.id for model in runtime.catalog.models],
        account_id=account_id,
        actor=actor,
    )


@router.put(
    "/{account_id}/keys/{key_id}/limits",
    openapi_extra=key_limits_docs(),
    responses=error_responses(PlatformError, CHANGE),
)
async def put_key_limits(
    actor: Manager, runtime: RuntimeDep, account_id: AccountId, key_id: KeyId, request: Request
) -> KeyInfo:
    """Replace the key's own limits: the models it may use, the credits it may spend per UTC
    day and month (a spent budget is a 402), and a rate limit below the plan's. A null field
    is no limit of that kind."""
    owner_of(actor, account_id)
    return await set_limits(runtime, request, account_id, key_id, actor.audit)
