"""Canonical types: what every dialect translates into, and what the job core stores."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

OutputFormat = Literal["png", "jpeg", "webp"]
SEED_LIMIT = 2**32

MIME_TYPES: dict[str, str] = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
FILE_EXTENSIONS: dict[str, str] = {"png": "png", "jpeg": "jpg", "webp": "webp"}
"""The file name extension of each format, as links show it (``.jpg``, as Artnex's do)."""


class JobKind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    TEXT = "text"


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def is_terminal(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED)


@dataclass(frozen=True)
class JobScope:
    """The jobs one dialect's reads see: those it created (``Job.source``), of its kinds.
    Any other job, the account's own included, is as unknown to it as a missing one."""

    source: str
    kinds: frozenset[JobKind]

    def covers(self, source: str, kind: str) -> bool:
        return source == self.source and kind in self.kinds


class ImageSpec(BaseModel):
    """One text-to-image request, in the engine's terms (pixels, not size names)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    prompt: str
    negative_prompt: str | None = None
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    n: int = Field(default=1, ge=1)
    seed: int = Field(ge=0, lt=SEED_LIMIT)
    style: str | None = None
    quality: Literal["standard", "hd"] = "standard"
    output_format: OutputFormat = "png"
    input_image: str | None = None
    """The path of one of the account's uploads to compose into the picture."""
    engine_params: dict[str, str | int | float | bool] = Field(default_factory=dict)


class ChatTurn(BaseModel):
    """One message of a conversation: the caller's (``user``) or the model's own (``model``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Literal["user", "model"]
    content: str


class TextConfig(BaseModel):
    """Generation settings; None leaves a setting to the engine's default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    temperature: float | None = None
    max_output_tokens: int | None = None
    top_p: float | None = None
    top_k: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    seed: int | None = None
    stop_sequences: list[str] = Field(default_factory=list)
    response_mime_type: Literal["text/plain", "application/json"] = "text/plain"
    response_json_schema: dict[str, Any] | None = None
    """With ``application/json``: the answer must be a JSON instance of this schema."""


class TextSpec(BaseModel):
    """One text generation: a conversation to answer, in the engine's terms."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    messages: list[ChatTurn] = Field(min_length=1)
    system_instruction: str = ""
    config: TextConfig = Field(default_factory=TextConfig)


class TextResult(BaseModel):
    """What a text engine answered, and the tokens it counted."""

    text: str
    input_tokens: int = Field(ge=0)
    output_tokens: int = Field(ge=0)


Movement = Literal["auto", "small", "medium", "large"]


class VideoSpec(BaseModel):
    """One image-to-video generation, in the engine's terms (pixels and seconds)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    prompt: str
    source_image: str
    """The storage key of the image to animate (a generation's image or an upload)."""
    negative_prompt: str | None = None
    duration_seconds: int = Field(gt=0)
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    fps: int = Field(default=24, gt=0)
    generate_audio: bool = False
    background_music: bool = False
    cfg_scale: float | None = None
    movement: Movement = "auto"
    seed: int = Field(ge=0, lt=SEED_LIMIT)
    engine_params: dict[str, str | int | float | bool] = Field(default_factory=dict)


def seed_or_random(seed: int | None) -> int:
    """The caller's seed, or a fresh random one: a stored spec always has its seed, so a retry
    draws the same picture."""
    return seed if seed is not None else secrets.randbelow(SEED_LIMIT)


REJECTED_CODES = frozenset({"provider_rejected", "unsupported_input_image"})


class JobError(BaseModel):
    code: str
    message: str

    @property
    def rejected(self) -> bool:
        """The request itself was refused (by a provider's validation, say): sending it again
        unchanged cannot succeed, so synchronous dialects answer a 4xx, not a 5xx."""
        return self.code in REJECTED_CODES


class StoredOutput(BaseModel):
    """One output a worker made and stored, before the job's completion records it."""

    kind: Literal["image", "video", "text", "thumbnail"]
    storage_key: str
    mime_type: str
    size_bytes: int
    checksum: str
    width: int | None = None
    height: int | None = None
    duration_seconds: float | None = None


class Asset(StoredOutput):
    """A stored output recorded on its job."""

    id: str
    job_id: str
    index: int


class Job(BaseModel):
    id: str
    account_id: str
    source: str = "creatix_v1"
    """The dialect that created the job: it renders the job's webhook payloads."""
    webhook_url: str | None = None
    request_id: str | None = None
    """The id of the request that submitted the job (X-Request-ID), for following it in logs."""
    kind: JobKind
    model: str
    engine: str
    spec: ImageSpec | TextSpec | VideoSpec
    """The spec of the job's kind (``image_spec``, ``text_spec``, ``video_spec`` narrow it)."""
    status: JobStatus
    attempts: int
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    engine_seconds: float | None = None
    progress: float | None = None
    """The running engine's fraction done (0..1), as its worker last reported it."""
    progress_step: int | None = None
    progress_steps: int | None = None
    """With ``progress``, the step the engine reached of its steps, where it counts them."""
    error: JobError | None = None
    credits_reserved: int = 0
    credits_charged: int | None = None
    """Set when the job is settled: what it produced, at its price (0 if it failed)."""
    assets: list[Asset] = Field(default_factory=list)
    text: TextResult | None = None
    """A text job's answer, once it succeeded."""

    @property
    def image_spec(self) -> ImageSpec:
        if not isinstance(self.spec, ImageSpec):
            raise TypeError(f"job {self.id} is a {self.kind} job")
        return self.spec

    @property
    def text_spec(self) -> TextSpec:
        if not isinstance(self.spec, TextSpec):
            raise TypeError(f"job {self.id} is a {self.kind} job")
        return self.spec

    @property
    def video_spec(self) -> VideoSpec:
        if not isinstance(self.spec, VideoSpec):
            raise TypeError(f"job {self.id} is a {self.kind} job")
        return self.spec


class IdempotencyKey(BaseModel):
    """A client's ``Idempotency-Key`` and a fingerprint of the request body it came with."""

    key: str = Field(min_length=1, max_length=255)
    fingerprint: str
