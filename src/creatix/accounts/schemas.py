from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

Scope = Literal["generate", "manage", "operator"]
SCOPES: tuple[Scope, ...] = ("generate", "manage", "operator")
AccountStatus = Literal["active", "suspended"]


def _generate_only() -> list[Scope]:
    return ["generate"]


class Principal(BaseModel):
    """Who a request acts for: the account behind a valid key."""

    account_id: str
    account_name: str
    plan: str
    key_id: str
    unlimited: bool = False
    """Generations are not charged credits (plan quotas still apply)."""
    scopes: tuple[Scope, ...] = ("generate",)
    status: AccountStatus = "active"
    rate_limit_per_minute: int | None = None
    """The key's own rate limit, when it has one below its plan's."""
    content_policy: str | None = None
    """The operator's override of the plan's content policy."""


class KeyLimits(BaseModel):
    """A key's own limits; null means none beyond the account's plan."""

    allowed_models: list[str] | None = Field(
        default=None, description="The models the key may use; null: every model."
    )
    budget_daily_credits: int | None = Field(
        default=None, ge=0, description="Credits the key may spend per UTC day."
    )
    budget_monthly_credits: int | None = Field(
        default=None, ge=0, description="Credits the key may spend per UTC calendar month."
    )
    rate_limit_per_minute: int | None = Field(
        default=None, ge=1, description="Requests per minute, at most the plan's."
    )


class AccountInfo(BaseModel):
    id: str
    name: str
    plan: str
    unlimited: bool
    status: AccountStatus = "active"
    created_at: datetime
    deleted_at: datetime | None = None
    content_policy: str | None = None


class KeyInfo(BaseModel):
    key_id: str = Field(description="The key's id; also its X-API-ID")
    account: str
    account_id: str
    name: str | None = None
    scopes: list[Scope] = Field(default_factory=_generate_only)
    display_prefix: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None = Field(
        default=None, description="When it last authenticated (to the minute)"
    )
    limits: KeyLimits = Field(default_factory=KeyLimits)


class NewKey(KeyInfo):
    secret: str


class AuditRecord(BaseModel):
    """One entry of the audit log."""

    id: str
    created_at: datetime
    actor_kind: str = Field(description="person, key, cli or system")
    actor_id: str = Field(description="The person's or key's id, or the shell user's name")
    account_id: str | None
    action: str = Field(description="Dotted, past tense: account.created, key.revoked, …")
    target: str | None
    address: str | None = Field(description="The client's address, for changes over HTTP")
    detail: dict[str, Any] | None


class AuditPage(BaseModel):
    entries: list[AuditRecord]
    limit: int
    offset: int
    next_offset: int | None = Field(description="The offset of the next page; null on the last.")
