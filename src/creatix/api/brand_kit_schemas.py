"""Wire shapes of brand kits and ad sets, as the platform dialect and the account API show
them (camelCase, as the platform's other shapes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class _Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class _Strict(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, extra="forbid", strict=True)


class ColorsIn(_Strict):
    primary: str | None = Field(default=None, description="#rrggbb")
    secondary: str | None = Field(default=None, description="#rrggbb")
    background: str | None = Field(default=None, description="#rrggbb")
    text: str | None = Field(default=None, description="#rrggbb")


class BrandKitRequest(_Strict):
    """A new kit (name required), or the fields of a kit to change (PATCH: only those sent;
    null clears defaultCta and legalLine). The logo and an uploaded font are sent to their
    own endpoints, PUT …/logo and PUT …/font."""

    name: str | None = Field(default=None, max_length=200)
    colors: ColorsIn | None = None
    font: str | None = Field(
        default=None, description="A bundled font's name (GET /brand-kits/fonts)."
    )
    tone_of_voice: str | None = Field(default=None, max_length=500)
    banned_words: list[str] | None = Field(default=None, max_length=100)
    default_cta: str | None = Field(default=None, max_length=40)
    legal_line: str | None = Field(default=None, max_length=200)


class Colors(_Wire):
    primary: str
    secondary: str
    background: str
    text: str


class FontOut(_Wire):
    name: str
    source: Literal["bundled", "uploaded"]


class LogoOut(_Wire):
    url: str
    mime_type: str


class BrandKitOut(_Wire):
    id: str
    name: str
    colors: Colors
    font: FontOut
    logo: LogoOut | None
    tone_of_voice: str
    banned_words: list[str]
    default_cta: str | None
    legal_line: str | None
    created_at: datetime
    updated_at: datetime


class BrandKitList(_Wire):
    brand_kits: list[BrandKitOut]


class FontList(_Wire):
    fonts: list[str]


# -- ad sets ---------------------------------------------------------------------------------


class BriefIn(_Strict):
    product: str = Field(min_length=1, max_length=300)
    audience: str = Field(min_length=1, max_length=300)
    offer: str = Field(min_length=1, max_length=300)
    input_image_path: str | None = Field(
        default=None,
        description="The path POST /upload answered: a picture of the product for the key "
        "visuals (the image model must take an input image).",
    )
    cta: str | None = Field(
        default=None, max_length=40, description="A call to action for every variant."
    )


class AdSetRequest(_Strict):
    brand_kit_id: str = Field(max_length=40)
    brief: BriefIn
    placements: list[Any] = Field(
        min_length=1,
        max_length=12,
        description="Preset names (square_feed, portrait_feed, story, landscape_link, "
        "display_300x250, display_728x90, display_160x600, display_300x600, display_970x250) "
        'or custom sizes {"width": W, "height": H}.',
    )
    variants: int = Field(default=2, ge=1, le=6)
    image_model: str = Field(default="creatix-flash", max_length=100)
    copy_model: str = Field(default="gemini-2.5-flash", max_length=100)


class AdSetAccepted(_Wire):
    id: str
    status: Literal["processing", "completed", "failed"]


PartStatus = Literal["processing", "completed", "failed"]


class AdSetPart(_Wire):
    role: Literal["copy", "visual"]
    variant: int | None
    job_id: str
    status: PartStatus
    progress: int
    error: str | None
    credits_reserved: int
    credits_charged: int | None


class AdCopyOut(_Wire):
    headline: str
    body: str
    cta: str


class CreativeOut(_Wire):
    placement: str
    width: int
    height: int
    url: str


class AdSetVariant(_Wire):
    index: int
    status: Literal["processing", "completed", "failed"]
    copy_text: AdCopyOut | None = Field(serialization_alias="copy")
    error: str | None
    creatives: list[CreativeOut]


class PlacementOut(_Wire):
    name: str
    width: int
    height: int


class AdSetOut(_Wire):
    id: str
    status: Literal["processing", "completed", "failed"]
    progress: int
    brand_kit_id: str
    image_model: str
    copy_model: str
    placements: list[PlacementOut]
    parts: list[AdSetPart]
    variants: list[AdSetVariant]
    credits_reserved: int
    credits_charged: int
    created_at: datetime
    completed_at: datetime | None


class AdSetEnvelope(_Wire):
    ad_set: AdSetOut
