from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class CreditEntry(BaseModel):
    id: str
    kind: str
    amount: int
    job_id: str | None
    note: str | None
    created_at: datetime


class CreditStatement(BaseModel):
    account: str
    unlimited: bool
    balance: int
    lifetime_purchased: int
    lifetime_used: int
    entries: list[CreditEntry]


class QuotaState(BaseModel):
    period: Literal["day", "month"]
    images: int = Field(description="Images the plan allows per period")
    used: int = Field(description="Images counted in the current period")
    resets_at: datetime


class AccountOverview(BaseModel):
    """An account's plan, balance, lifetime totals and plan quota, as its people see them."""

    id: str
    name: str
    plan: str
    unlimited: bool
    status: Literal["active", "suspended"]
    created_at: datetime
    balance: int
    lifetime_purchased: int
    lifetime_used: int
    quota: QuotaState | None = Field(description="None: the plan has no generation quota")


class CreditAdjusted(BaseModel):
    """A grant or deduction and the balance after it."""

    entry: CreditEntry
    balance: int
    replayed: bool = Field(
        default=False, description="True when an Idempotency-Key answered an earlier adjustment"
    )
