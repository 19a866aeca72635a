"""What the SDK answers: small frozen dataclasses, each keeping the JSON it came from as
``raw``. Every job-like result has ``status`` normalized to ``queued | running | succeeded |
failed | canceled`` beside the dialect's own word (``raw_status``), and its outputs as
``assets``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["queued", "running", "succeeded", "failed", "canceled"]
TERMINAL: frozenset[str] = frozenset({"succeeded", "failed", "canceled"})
_STATUSES: dict[object, Status] = {
    "queued": "queued",
    "running": "running",
    "succeeded": "succeeded",
    "failed": "failed",
    "canceled": "canceled",
}

_TASK_STATUSES: dict[str, Status] = {
    "pending": "queued",
    "running": "running",
    "done": "succeeded",
    "failed": "failed",
}


def _platform_status(raw: dict[str, Any]) -> Status:
    status = raw.get("status")
    if status == "completed":
        return "succeeded"
    if status == "failed":
        error = str(raw.get("error") or "")
        return "canceled" if "canceled" in error.lower() else "failed"
    return "running" if int(raw.get("progress") or 0) > 0 else "queued"


def _opt_int(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class Asset:
    """One output file: its (signed, expiring) URL and what is known about it."""

    url: str
    kind: str = "image"
    id: str | None = None
    mime_type: str | None = None
    width: int | None = None
    height: int | None = None
    duration_seconds: float | None = None
    bytes: int | None = None
    thumbnail_url: str | None = None
    b64_json: str | None = None

    @classmethod
    def from_event(cls, raw: dict[str, Any]) -> Asset:
        duration = raw.get("duration_seconds")
        return cls(
            url=str(raw.get("url") or ""),
            kind=str(raw.get("kind") or "image"),
            id=_opt_str(raw.get("id")),
            mime_type=_opt_str(raw.get("mime_type")),
            width=_opt_int(raw.get("width")),
            height=_opt_int(raw.get("height")),
            duration_seconds=float(duration) if isinstance(duration, int | float) else None,
            bytes=_opt_int(raw.get("bytes")),
        )


@dataclass(frozen=True)
class ImageResult:
    """``images.generate``: Creatix v1's synchronous answer; ``credits_charged`` from its
    ``X-Creatix-Credits-Charged`` header (None from a server that does not send it)."""

    job_id: str | None
    created: int
    assets: tuple[Asset, ...]
    raw: dict[str, Any] = field(repr=False)
    status: Status = "succeeded"
    credits_charged: int | None = None

    @property
    def urls(self) -> list[str]:
        return [a.url for a in self.assets if a.url]

    @classmethod
    def from_wire(
        cls, raw: dict[str, Any], job_id: str | None, credits_charged: str | None = None
    ) -> ImageResult:
        assets = tuple(
            Asset(url=str(item.get("url") or ""), b64_json=_opt_str(item.get("b64_json")))
            for item in raw.get("data") or []
        )
        return cls(
            job_id=job_id,
            created=int(raw.get("created") or 0),
            assets=assets,
            raw=raw,
            credits_charged=int(credits_charged)
            if credits_charged is not None and credits_charged.isdecimal()
            else None,
        )


@dataclass(frozen=True)
class Generation:
    """A platform API image generation (``/api/platform/generations/{id}``)."""

    id: str
    status: Status
    raw_status: str
    progress: int
    prompt: str | None
    model: str | None
    assets: tuple[Asset, ...]
    error: str | None
    raw: dict[str, Any] = field(repr=False)

    @property
    def urls(self) -> list[str]:
        return [a.url for a in self.assets]

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> Generation:
        raw = raw.get("generation", raw)
        urls = raw.get("image_urls") or ([raw["image_url"]] if raw.get("image_url") else [])
        return cls(
            id=str(raw["id"]),
            status=_platform_status(raw),
            raw_status=str(raw.get("status")),
            progress=int(raw.get("progress") or 0),
            prompt=_opt_str(raw.get("prompt")),
            model=_opt_str(raw.get("model_id")),
            assets=tuple(Asset(url=str(url)) for url in urls),
            error=_opt_str(raw.get("error")),
            raw=raw,
        )


@dataclass(frozen=True)
class Video:
    """A video: the platform API's (``/api/platform/videos/{id}``), or, for one made from a
    local image, the asset generator's image-to-video task (``source == "asset_generator"``)."""

    id: str
    status: Status
    raw_status: str
    progress: int
    model: str | None
    video_url: str | None
    thumbnail_url: str | None
    duration_seconds: int | None
    assets: tuple[Asset, ...]
    error: str | None
    raw: dict[str, Any] = field(repr=False)
    source: Literal["platform", "asset_generator"] = "platform"

    @property
    def urls(self) -> list[str]:
        return [a.url for a in self.assets]

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> Video:
        raw = raw.get("video", raw)
        url = _opt_str(raw.get("video_url"))
        thumbnail = _opt_str(raw.get("thumbnail_url"))
        assets = (
            (
                Asset(
                    url=url,
                    kind="video",
                    thumbnail_url=thumbnail,
                    width=_opt_int(raw.get("width")),
                    height=_opt_int(raw.get("height")),
                ),
            )
            if url
            else ()
        )
        return cls(
            id=str(raw["id"]),
            status=_platform_status(raw),
            raw_status=str(raw.get("status")),
            progress=int(raw.get("progress") or 0),
            model=_opt_str(raw.get("model_id")),
            video_url=url,
            thumbnail_url=thumbnail,
            duration_seconds=_opt_int(raw.get("duration_seconds")),
            assets=assets,
            error=_opt_str(raw.get("error")),
            raw=raw,
        )

    @classmethod
    def from_task(cls, task: AssetTask, duration: int | None = None) -> Video:
        video = next((a for a in task.assets if a.kind == "video"), None)
        return cls(
            id=task.id,
            status=task.status,
            raw_status=task.raw_status,
            progress=100 if task.status == "succeeded" else 0,
            model=None,
            video_url=video.url if video else None,
            thumbnail_url=video.thumbnail_url if video else None,
            duration_seconds=duration,
            assets=task.assets,
            error=task.error,
            raw=task.raw,
            source="asset_generator",
        )


@dataclass(frozen=True)
class AssetTask:
    """An asset generator task (``/api/asset_generator/{id}/``)."""

    id: str
    status: Status
    raw_status: str
    assets: tuple[Asset, ...]
    error: str | None
    raw: dict[str, Any] = field(repr=False)

    @property
    def urls(self) -> list[str]:
        return [a.url for a in self.assets]

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> AssetTask:
        assets = tuple(
            Asset(
                url=str(a.get("url") or ""),
                kind=str(a.get("type") or "image"),
                id=_opt_str(a.get("id")),
                thumbnail_url=_opt_str(a.get("thumbnail_url")),
            )
            for a in raw.get("assets") or []
        )
        raw_status = str(raw.get("status"))
        return cls(
            id=str(raw["id"]),
            status=_TASK_STATUSES.get(raw_status, "running"),
            raw_status=raw_status,
            assets=assets,
            error=_opt_str(raw.get("failed_reason")) or None,
            raw=raw,
        )


@dataclass(frozen=True)
class Copy:
    """A text generator task (``/api/text_generator/{id}/``): the model's answer as ``text``."""

    id: str
    status: Status
    raw_status: str
    model: str | None
    text: str | None
    credits: float
    error: str | None
    raw: dict[str, Any] = field(repr=False)
    assets: tuple[Asset, ...] = ()

    def json(self) -> Any:
        """The answer parsed as JSON (for a task that asked for a JSON Schema)."""
        if self.text is None:
            raise ValueError(f"the task is {self.status}; it has no answer yet")
        return json.loads(self.text)

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> Copy:
        raw_status = str(raw.get("status"))
        credits = raw.get("credits_used")
        return cls(
            id=str(raw["id"]),
            status=_TASK_STATUSES.get(raw_status, "running"),
            raw_status=raw_status,
            model=_opt_str(raw.get("model_name")),
            text=_opt_str(raw.get("response_text")),
            credits=float(credits) if isinstance(credits, int | float) else 0.0,
            error=_opt_str(raw.get("failed_reason")) or None,
            raw=raw,
        )


@dataclass(frozen=True)
class Credits:
    """The platform API's ``GET /api/platform/credits``."""

    balance: int
    lifetime_purchased: int
    lifetime_used: int
    unlimited: bool
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> Credits:
        return cls(
            balance=int(raw.get("balance") or 0),
            lifetime_purchased=int(raw.get("lifetimePurchased") or 0),
            lifetime_used=int(raw.get("lifetimeUsed") or 0),
            unlimited=bool(raw.get("unlimited")),
            raw=raw,
        )


@dataclass(frozen=True)
class Job:
    """``GET /v1/jobs/{id}``: a job of any dialect (its id as that dialect handed it out), in
    the terms of its event stream: ``progress`` 0–100 with the engine's ``step`` of ``steps``
    while it runs, ``credits_charged`` once it ended, its ``assets`` or ``text``, or its
    ``error`` (a message) and ``error_code``."""

    id: str
    status: Status
    kind: str
    model: str | None
    progress: float
    step: int | None
    steps: int | None
    credits_reserved: int
    credits_charged: int | None
    assets: tuple[Asset, ...]
    text: str | None
    error: str | None
    error_code: str | None
    raw: dict[str, Any] = field(repr=False)

    @property
    def urls(self) -> list[str]:
        return [a.url for a in self.assets]

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> Job:
        status = raw.get("status")
        failure = raw.get("error")
        error: dict[str, Any] = failure if isinstance(failure, dict) else {}
        return cls(
            id=str(raw["job_id"]),
            status=_STATUSES.get(status, "running"),
            kind=str(raw.get("kind") or "image"),
            model=_opt_str(raw.get("model")),
            progress=float(raw.get("progress") or 0),
            step=_opt_int(raw.get("step")),
            steps=_opt_int(raw.get("steps")),
            credits_reserved=_opt_int(raw.get("credits_reserved")) or 0,
            credits_charged=_opt_int(raw.get("credits_charged")),
            assets=tuple(Asset.from_event(a) for a in raw.get("assets") or []),
            text=_opt_str(raw.get("text")),
            error=_opt_str(error.get("message")),
            error_code=_opt_str(error.get("code")),
            raw=raw,
        )


@dataclass(frozen=True)
class KeyInfo:
    """``GET /v1/me``: the key in use, its account and scopes."""

    id: str
    account: str
    account_id: str
    plan: str
    scopes: tuple[str, ...]
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> KeyInfo:
        return cls(
            id=str(raw["id"]),
            account=str(raw.get("account") or ""),
            account_id=str(raw.get("account_id") or ""),
            plan=str(raw.get("plan") or ""),
            scopes=tuple(str(scope) for scope in raw.get("scopes") or []),
            raw=raw,
        )


@dataclass(frozen=True)
class Upload:
    """``POST /api/platform/upload``: the stored image's path and its URL."""

    path: str
    public_url: str
    raw: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class JobEvent:
    """One server-sent event of ``GET /v1/jobs/{id}/events``: ``queued`` (with the queue
    ``position``), ``progress`` (``progress`` 0–100, ``step`` of ``steps``), ``completed`` or
    ``failed``. ``data`` is the event's JSON."""

    id: int | None
    event: str
    data: dict[str, Any]

    @property
    def job_id(self) -> str | None:
        return _opt_str(self.data.get("job_id"))

    @property
    def status(self) -> str | None:
        return _opt_str(self.data.get("status"))

    @property
    def position(self) -> int | None:
        return _opt_int(self.data.get("position"))

    @property
    def progress(self) -> int | None:
        return _opt_int(self.data.get("progress"))

    @property
    def step(self) -> int | None:
        """The engine's step (from 1) of ``steps``: a denoising step, a video frame; None
        where the engine does not count them."""
        return _opt_int(self.data.get("step"))

    @property
    def steps(self) -> int | None:
        return _opt_int(self.data.get("steps"))

    @property
    def terminal(self) -> bool:
        return self.event in ("completed", "failed")

    @property
    def credits_charged(self) -> float | None:
        value = self.data.get("credits_charged")
        return float(value) if isinstance(value, int | float) else None

    @property
    def assets(self) -> tuple[Asset, ...]:
        return tuple(Asset.from_event(a) for a in self.data.get("assets") or [])
