"""Managing people over HTTP, for a signed-in person or a key (``api/actors.py``).

- ``/api/admin/people``: operators list, invite, reset passwords and disable anyone.
- ``/api/account/{account_id}/people``: an account's people are listed to its members and
  owners; owners invite. Another account's id is a 404, as everywhere.

Invitations and resets answer a one-time token, shown once; the person uses it at
``POST /api/session/accept-invitation``. Errors are the platform's shape.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from creatix.api.actors import Manager, Operator, account_of, owner_of
from creatix.api.bodies import documented_body, model_body
from creatix.api.deps import RuntimeDep
from creatix.api.openapi_docs import MANAGE, create_docs, error_responses
from creatix.api.platform import render_error
from creatix.api.platform_schemas import PlatformError
from creatix.api.routing import dialect_route
from creatix.kit.errors import Conflict
from creatix.people.schemas import Invited, OneTimeToken, PersonInfo, PersonStatus, Role

# -- wire shapes -----------------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class InviteRequest(_Body):
    email: str = Field(max_length=1000, examples=["ada@example.com"])
    operator: bool = Field(default=False, description="Give the operator role")
    account_id: str | None = Field(
        default=None, max_length=40, description="Make them a member of this account"
    )
    role: Role | None = Field(default=None, description="Their role there; default member")


class AccountInviteRequest(_Body):
    email: str = Field(max_length=1000, examples=["ada@example.com"])
    role: Role = "member"


class PeopleList(BaseModel):
    data: list[PersonInfo]


class AccountPerson(BaseModel):
    """A person as the account's own people see them."""

    id: str
    email: str
    role: Role
    status: PersonStatus
    created_at: datetime
    last_login_at: datetime | None


class AccountPeopleList(BaseModel):
    data: list[AccountPerson]


class AccountInvited(BaseModel):
    person: AccountPerson
    invitation: OneTimeToken | None
    """None when the person already existed and was only added to the account."""


def _in_account(person: PersonInfo, account_id: str) -> AccountPerson:
    role = next(m.role for m in person.memberships if m.account_id == account_id)
    return AccountPerson(
        id=person.id,
        email=person.email,
        role=role,
        status=person.status,
        created_at=person.created_at,
        last_login_at=person.last_login_at,
    )


# -- the statuses they answer ----------------------------------------------------------------

_BODY = (413,)
LOOKUP_PEOPLE = (*MANAGE, 404)
CHANGE_PEOPLE = (*MANAGE, 404, 409)


router = APIRouter(tags=["People"], route_class=dialect_route(render_error))
AccountId = Annotated[str, Path(max_length=40)]
PersonId = Annotated[str, Path(max_length=40)]


# -- operators -----------------------------------------------------------------------------


@router.get("/api/admin/people", responses=error_responses(PlatformError, LOOKUP_PEOPLE))
async def admin_list_people(
    actor: Operator,
    runtime: RuntimeDep,
    account_id: Annotated[str | None, Query(max_length=40)] = None,
) -> PeopleList:
    """Everyone (by email), or the people of one account."""
    return PeopleList(data=await runtime.people.list_people(account_id))


@router.post(
    "/api/admin/people",
    status_code=201,
    openapi_extra=create_docs(
        documented_body(InviteRequest),
        {"email": "ada@example.com", "account_id": "acct_01J9Z3", "role": "owner"},
        idempotent=False,
    ),
    responses=error_responses(PlatformError, (*CHANGE_PEOPLE, *_BODY)),
)
async def admin_invite(actor: Operator, runtime: RuntimeDep, request: Request) -> Invited:
    """Invite a person: to the operator role and/or to an account with a role. Answers the
    one-time token that sets their password, shown once."""
    body = await model_body(request, InviteRequest)
    return await runtime.people.invite(
        body.email,
        operator=body.operator,
        account_id=body.account_id,
        role=body.role,
        actor=actor.audit,
    )


@router.post(
    "/api/admin/people/{person_id}/password-reset",
    responses=error_responses(PlatformError, (*CHANGE_PEOPLE, *_BODY)),
)
async def admin_reset_password(
    actor: Operator, runtime: RuntimeDep, person_id: PersonId
) -> OneTimeToken:
    """A one-time token that sets the person's password (shown once); an earlier one stops
    working. Their password and sessions stay until it is used."""
    return await runtime.people.reset_password(person_id, actor=actor.audit)


@router.post(
    "/api/admin/people/{person_id}/disable",
    responses=error_responses(PlatformError, (*CHANGE_PEOPLE, *_BODY)),
)
async def admin_disable(actor: Operator, runtime: RuntimeDep, person_id: PersonId) -> PersonInfo:
    """The person can no longer sign in; their sessions end at once."""
    if person_id == actor.id:
        raise Conflict("You cannot disable yourself.", param="person_id")
    return await runtime.people.disable(person_id, actor=actor.audit)


# -- an account's own people -----------------------------------------------------------------


@router.get(
    "/api/account/{account_id}/people", responses=error_responses(PlatformError, LOOKUP_PEOPLE)
)
async def account_people(
    actor: Manager, runtime: RuntimeDep, account_id: AccountId
) -> AccountPeopleList:
    """The account's people, to its members and owners."""
    account_of(actor, account_id)
    people = await runtime.people.list_people(account_id)
    return AccountPeopleList(data=[_in_account(person, account_id) for person in people])


@router.post(
    "/api/account/{account_id}/people",
    status_code=201,
    openapi_extra=create_docs(
        documented_body(AccountInviteRequest),
        {"email": "grace@example.com", "role": "member"},
        idempotent=False,
    ),
    responses=error_responses(PlatformError, (*CHANGE_PEOPLE, *_BODY)),
)
async def account_invite(
    actor: Manager, runtime: RuntimeDep, account_id: AccountId, request: Request
) -> AccountInvited:
    """An owner (or a ``manage`` key) invites a member or an owner; answers the one-time
    token that sets their password, shown once (none when the email is already a person's:
    they are added)."""
    owner_of(actor, account_id)
    body = await model_body(request, AccountInviteRequest)
    invited = await runtime.people.invite(
        body.email, account_id=account_id, role=body.role, actor=actor.audit
    )
    return AccountInvited(
        person=_in_account(invited.person, account_id), invitation=invited.invitation
    )
