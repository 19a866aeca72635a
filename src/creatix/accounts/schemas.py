from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class Principal(BaseModel):
    """Who a request acts for: the account behind a valid key."""

    account_id: str
    account_name: str
    plan: str
    key_id: str
    unlimited: bool = False
    """Generations are not charged credits (plan quotas still apply)."""


class AccountInfo(BaseModel):
    id: str
    name: str
    plan: str
    unlimited: bool
    created_at: datetime


class KeyInfo(BaseModel):
    key_id: str
    account: str
    display_prefix: str
    created_at: datetime
    revoked_at: datetime | None


class NewKey(KeyInfo):
    secret: str
