"""The platform API's wire shapes (``/api/platform/...``), as adcreator-platform.txt has them.

Listings (credits, models, video models, styles) and the generate and video requests are
camelCase; a generation and a video are snake_case (``image_url``, ``video_url``,
``model_id``, ``created_at``), as the reference writes them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from creatix.catalog.schemas import Resolution
from creatix.jobs.specs import Movement
from creatix.media.sizing import ASPECT_RATIOS

AspectRatio = Literal["1:1", "16:9", "9:16", "4:3", "3:4", "1:4", "4:1"]
assert get_args(AspectRatio) == ASPECT_RATIOS, "keep AspectRatio in step with media.sizing"

GenerationStatus = Literal["processing", "completed", "failed"]


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class Credits(_Camel):
    balance: int
    lifetime_purchased: int
    lifetime_used: int
    unlimited: bool


class PlatformModel(_Camel):
    id: str = Field(description="The model id to pass to /generate as modelId.")
    display_name: str
    credits_cost: int = Field(description="Credits per image.")
    estimated_seconds: float
    supports_image_input: bool
    max_width: int
    max_height: int


class AspectRatioOption(BaseModel):
    id: str = Field(description='The value for aspectRatio, e.g. "16:9".')
    label: str
    width: int = Field(description="Output width in pixels.")
    height: int = Field(description="Output height in pixels.")


class ModelList(_Camel):
    models: list[PlatformModel]
    aspect_ratios: list[AspectRatioOption]


class StylePreset(_Camel):
    id: str = Field(description="The value for stylePreset.")
    display_name: str
    category: str
    prompt_suffix: str = Field(description="Appended to the prompt when the style is used.")


class StyleList(BaseModel):
    styles: list[StylePreset]


class GenerateRequest(BaseModel):
    """The documented fields, strictly typed; any other field is a 400 naming it."""

    model_config = ConfigDict(alias_generator=to_camel, extra="forbid", strict=True)

    prompt: str = Field(min_length=3, max_length=1000, description="3 to 1000 characters.")
    model_id: str = Field(description="An image model id from /models.")
    aspect_ratio: AspectRatio = Field(default="1:1", description="An id from /models.")
    style_preset: str | None = Field(default=None, description="A style id from /styles.")
    negative_prompt: str | None = Field(default=None, max_length=500)
    input_image_path: str | None = Field(
        default=None, description="The path /upload answered; the model must take image input."
    )
    batch_count: int = Field(default=1, ge=1, le=4, description="Images to generate, 1 to 4.")

    @field_validator("prompt")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if len(value.strip()) < 3:
            raise PydanticCustomError(
                "blank_prompt", "the prompt must have at least 3 characters besides whitespace"
            )
        return value


class GenerateAccepted(BaseModel):
    id: str = Field(description="The generation id to poll.")
    status: GenerationStatus


class Generation(BaseModel):
    id: str
    status: GenerationStatus
    progress: int = Field(
        ge=0,
        le=100,
        description="Percent done: the engine's denoising steps while processing, 100 once "
        "completed.",
    )
    prompt: str = Field(description="The prompt as sent, without the style's suffix.")
    image_url: str | None = Field(description="The first image; null until completed.")
    image_urls: list[str] = Field(description="Every image, in order.")
    model_id: str
    aspect_ratio: str
    style_preset: str | None
    batch_count: int
    created_at: datetime
    completed_at: datetime | None = Field(description="When it completed or failed.")
    error: str | None = Field(description="Why it failed; null otherwise.")


class GenerationEnvelope(BaseModel):
    generation: Generation


class Deleted(BaseModel):
    deleted: Literal[True] = True


# -- videos ----------------------------------------------------------------------------------


class VideoModel(_Camel):
    id: str = Field(description="The model id to pass to /videos as modelId.")
    display_name: str
    durations: list[int] = Field(description="The durations it makes, in seconds.")
    credits: dict[str, int] = Field(
        description='Credits per video, keyed by its duration in seconds ({"5": 350}).'
    )
    resolutions: list[Resolution] = Field(description="The resolutions it makes.")
    supports_audio: bool
    supports_negative_prompt: bool
    supports_cfg_scale: bool


class VideoModelList(BaseModel):
    models: list[VideoModel]


class VideoRequest(BaseModel):
    """The documented fields, strictly typed; any other field is a 400 naming it."""

    model_config = ConfigDict(alias_generator=to_camel, extra="forbid", strict=True)

    source_generation_id: str = Field(
        min_length=1, description="One of the caller's completed image generations."
    )
    prompt: str = Field(min_length=3, max_length=1000, description="3 to 1000 characters.")
    model_id: str = Field(description="A video model id from /video-models.")
    duration_seconds: int = Field(
        ge=2, le=15, description="2 to 15, and one of the model's durations."
    )
    generate_audio: bool | None = Field(
        default=None, description="Only for a model that supportsAudio."
    )
    negative_prompt: str | None = Field(default=None, max_length=2500)
    cfg_scale: float | None = Field(default=None, ge=0, le=1)
    movement_amplitude: Movement | None = Field(default=None, description='Default "auto".')
    resolution: Resolution | None = Field(
        default=None, description='One of the model\'s resolutions; default "720p".'
    )
    bgm: bool | None = Field(default=None, description="Add background music.")

    @field_validator("prompt")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if len(value.strip()) < 3:
            raise PydanticCustomError(
                "blank_prompt", "the prompt must have at least 3 characters besides whitespace"
            )
        return value


class VideoAccepted(BaseModel):
    id: str = Field(description="The video id to poll.")
    status: GenerationStatus


class Video(BaseModel):
    id: str
    status: GenerationStatus
    progress: int = Field(
        ge=0, le=100, description="Percent done as the engine reports it; 100 once completed."
    )
    prompt: str
    video_url: str | None = Field(description="The MP4; null until completed.")
    thumbnail_url: str | None = Field(
        description="A JPEG of the video's first frame; null until completed."
    )
    model_id: str
    duration_seconds: int = Field(description="The requested duration.")
    resolution: str | None = Field(
        description='"720p" or "1080p" (the short side); null for another size.'
    )
    width: int
    height: int
    created_at: datetime
    completed_at: datetime | None = Field(description="When it completed or failed.")
    error: str | None = Field(description="Why it failed; null otherwise.")


class VideoEnvelope(BaseModel):
    video: Video


class PlatformErrorDetail(BaseModel):
    code: str
    message: str
    param: str | None = Field(default=None, description="The offending field, when one is.")
    request_id: str | None = Field(default=None, description="On a 5xx: the log's request id.")


class PlatformError(BaseModel):
    """The platform API's error envelope, as ``render_error`` draws it."""

    error: PlatformErrorDetail
