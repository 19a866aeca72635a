"""What the uploads room hands out."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class Upload(BaseModel):
    """A stored input image; ``path`` is its storage key and what dialects hand out."""

    id: str
    path: str
    mime_type: str
    size_bytes: int
    width: int
    height: int
    created_at: datetime
