"""What the webhooks room shows the CLI and the account API: an account's secret, its
deliveries."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class AccountSecret(BaseModel):
    account: str
    account_id: str
    secret: str
    created_at: datetime


class AttemptInfo(BaseModel):
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryInfo(BaseModel):
    id: str
    """The ``webhook-id`` header, the same on every attempt."""
    job_id: str
    url: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    finished_at: datetime | None
    attempt_log: list[AttemptInfo]


class DeliveryPage(BaseModel):
    data: list[DeliveryInfo]
    total: int = Field(description="Deliveries matching the filter, all pages.")
    limit: int
    offset: int
