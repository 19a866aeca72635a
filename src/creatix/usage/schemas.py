from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from creatix.billing.schemas import CreditEntry

GroupBy = Literal["day", "model", "key"]


class UsageRow(BaseModel):
    """Usage summed over one group (the fields not grouped by are null)."""

    day: date | None = Field(default=None, description="The UTC day, when grouped by day.")
    model: str | None = Field(default=None, description="The model, when grouped by model.")
    key_id: str | None = Field(
        default=None, description="The key that submitted the jobs, when grouped by key."
    )
    images: int = Field(description="Images made.")
    videos: int = Field(description="Videos made.")
    input_tokens: int = Field(description="Prompt tokens of text generations.")
    output_tokens: int = Field(description="Answer tokens of text generations.")
    credits: int = Field(description="Credits charged.")
    jobs: int = Field(description="Jobs that ended (succeeded, failed or canceled).")


class UsageReport(BaseModel):
    start: date = Field(description="The first UTC day counted.")
    end: date = Field(description="The last UTC day counted (included).")
    group_by: list[GroupBy]
    rows: list[UsageRow]


class LedgerPage(BaseModel):
    entries: list[CreditEntry]
    limit: int
    offset: int
    next_offset: int | None = Field(description="The offset of the next page; null on the last.")
