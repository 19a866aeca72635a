"""The operator API (``/api/admin/accounts``): accounts, their credits and keys, for
operators (a session of a person with the operator role, or a key with the ``operator``
scope; ``api/actors.py``).

Routes translate only: the rules are the services' that the CLI's ``accounts``, ``credits``
and ``keys`` commands call too. Usage, the ledger and the audit log are read by
``api/account_usage.py``. Errors are the platform's shape.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from creatix.accounts import service as accounts
from creatix.accounts.schemas import AccountInfo, AccountStatus, KeyInfo, NewKey
from creatix.api.account import KeyList, NewKeyRequest, key_limits_docs, new_key_docs, set_limits
from creatix.api.actors import Operator
from creatix.api.bodies import documented_body, model_body
from creatix.api.deps import RuntimeDep
from creatix.api.openapi_docs import MANAGE, create_docs, error_responses
from creatix.api.platform import render_error
from creatix.api.platform_schemas import PlatformError
from creatix.api.routing import dialect_route
from creatix.billing import service as billing
from creatix.billing.schemas import CreditAdjusted
from creatix.kit.errors import InvalidRequest
from creatix.runtime import Runtime

LOOKUP = (*MANAGE, 404)

router = APIRouter(
    prefix="/api/admin/accounts", tags=["Admin"], route_class=dialect_route(render_error)
)
AccountId = Annotated[str, Path(max_length=40, description="The account's id")]
KeyId = Annotated[str, Path(max_length=40, description="The key's id (its X-API-ID)")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class NewAccountRequest(_Body):
    name: str = Field(min_length=1, max_length=100, description="Not yet taken")
    plan: str | None = Field(
        default=None, max_length=40, description="A catalog plan; default: the catalog's"
    )
    unlimited: bool = Field(default=False, description="Its generations are not charged")


class AccountChange(_Body):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    plan: str | None = Field(default=None, max_length=40)
    unlimited: bool | None = None
    status: AccountStatus | None = Field(
        default=None, description="suspended: its keys get a 403 on the generation APIs"
    )


class CreditRequest(_Body):
    kind: Literal["grant", "deduct"]
    amount: int = Field(gt=0, le=10**12, description="Credits, a positive integer")
    note: str | None = Field(default=None, max_length=1000, description="Kept in the ledger")


class AdminAccount(AccountInfo):
    balance: int = Field(description="Its credit balance now.")


class AccountList(BaseModel):
    data: list[AdminAccount]


async def _with_balances(runtime: Runtime, infos: list[AccountInfo]) -> list[AdminAccount]:
    balances = await billing.balances(runtime.db, [info.id for info in infos])
    return [AdminAccount(**info.model_dump(), balance=balances[info.id]) for info in infos]


def _plan(runtime: Runtime, plan: str | None) -> str | None:
    """``plan`` if the catalog has it; a 400 naming the field otherwise."""
    if plan is not None and runtime.catalog.plan(plan) is None:
        plans = ", ".join(p.id for p in runtime.catalog.plans)
        raise InvalidRequest(f"Unknown plan '{plan}'; plans: {plans}.", param="plan")
    return plan


@router.post(
    "",
    status_code=201,
    openapi_extra=create_docs(
        documented_body(NewAccountRequest),
        {"name": "acme-marketing", "plan": "paid"},
        idempotent=False,
    ),
    responses=error_responses(PlatformError, (*MANAGE, 409, 413)),
)
async def create_account(actor: Operator, runtime: RuntimeDep, request: Request) -> AccountInfo:
    """Create an account (on the catalog's default plan unless one is named)."""
    body = await model_body(request, NewAccountRequest)
    plan = _plan(runtime, body.plan) or runtime.catalog.default_plan
    return await accounts.create_account(
        runtime.db, body.name, plan, unlimited=body.unlimited, actor=actor.audit
    )


@router.get("", responses=error_responses(PlatformError, MANAGE))
async def list_accounts(_actor: Operator, runtime: RuntimeDep) -> AccountList:
    """Every account (not deleted), by name, with its balance."""
    return AccountList(data=await _with_balances(runtime, await accounts.list_accounts(runtime.db)))


@router.get("/{account_id}", responses=error_responses(PlatformError, LOOKUP))
async def get_account(_actor: Operator, runtime: RuntimeDep, account_id: AccountId) -> AdminAccount:
    """One account, with its balance."""
    info = await accounts.get_account(runtime.db, account_id)
    return (await _with_balances(runtime, [info]))[0]


@router.patch(
    "/{account_id}",
    openapi_extra=create_docs(
        documented_body(AccountChange), {"plan": "paid", "status": "active"}, idempotent=False
    ),
    responses=error_responses(PlatformError, (*LOOKUP, 409, 413)),
)
async def update_account(
    actor: Operator, runtime: RuntimeDep, account_id: AccountId, request: Request
) -> AccountInfo:
    """Rename an account, move it to a plan, mark it unlimited, suspend or reactivate it."""
    body = await model_body(request, AccountChange)
    return await accounts.update_account(
        runtime.db,
        account_id,
        name=body.name,
        plan=_plan(runtime, body.plan),
        unlimited=body.unlimited,
        status=body.status,
        actor=actor.audit,
    )


@router.delete("/{account_id}", status_code=204, responses=error_responses(PlatformError, LOOKUP))
async def delete_account(actor: Operator, runtime: RuntimeDep, account_id: AccountId) -> Response:
    """Delete an account: it is found and listed no more and its keys stop working; its
    ledger and jobs are kept."""
    await accounts.delete_account(runtime.db, account_id, actor=actor.audit)
    return Response(status_code=204)


@router.post(
    "/{account_id}/credits",
    status_code=201,
    openapi_extra=create_docs(
        documented_body(CreditRequest),
        {"kind": "grant", "amount": 5000, "note": "invoice 2026-0142"},
    ),
    responses=error_responses(PlatformError, (*LOOKUP, 409, 413)),
)
async def adjust_credits(
    actor: Operator,
    runtime: RuntimeDep,
    account_id: AccountId,
    request: Request,
    response: Response,
) -> CreditAdjusted:
    """Grant or deduct credits, with a note kept in the ledger (a deduction never takes the
    balance below 0: a 409). With an ``Idempotency-Key`` (for a payment system's webhook),
    the same key and adjustment answer the first one again (200) and change nothing; another
    adjustment under the key is a 409."""
    body = await model_body(request, CreditRequest)
    adjusted = await billing.adjust_credits(
        runtime.db,
        account_id,
        body.kind,
        body.amount,
        body.note,
        idempotency_key=request.headers.get("idempotency-key"),
        actor=actor.audit,
    )
    if adjusted.replayed:
        response.status_code = 200
    return adjusted


@router.get("/{account_id}/keys", responses=error_responses(PlatformError, LOOKUP))
async def list_keys(_actor: Operator, runtime: RuntimeDep, account_id: AccountId) -> KeyList:
    """The account's keys, revoked ones too, with when each was last used."""
    return KeyList(data=await accounts.list_account_keys(runtime.db, account_id))


@router.post(
    "/{account_id}/keys",
    status_code=201,
    openapi_extra=new_key_docs(),
    responses=error_responses(PlatformError, (*LOOKUP, 413)),
)
async def create_key(
    actor: Operator, runtime: RuntimeDep, account_id: AccountId, request: Request
) -> NewKey:
    """A new key of the account, any scopes; its secret is in this answer only."""
    body = await model_body(request, NewKeyRequest)
    return await accounts.create_account_key(
        runtime.db, account_id, scopes=body.scopes, name=body.name, actor=actor.audit
    )


@router.delete("/{account_id}/keys/{key_id}", responses=error_responses(PlatformError, LOOKUP))
async def revoke_key(
    actor: Operator, runtime: RuntimeDep, account_id: AccountId, key_id: KeyId
) -> KeyInfo:
    """Revoke one of the account's keys."""
    return await accounts.revoke_key(runtime.db, key_id, account_id=account_id, actor=actor.audit)


@router.put(
    "/{account_id}/keys/{key_id}/limits",
    openapi_extra=key_limits_docs(),
    responses=error_responses(PlatformError, (*LOOKUP, 413)),
)
async def put_key_limits(
    actor: Operator, runtime: RuntimeDep, account_id: AccountId, key_id: KeyId, request: Request
) -> KeyInfo:
    """Replace any account key's own limits (as the account API's route does)."""
    return await set_limits(runtime, request, account_id, key_id, actor.audit)
