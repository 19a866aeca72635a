"""Who calls the account and admin APIs: ``current_actor``, one dependency for both.

An ``Actor`` (``accounts/actor.py``) comes from either

- the session cookie of a signed-in person (``api/session.py``; a state-changing request must
  also carry the session's ``X-CSRF-Token``), or
- a bearer key with the scope the API asks for: ``manage`` for ``/api/account/…`` (its own
  account, role ``key``), ``operator`` for ``/api/admin/…``. A key without it is a 403
  ``insufficient_scope``; keys are counted against their rate limit (the plan's, or the
  key's own) as on the dialects.

The cookie wins when both are sent. Without either the answer is a 401. Errors are the
platform's shape. A person sees only the accounts they belong to: every other account's id is
a 404 (``account_of``), whether it exists or not.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Response, Security

from creatix.accounts import service as accounts
from creatix.accounts.actor import AccountRole, Actor
from creatix.accounts.schemas import Principal, Scope
from creatix.api.deps import BEARER_SCHEME, RuntimeDep, count_request
from creatix.api.session import SessionCookie, client_address, session_actor
from creatix.kit.errors import Forbidden, NotFound, Unauthorized
from creatix.runtime import Runtime


def _key_actor(principal: Principal, request: Request) -> Actor:
    roles: dict[str, AccountRole] = (
        {principal.account_id: "key"} if "manage" in principal.scopes else {}
    )
    return Actor(
        kind="key",
        id=principal.key_id,
        label=f"key:{principal.key_id}",
        operator="operator" in principal.scopes,
        accounts=roles,
        address=client_address(request),
    )


async def _bearer_actor(
    request: Request, response: Response, runtime: Runtime, scope: Scope
) -> Actor | None:
    scheme, _, secret = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    principal = await runtime.keys.authenticate(secret.strip())
    if scope not in principal.scopes:
        raise Forbidden(
            f"This API key does not have the '{scope}' scope.", code="insufficient_scope"
        )
    await count_request(runtime, principal, response)
    return _key_actor(principal, request)


async def current_actor(
    request: Request, response: Response, runtime: Runtime, scope: Scope
) -> Actor:
    """The request's actor: its session's person, else its bearer key with ``scope``."""
    actor = await session_actor(request, runtime)
    if actor is None:
        actor = await _bearer_actor(request, response, runtime, scope)
    if actor is None:
        raise Unauthorized(
            "Sign in (the session cookie) or send a key as 'Authorization: Bearer sk_live_…'.",
            code="not_signed_in",
        )
    return actor


async def manager(
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    _cookie: SessionCookie = None,
    _bearer: Annotated[object, Security(BEARER_SCHEME)] = None,
) -> Actor:
    """The actor of an ``/api/account`` request (a key needs ``manage``)."""
    return await current_actor(request, response, runtime, "manage")


async def operator(
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    _cookie: SessionCookie = None,
    _bearer: Annotated[object, Security(BEARER_SCHEME)] = None,
) -> Actor:
    """The actor of an ``/api/admin`` request: an operator (a key needs ``operator``)."""
    actor = await current_actor(request, response, runtime, "operator")
    if not actor.operator:
        raise Forbidden("Only operators may use the admin API.")
    return actor


Manager = Annotated[Actor, Depends(manager)]
Operator = Annotated[Actor, Depends(operator)]


def account_of(actor: Actor, account_id: str) -> str:
    """``account_id`` if the actor may manage it; else a 404, as for an unknown id."""
    if not actor.may_manage(account_id):
        raise NotFound(f"No account with id '{account_id}'.", param="account_id")
    return account_id


def owner_of(actor: Actor, account_id: str) -> str:
    """``account_id`` if the actor is one of its owners (or a ``manage`` key of it)."""
    account_of(actor, account_id)
    if actor.accounts[account_id] not in ("owner", "key"):
        raise Forbidden("Only the account's owners may do this.")
    return account_id


async def acting_principal(actor: Actor, runtime: Runtime, account_id: str) -> Principal:
    """Who the account API makes work as: a key as itself (its limits and budgets apply), a
    signed-in person as the account."""
    if actor.kind == "key":
        return await accounts.key_principal(runtime.db, actor.id)
    return await accounts.person_principal(runtime.db, account_id, actor.id)
