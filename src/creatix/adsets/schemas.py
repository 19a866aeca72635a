"""Ad sets in canonical terms: what the service reads back for a dialect to render."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from creatix.jobs.specs import JobStatus

AdSetStatus = Literal["processing", "completed", "failed"]
VariantStatus = Literal["waiting", "composing", "done", "failed"]


class PlacementSize(BaseModel):
    name: str
    width: int
    height: int


class PartView(BaseModel):
    """One job of the set: the copy job, or a variant's key visual."""

    role: Literal["copy", "visual"]
    variant: int | None
    job_id: str
    status: JobStatus
    progress: float
    error_code: str | None = None
    error_message: str | None = None
    credits_reserved: int
    credits_charged: int | None = None


class CreativeView(BaseModel):
    placement: str
    width: int
    height: int
    storage_key: str
    mime_type: str
    size_bytes: int


class VariantView(BaseModel):
    index: int
    status: VariantStatus
    headline: str | None = None
    body: str | None = None
    cta: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    creatives: list[CreativeView]


class AdSetView(BaseModel):
    id: str
    account_id: str
    brand_kit_id: str
    status: AdSetStatus
    progress: float
    """0..1 across its parts and its creatives."""
    placements: list[PlacementSize]
    variants: list[VariantView]
    parts: list[PartView]
    image_model: str
    copy_model: str
    credits_reserved: int
    credits_charged: int
    """What the parts that ended were charged."""
    created_at: datetime
    finished_at: datetime | None = None
