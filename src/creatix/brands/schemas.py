"""Brand kits in canonical terms: what the service takes and gives, whatever the dialect."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class BrandColors(BaseModel):
    """The kit's colours as ``#rrggbb`` (lower case)."""

    model_config = ConfigDict(frozen=True)

    primary: str
    secondary: str
    background: str
    text: str


class KitChanges(BaseModel):
    """What a create or an update sets; None leaves a field as it is (an update) or takes
    its default (a create)."""

    model_config = ConfigDict(frozen=True)

    name: str | None = None
    primary: str | None = None
    secondary: str | None = None
    background: str | None = None
    text: str | None = None
    font_name: str | None = None
    """A bundled font's name (``layout.bundled_fonts``); an uploaded font replaces it."""
    tone_of_voice: str | None = None
    banned_words: list[str] | None = None
    default_cta: str | None = None
    legal_line: str | None = None
    cleared: frozenset[str] = frozenset()
    """Optional fields the caller set to null: ``default_cta``, ``legal_line``."""


class BrandKit(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    account_id: str
    name: str
    colors: BrandColors
    font_name: str
    font_key: str | None = None
    """The uploaded font's storage key; None: ``font_name`` is a bundled font."""
    logo_key: str | None = None
    logo_mime_type: str | None = None
    tone_of_voice: str = ""
    banned_words: list[str] = Field(default_factory=list)
    default_cta: str | None = None
    legal_line: str | None = None
    created_at: datetime
    updated_at: datetime
