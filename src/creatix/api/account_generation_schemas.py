"""The wire types of the account API's generations (``api/account_generations.py``): the
models and styles the console's playground offers, the request bodies (one per kind, told
apart by ``kind``), the quote, and the generation as the gallery shows it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from creatix.catalog.schemas import Resolution
from creatix.jobs.specs import SEED_LIMIT, JobKind, JobStatus, Movement, OutputFormat
from creatix.media.sizing import AspectRatioName, SizeName

# -- models and styles -----------------------------------------------------------------------


class ImagePrice(BaseModel):
    credits_per_image: int = Field(
        description="Credits per image at the default parameters (the model's flat price)."
    )
    price_by: list[str] = Field(
        description="The parameters the price depends on (e.g. resolution, quality); empty: "
        "one price for every image."
    )
    prices: dict[str, int] = Field(
        description="Credits per image by the price_by parameters' values joined with '/' "
        "(e.g. '2k/high'); empty when price_by is."
    )
    defaults: dict[str, str] = Field(description="The price_by values a request leaves out.")


class VideoPrice(BaseModel):
    credits_by_duration: dict[str, int] = Field(
        description="Credits per video by its duration in seconds."
    )


class TextPrice(BaseModel):
    credits_per_1k_input_tokens: int
    credits_per_1k_output_tokens: int
    note: str = Field(
        default="A text generation reserves the most its answer can cost (every input byte a "
        "token, the longest answer allowed) and is charged its exact tokens.",
    )


class ImageModelLimits(BaseModel):
    max_n: int = Field(description="The most images one request makes.")
    max_prompt_chars: int
    min_side: int = Field(description="The shortest side in pixels the model makes.")
    max_side: int = Field(description="The longest side in pixels the model makes.")
    sizes: list[str] = Field(description="The size names (pixel budgets) it takes.")
    aspect_ratios: list[str] = Field(description="The aspect ratios that shape the budget.")
    resolutions: dict[str, int] = Field(
        description="For models sized by resolution: each resolution's long side in pixels "
        "(then `size` is not taken); empty otherwise."
    )
    qualities: list[str] = Field(description="The `quality` values it is priced by, if any.")
    supports_image_input: bool = Field(description="Takes an `input_image` (image-to-image).")


class VideoModelLimits(BaseModel):
    durations: list[int] = Field(description="The durations in seconds it makes.")
    resolutions: list[str] = Field(description="720p, 1080p: the video's short side.")
    fps: int
    supports_audio: bool
    supports_negative_prompt: bool


class TextModelLimits(BaseModel):
    max_output_tokens: int = Field(description="The longest answer, in tokens.")


class AccountModel(BaseModel):
    id: str
    kind: JobKind
    name: str = Field(description="The model's display name.")
    description: str
    engine: str = Field(description="The engine that serves it: preview, diffusers, openai…")
    available: bool = Field(description="Whether its engine can take a generation now.")
    unavailable_reason: str | None = Field(description="Why not, when it cannot.")
    price: ImagePrice | VideoPrice | TextPrice = Field(description="In credits, by kind.")
    limits: ImageModelLimits | VideoModelLimits | TextModelLimits = Field(
        description="What a request may ask of it, by kind."
    )


class AccountModelList(BaseModel):
    data: list[AccountModel]


class AccountStyle(BaseModel):
    id: str
    name: str
    description: str = Field(description="Its category and what it adds to the prompt.")


class AccountStyleList(BaseModel):
    data: list[AccountStyle]


# -- requests --------------------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    model: str = Field(min_length=1, max_length=100, description="A model id (GET …/models).")


class NewImageGeneration(_Body):
    kind: Literal["image"]
    prompt: str = Field(min_length=1, max_length=10000, description="What to draw.")
    negative_prompt: str | None = Field(default=None, max_length=10000)
    size: SizeName | None = Field(
        default=None,
        description="The pixel budget (its area; default 1024x1024), shaped by aspect_ratio, "
        "sides rounded to multiples of 64. Not for models sized by resolution.",
    )
    aspect_ratio: AspectRatioName = "1:1"
    resolution: str | None = Field(
        default=None, max_length=20, description="Models priced by resolution: 1k, 2k, 4k."
    )
    quality: str | None = Field(
        default=None, max_length=20, description="Models priced by quality: low, medium, high."
    )
    style: str | None = Field(default=None, max_length=100, description="A style id.")
    n: int = Field(default=1, ge=1, le=100, description="Images to make (the model's max_n).")
    seed: int | None = Field(default=None, ge=0, lt=SEED_LIMIT)
    output_format: OutputFormat = "png"
    input_image: str | None = Field(
        default=None,
        max_length=40,
        description="The id of one of the account's image assets, for image-to-image "
        "(models with supports_image_input).",
    )


class NewVideoGeneration(_Body):
    kind: Literal["video"]
    source_asset: str = Field(
        min_length=1, max_length=40, description="The id of one of the account's image assets."
    )
    prompt: str = Field(default="", max_length=10000, description="How it should move.")
    negative_prompt: str | None = Field(default=None, max_length=10000)
    duration: int | None = Field(
        default=None, ge=1, le=3600, description="Seconds; default the model's shortest."
    )
    resolution: Resolution | None = Field(default=None, description="Default 720p.")
    audio: bool = Field(default=False, description="Generate audio (models that can).")
    movement: Movement = Field(default="auto", description="The motion's amplitude.")
    seed: int | None = Field(default=None, ge=0, lt=SEED_LIMIT)


class GenerationMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    role: Literal["user", "model", "assistant"] = Field(
        description="The caller's turn (user) or the model's own (model, or assistant)."
    )
    content: str = Field(min_length=1, max_length=100000)


class NewTextGeneration(_Body):
    kind: Literal["text"]
    system_instruction: str | None = Field(default=None, max_length=100000)
    messages: list[GenerationMessage] = Field(min_length=1, max_length=100)
    response_schema: dict[str, Any] | None = Field(
        default=None,
        description="A JSON Schema: the answer is then JSON valid against it.",
    )
    max_output_tokens: int | None = Field(default=None, ge=1, le=1_000_000)


class NewGeneration(
    RootModel[
        Annotated[
            NewImageGeneration | NewVideoGeneration | NewTextGeneration, Field(discriminator="kind")
        ]
    ]
):
    """An image, a video or a text generation, by ``kind``."""


# -- answers ---------------------------------------------------------------------------------


class GenerationQuote(BaseModel):
    credits: int = Field(description="What the request would reserve now (0: unlimited).")
    width: int | None = Field(description="The exact pixels it would make (image, video).")
    height: int | None
    n: int | None = Field(description="Images it would make.")
    duration: int | None = Field(description="A video's seconds.")


class GenerationError(BaseModel):
    code: str
    message: str


class GenerationAsset(BaseModel):
    id: str
    kind: Literal["image", "video"]
    mime_type: str
    width: int | None
    height: int | None
    duration_seconds: float | None
    bytes: int
    url: str = Field(description="A signed download link; it expires.")
    thumbnail_url: str | None = Field(description="A video's poster image (signed).")


class SpecMessage(BaseModel):
    role: Literal["user", "model"]
    content: str


class GenerationSpec(BaseModel):
    """What was asked, in the request's own names (null where the kind has no such field)."""

    prompt: str | None = None
    negative_prompt: str | None = None
    width: int | None = None
    height: int | None = None
    n: int | None = None
    seed: int | None = None
    style: str | None = None
    resolution: str | None = None
    quality: str | None = None
    input_image: str | None = Field(default=None, description="Its asset id, if still there.")
    source_asset: str | None = Field(default=None, description="Its asset id, if still there.")
    duration: int | None = None
    audio: bool | None = None
    movement: str | None = None
    system_instruction: str | None = None
    messages: list[SpecMessage] | None = None
    response_schema: dict[str, Any] | None = None
    max_output_tokens: int | None = None


class AccountGeneration(BaseModel):
    id: str
    kind: JobKind
    model: str
    engine: str = Field(description="The engine type that took it.")
    source: str = Field(description="The API that made it: console, platform, creatix_v1…")
    status: JobStatus
    progress: float | None = Field(description="0..1 while running, as the engine reports.")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    credits_reserved: int
    credits_charged: int | None = Field(description="Set once it ended.")
    error: GenerationError | None
    spec: GenerationSpec
    assets: list[GenerationAsset] = Field(description="Its images or video, once succeeded.")
    text: str | None = Field(description="A text generation's answer.")


class AccountGenerationList(BaseModel):
    data: list[AccountGeneration]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: last.")
