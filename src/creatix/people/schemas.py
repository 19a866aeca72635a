"""What the people room hands out: people, their memberships, one-time tokens, sessions."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Role = Literal["owner", "member"]
PersonStatus = Literal["active", "invited", "disabled"]
"""``invited``: no password set yet (an invitation not yet accepted)."""


class MembershipInfo(BaseModel):
    account_id: str
    account_name: str
    role: Role


class PersonInfo(BaseModel):
    id: str = Field(examples=["psn_4f7Qw2mZ0bX9aLkT3cVyR8nE"])
    email: str = Field(examples=["ada@example.com"])
    operator: bool
    """May run the whole platform (/api/admin)."""
    status: PersonStatus
    created_at: datetime
    last_login_at: datetime | None
    disabled_at: datetime | None
    memberships: list[MembershipInfo]


class OneTimeToken(BaseModel):
    """Sets the person's password once (``POST /api/session/accept-invitation``), until it
    expires; shown once and stored only as its SHA-256 digest."""

    token: str
    expires_at: datetime


class Invited(BaseModel):
    person: PersonInfo
    invitation: OneTimeToken | None
    """None when the person already existed and was only added to the account."""


class SessionInfo(BaseModel):
    id: str
    created_at: datetime
    expires_at: datetime
    """When the session ends at the latest, however much it is used."""
    idle_expires_at: datetime
    """When it ends unless used before then."""


class CurrentSession(BaseModel):
    """A signed-in person as their session shows them."""

    person: PersonInfo
    session: SessionInfo
    csrf_token: str


class SignedIn(CurrentSession):
    token: str
    """The session cookie's value; only its digest is stored."""
