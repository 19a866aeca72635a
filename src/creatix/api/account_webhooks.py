"""An account's webhooks over the account API (``/api/account/{account_id}/webhooks/…``):
the signing secret (reveal, rotate: owners and ``manage`` keys) and every delivery with each
attempt's status (the account's people). Another account's id is a 404; errors are the
platform's shape. The rules are ``webhooks.service``'s, which the CLI calls too.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from creatix.api.account import CHANGE, LOOKUP, AccountId
from creatix.api.actors import Manager, account_of, owner_of
from creatix.api.deps import RuntimeDep
from creatix.api.openapi_docs import error_responses
from creatix.api.platform import Limit, Offset, render_error
from creatix.api.platform_schemas import PlatformError
from creatix.api.routing import dialect_route
from creatix.webhooks import service as webhooks
from creatix.webhooks.schemas import AccountSecret, DeliveryPage

router = APIRouter(prefix="/api/account", tags=["Account"], route_class=dialect_route(render_error))


@router.get("/{account_id}/webhooks/secret", responses=error_responses(PlatformError, LOOKUP))
async def reveal_secret(
    actor: Manager, runtime: RuntimeDep, account_id: AccountId
) -> AccountSecret:
    """The ``whsec_`` secret that signs the account's webhooks (Standard Webhooks), made on
    first use. Owners and ``manage`` keys only; every reveal is in the audit log."""
    owner_of(actor, account_id)
    return await webhooks.account_secret(runtime.db, account_id, actor=actor.audit)


@router.post(
    "/{account_id}/webhooks/secret/rotate", responses=error_responses(PlatformError, CHANGE)
)
async def rotate_secret(
    actor: Manager, runtime: RuntimeDep, account_id: AccountId
) -> AccountSecret:
    """Replace the signing secret: webhooks sent from now on are signed with the new one, and
    the old one stops verifying. Owners and ``manage`` keys only."""
    owner_of(actor, account_id)
    return await webhooks.account_secret(runtime.db, account_id, rotate=True, actor=actor.audit)


@router.get("/{account_id}/webhooks/deliveries", responses=error_responses(PlatformError, LOOKUP))
async def list_deliveries(
    actor: Manager,
    runtime: RuntimeDep,
    account_id: AccountId,
    *,
    job_id: Annotated[str | None, Query(max_length=40, description="Only this job's.")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> DeliveryPage:
    """The account's webhook deliveries, newest first: each one's URL, event, status
    (pending, delivered, failed, stopped) and every attempt's response code, error and
    duration."""
    account_of(actor, account_id)
    return await webhooks.delivery_page(
        runtime.db, account_id, job_id=job_id, limit=limit, offset=offset
    )
