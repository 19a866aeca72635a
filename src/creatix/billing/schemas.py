from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


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
