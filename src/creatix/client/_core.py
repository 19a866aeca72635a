"""The SDK's logic, written once for both transports.

Every API call is an *operation*: a generator that yields the I/O it needs (``Http``,
``Sleep``, ``OpenStream``, ``NextLine``, ``CloseStream``, ``Download``, ``Await``) and gets
the answer sent back in. ``Creatix`` runs operations with ``httpx.Client`` and
``time.sleep``, ``AsyncCreatix`` with ``httpx.AsyncClient`` and ``asyncio.sleep``; retries,
request shapes, waiting on the events stream and parsing all live here.
"""

from __future__ import annotations

import base64
import mimetypes
import os
import random
import time
import uuid
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypedDict, TypeVar
from urllib.parse import unquote, urlsplit

import httpx

from creatix.client._errors import (
    ConnectionFailed,
    CreatixError,
    MissingApiId,
    NotFound,
    parse_error,
    retry_after,
)
from creatix.client._sse import EventParser
from creatix.client._types import (
    TERMINAL,
    Asset,
    AssetTask,
    Copy,
    Credits,
    Generation,
    ImageResult,
    Job,
    JobEvent,
    KeyInfo,
    Upload,
    Video,
)

T = TypeVar("T")
Op = Generator[Any, Any, T]
"""An operation: yields actions, is sent their results, returns its answer."""

ProgressCallback = Callable[[JobEvent], Any]

RETRY_STATUSES = frozenset({429, 502, 503, 504})
MAX_RETRY_AFTER = 60.0
"""A ``Retry-After`` longer than this (a spent daily quota) is not waited out: it is raised."""
DEFAULT_VIDEO_MODEL = "kling-v2.5-turbo"
DEFAULT_COPY_MODEL = "gemini-2.5-flash"
STREAM_FAILURES_BEFORE_POLLING = 3


# -- actions: what an operation asks its transport to do -------------------------------------


@dataclass(frozen=True)
class Http:
    method: str
    url: str
    headers: dict[str, str]
    json: Any = None
    content: bytes | None = None
    files: dict[str, tuple[str, bytes, str]] | None = None
    params: dict[str, Any] | None = None
    timeout: float | None = None


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class OpenStream:
    """A GET whose body is read a line at a time; answers an open ``httpx.Response``."""

    url: str
    headers: dict[str, str]
    timeout: float


@dataclass(frozen=True)
class NextLine:
    """The stream's next line, or None at its end."""

    response: httpx.Response


@dataclass(frozen=True)
class ReadRest:
    """The rest of a stream's body (to read an error), then closed."""

    response: httpx.Response


@dataclass(frozen=True)
class CloseStream:
    response: httpx.Response


@dataclass(frozen=True)
class Download:
    """GET ``url`` into ``temp`` (a 2xx), else read the error body; answers the response."""

    url: str
    headers: dict[str, str]
    temp: Path


@dataclass(frozen=True)
class Await:
    """An awaitable an async callback returned (the async transport awaits it)."""

    awaitable: Any


# -- options, typed once for both clients ----------------------------------------------------


class ImageOptions(TypedDict, total=False):
    model: str
    size: str
    aspect_ratio: str
    n: int
    seed: int
    style: str
    quality: Literal["standard", "hd"]
    negative_prompt: str
    response_format: Literal["url", "b64_json"]
    output_format: Literal["png", "jpeg", "webp"]
    idempotency_key: str


class GenerationOptions(TypedDict, total=False):
    model: str
    aspect_ratio: str
    style: str
    negative_prompt: str
    n: int
    input_image_path: str
    idempotency_key: str


class VideoOptions(TypedDict, total=False):
    source_generation_id: str
    image: str | os.PathLike[str]
    model: str
    duration: int
    resolution: str
    audio: bool
    negative_prompt: str
    cfg_scale: float
    movement: str
    bgm: bool
    aspect_ratio: str
    idempotency_key: str


class CopyOptions(TypedDict, total=False):
    model: str
    system: str
    schema: dict[str, Any]
    temperature: float
    max_output_tokens: int
    seed: int
    config: dict[str, Any]
    webhook_url: str
    idempotency_key: str


class WaitOptions(TypedDict, total=False):
    timeout: float
    on_progress: ProgressCallback | None


# -- the core --------------------------------------------------------------------------------


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


@dataclass
class Core:
    """Configuration and every operation of the API."""

    base_url: str
    api_key: str | None
    api_id: str | None
    timeout: float
    max_retries: int
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    poll_interval: float = 0.25
    _random: random.Random = field(default_factory=random.Random)

    @classmethod
    def configure(
        cls,
        base_url: str | None,
        api_key: str | None,
        api_id: str | None,
        timeout: float,
        max_retries: int,
    ) -> Core:
        url = base_url or _env("CREATIX_BASE_URL") or "http://127.0.0.1:8000"
        return cls(
            base_url=url.rstrip("/"),
            api_key=api_key or _env("CREATIX_API_KEY"),
            api_id=api_id or _env("CREATIX_API_ID"),
            timeout=timeout,
            max_retries=max(0, max_retries),
        )

    # -- requests, retried -------------------------------------------------------------------

    def url(self, path: str) -> str:
        return path if "://" in path else f"{self.base_url}{path}"

    def bearer(self) -> dict[str, str]:
        if not self.api_key:
            raise CreatixError(
                "No API key: pass api_key= or set CREATIX_API_KEY.", code="missing_api_key"
            )
        return {"Authorization": f"Bearer {self.api_key}"}

    def pair(self) -> dict[str, str]:
        """The asset and text generators' headers: ``X-API-ID`` (the key's id) and
        ``X-API-KEY``; ``known_api_id`` first learns the id when it was not given."""
        self.bearer()
        if not self.api_id:
            raise MissingApiId(
                "The asset and text generators need the key's id as X-API-ID: pass api_id= or "
                "set CREATIX_API_ID (`creatix keys list` shows it as key_id).",
                code="missing_api_id",
            )
        assert self.api_key is not None
        return {"X-API-ID": self.api_id, "X-API-KEY": self.api_key}

    def get_job(self, job_id: str) -> Op[Job]:
        """``GET /v1/jobs/{id}``: any dialect's job, with what it cost once it ended."""
        response = yield from self.request("GET", f"/v1/jobs/{job_id}")
        return Job.from_wire(self.json_of(response))

    def me(self) -> Op[KeyInfo]:
        """``GET /v1/me``: the key in use."""
        response = yield from self.request("GET", "/v1/me")
        return KeyInfo.from_wire(self.json_of(response))

    def known_api_id(self) -> Op[str]:
        """The key's id: as given, else asked of the server once (``GET /v1/me``); a server
        without that endpoint leaves it to be given (``MissingApiId``)."""
        if not self.api_id:
            self.bearer()
            try:
                info = yield from self.me()
            except NotFound:
                self.pair()  # raises MissingApiId
                raise
            self.api_id = info.id
        return self.api_id

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base·2^attempt)]."""
        ceiling = min(self.backoff_cap, self.backoff_base * (2**attempt))
        return self._random.uniform(ceiling / 2, ceiling)

    def request(
        self,
        method: str,
        path: str,
        *,
        auth: Literal["bearer", "pair", "none"] = "bearer",
        json: Any = None,
        content: bytes | None = None,
        content_type: str | None = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
        params: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Op[httpx.Response]:
        """One call, retried on 429, 502, 503, 504 and connection errors (honouring
        ``Retry-After``) up to ``max_retries`` times; the same ``Idempotency-Key`` every time.
        An error answer raises its typed exception."""
        if auth == "pair":
            yield from self.known_api_id()
        headers = {"pair": self.pair, "bearer": self.bearer, "none": dict}[auth]()
        headers["Accept"] = "application/json"
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        if content_type is not None:
            headers["Content-Type"] = content_type
        action = Http(method, self.url(path), headers, json, content, files, params)
        attempt = 0
        while True:
            try:
                response: httpx.Response = yield action
            except httpx.TransportError as exc:
                if attempt >= self.max_retries:
                    raise ConnectionFailed(
                        f"{method} {path}: {exc.__class__.__name__}: {exc or 'no answer'}",
                        code="connection_failed",
                    ) from exc
                yield Sleep(self.backoff(attempt))
                attempt += 1
                continue
            if response.status_code < 400:
                return response
            error = parse_error(response.status_code, response.content, dict(response.headers))
            if response.status_code in RETRY_STATUSES and attempt < self.max_retries:
                wait = retry_after(response.headers.get("retry-after"))
                if wait is None or wait <= MAX_RETRY_AFTER:
                    yield Sleep(self.backoff(attempt) if wait is None else wait)
                    attempt += 1
                    continue
            raise error

    def json_of(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise CreatixError(
                f"The server answered {response.status_code} with a body that is not JSON.",
                status=response.status_code,
                code="invalid_response",
            ) from exc

    # -- Creatix v1 --------------------------------------------------------------------------

    def generate_image(self, prompt: str, options: ImageOptions) -> Op[ImageResult]:
        body: dict[str, Any] = {"prompt": prompt}
        for name in (
            "model",
            "size",
            "aspect_ratio",
            "n",
            "seed",
            "style",
            "quality",
            "negative_prompt",
            "response_format",
            "output_format",
        ):
            if options.get(name) is not None:
                body[name] = options[name]
        response = yield from self.request(
            "POST",
            "/v1/images/generations",
            json=body,
            idempotency_key=options.get("idempotency_key") or new_idempotency_key(),
        )
        return ImageResult.from_wire(
            self.json_of(response),
            response.headers.get("x-creatix-job-id"),
            response.headers.get("x-creatix-credits-charged"),
        )

    # -- the platform API: images, uploads, videos, credits -----------------------------------

    def create_generation(self, prompt: str, options: GenerationOptions) -> Op[Generation]:
        body: dict[str, Any] = {
            "prompt": prompt,
            "modelId": options.get("model") or "creatix-flash",
        }
        wire = {
            "aspect_ratio": "aspectRatio",
            "style": "stylePreset",
            "negative_prompt": "negativePrompt",
            "n": "batchCount",
            "input_image_path": "inputImagePath",
        }
        for name, wire_name in wire.items():
            if options.get(name) is not None:
                body[wire_name] = options[name]  # type: ignore[literal-required]
        response = yield from self.request(
            "POST",
            "/api/platform/generate",
            json=body,
            idempotency_key=options.get("idempotency_key") or new_idempotency_key(),
        )
        return Generation.from_wire(self.json_of(response))

    def get_generation(self, generation_id: str) -> Op[Generation]:
        response = yield from self.request("GET", f"/api/platform/generations/{generation_id}")
        return Generation.from_wire(self.json_of(response))

    def list_generations(self, limit: int, offset: int) -> Op[list[Generation]]:
        response = yield from self.request(
            "GET", "/api/platform/generations", params={"limit": limit, "offset": offset}
        )
        return [Generation.from_wire(item) for item in self.json_of(response)]

    def delete_generation(self, generation_id: str) -> Op[bool]:
        response = yield from self.request("DELETE", f"/api/platform/generations/{generation_id}")
        return bool(self.json_of(response).get("deleted"))

    def upload(self, image: str | os.PathLike[str] | bytes, content_type: str | None) -> Op[Upload]:
        if isinstance(image, bytes):
            data, name = image, "image"
        else:
            data, name = Path(image).read_bytes(), Path(image).name
        kind = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        response = yield from self.request(
            "POST", "/api/platform/upload", files={"file": (name, data, kind)}
        )
        raw = self.json_of(response)
        return Upload(path=str(raw["path"]), public_url=str(raw["publicUrl"]), raw=raw)

    def credits(self) -> Op[Credits]:
        response = yield from self.request("GET", "/api/platform/credits")
        return Credits.from_wire(self.json_of(response))

    def create_video(self, prompt: str, options: VideoOptions) -> Op[Video]:
        """From one of the caller's image generations (the platform's ``POST /videos``), or
        from a local image: uploaded, then animated by the asset generator's image-to-video
        (the platform's /videos takes only a generation)."""
        source, image = options.get("source_generation_id"), options.get("image")
        if (source is None) == (image is None):
            raise ValueError("give exactly one of source_generation_id= and image=")
        key = options.get("idempotency_key") or new_idempotency_key()
        model = options.get("model") or DEFAULT_VIDEO_MODEL
        duration = options.get("duration") or 5
        if image is not None:
            yield from self.known_api_id()  # before uploading: the asset generator needs it
            upload = yield from self.upload(image, None)
            params: dict[str, Any] = {
                "prompt": prompt,
                "duration": str(duration),
                "image_url": upload.public_url,
            }
            for name, wire_name in (
                ("negative_prompt", "negative_prompt"),
                ("cfg_scale", "cfg_scale"),
                ("audio", "generate_audio"),
                ("aspect_ratio", "aspect_ratio"),
            ):
                if options.get(name) is not None:
                    params[wire_name] = options[name]  # type: ignore[literal-required]
            task = yield from self.create_asset(model, params, None, key)
            return Video.from_task(task, duration)
        body: dict[str, Any] = {
            "sourceGenerationId": source,
            "prompt": prompt,
            "modelId": model,
            "durationSeconds": duration,
        }
        for name, wire_name in (
            ("audio", "generateAudio"),
            ("negative_prompt", "negativePrompt"),
            ("cfg_scale", "cfgScale"),
            ("movement", "movementAmplitude"),
            ("resolution", "resolution"),
            ("bgm", "bgm"),
        ):
            if options.get(name) is not None:
                body[wire_name] = options[name]  # type: ignore[literal-required]
        response = yield from self.request(
            "POST", "/api/platform/videos", json=body, idempotency_key=key
        )
        return Video.from_wire(self.json_of(response))

    def get_video(self, video_id: str) -> Op[Video]:
        """The platform's video; one made from a local image is the asset generator's task."""
        try:
            response = yield from self.request("GET", f"/api/platform/videos/{video_id}")
        except NotFound as missing:
            # Not the platform's: a video from a local image is the asset generator's task,
            # which needs the key's id (learned here when this client did not create it).
            if not self.api_id:
                try:
                    yield from self.known_api_id()
                except CreatixError:
                    raise missing from None
            task = yield from self.get_asset(video_id)
            return Video.from_task(task)
        return Video.from_wire(self.json_of(response))

    # -- the asset generator -----------------------------------------------------------------

    def create_asset(
        self,
        model_name: str,
        input_params: Mapping[str, Any],
        webhook_url: str | None,
        idempotency_key: str | None,
    ) -> Op[AssetTask]:
        body: dict[str, Any] = {"model_name": model_name, "input_params": dict(input_params)}
        if webhook_url:
            body["webhook_url"] = webhook_url
        response = yield from self.request(
            "POST",
            "/api/asset_generator/",
            auth="pair",
            json=body,
            idempotency_key=idempotency_key or new_idempotency_key(),
        )
        return AssetTask.from_wire(self.json_of(response))

    def get_asset(self, task_id: str) -> Op[AssetTask]:
        response = yield from self.request("GET", f"/api/asset_generator/{task_id}/", auth="pair")
        return AssetTask.from_wire(self.json_of(response))

    # -- the text generator ------------------------------------------------------------------

    def create_copy(self, messages: str | list[dict[str, str]], options: CopyOptions) -> Op[Copy]:
        turns = [{"role": "user", "content": messages}] if isinstance(messages, str) else messages
        config: dict[str, Any] = dict(options.get("config") or {})
        for name in ("temperature", "max_output_tokens", "seed"):
            if options.get(name) is not None:
                config[name] = options[name]
        schema = options.get("schema")
        if schema is not None:
            config["response_mime_type"] = "application/json"
            config["response_json_schema"] = schema
        body: dict[str, Any] = {
            "model_name": options.get("model") or DEFAULT_COPY_MODEL,
            "messages": turns,
        }
        if options.get("system"):
            body["system_instruction"] = options["system"]
        if config:
            body["config"] = config
        if options.get("webhook_url"):
            body["webhook_url"] = options["webhook_url"]
        response = yield from self.request(
            "POST",
            "/api/text_generator/",
            auth="pair",
            json=body,
            idempotency_key=options.get("idempotency_key") or new_idempotency_key(),
        )
        return Copy.from_wire(self.json_of(response))

    def get_copy(self, task_id: str) -> Op[Copy]:
        response = yield from self.request("GET", f"/api/text_generator/{task_id}/", auth="pair")
        return Copy.from_wire(self.json_of(response))

    # -- waiting: the events stream, else polling ----------------------------------------------

    def wait(
        self,
        job_id: str,
        fetch: Callable[[str], Op[T]],
        timeout: float,
        on_progress: ProgressCallback | None,
    ) -> Op[T]:
        """Follow ``GET /v1/jobs/{id}/events`` until the job ends, calling ``on_progress``
        with each ``queued`` and ``progress`` event, then answer ``fetch(id)`` (the dialect's
        own GET, so the type is the dialect's). A stream that breaks is reopened with
        ``Last-Event-ID``; a 404 (a server without the endpoint) or repeated failures fall
        back to polling ``fetch`` with backoff."""
        deadline = time.monotonic() + timeout
        ended = yield from self._follow_events(job_id, deadline, on_progress)
        if ended:
            result = yield from fetch(job_id)
            if getattr(result, "status", None) in TERMINAL:
                return result
        return (yield from self._poll(job_id, fetch, deadline, on_progress))

    def _follow_events(
        self, job_id: str, deadline: float, on_progress: ProgressCallback | None
    ) -> Op[bool]:
        """True once a terminal event came; False when the stream cannot be used."""
        parser = EventParser()
        failures = 0
        while failures < STREAM_FAILURES_BEFORE_POLLING:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise wait_timeout(job_id)
            headers = {**self.bearer(), "Accept": "text/event-stream"}
            if parser.last_id is not None:
                headers["Last-Event-ID"] = parser.last_id
            url = self.url(f"/v1/jobs/{job_id}/events")
            try:
                response = yield OpenStream(url, headers, min(remaining, self.timeout))
            except httpx.TransportError:
                failures += 1
                yield Sleep(self.backoff(failures))
                continue
            try:
                if response.status_code == 404:
                    return False
                if response.status_code >= 400:
                    body: bytes = yield ReadRest(response)
                    if response.status_code not in RETRY_STATUSES:
                        raise parse_error(response.status_code, body, dict(response.headers))
                elif (yield from self._read_events(response, parser, on_progress)):
                    return True
            except httpx.TransportError:
                pass
            finally:
                yield CloseStream(response)
            failures += 1  # an error, or the stream ended before the job did: reconnect
            yield Sleep(self.backoff(failures))
        return False

    def _read_events(
        self, response: httpx.Response, parser: EventParser, on_progress: ProgressCallback | None
    ) -> Op[bool]:
        """Read an open stream: True at its terminal event, False when it ends without one."""
        while True:
            line = yield NextLine(response)
            if line is None:
                return False
            event = parser.feed(line)
            if event is None:
                continue
            if event.terminal:
                return True
            if on_progress is not None and event.event in ("queued", "progress"):
                outcome = on_progress(event)
                if outcome is not None and hasattr(outcome, "__await__"):
                    yield Await(outcome)

    def _poll(
        self,
        job_id: str,
        fetch: Callable[[str], Op[T]],
        deadline: float,
        on_progress: ProgressCallback | None,
    ) -> Op[T]:
        interval = self.poll_interval
        last: tuple[str, int] | None = None
        while True:
            result = yield from fetch(job_id)
            status = str(getattr(result, "status", ""))
            if status in TERMINAL:
                return result
            progress = int(getattr(result, "progress", 0) or 0)
            if on_progress is not None and (status, progress) != last:
                last = (status, progress)
                kind = "queued" if status == "queued" else "progress"
                data = {"job_id": job_id, "status": status, "progress": progress}
                outcome = on_progress(JobEvent(id=None, event=kind, data=data))
                if outcome is not None and hasattr(outcome, "__await__"):
                    yield Await(outcome)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise wait_timeout(job_id)
            yield Sleep(min(interval, remaining))
            interval = min(interval * 1.5, 2.0)

    # -- downloads ---------------------------------------------------------------------------

    def download(self, asset_or_url: Asset | str, path: str | os.PathLike[str]) -> Op[Path]:
        """Stream an asset to ``path`` (a file, or a folder to put it in under the URL's file
        name): into a temporary file beside it, renamed into place once whole."""
        url = asset_or_url.url if isinstance(asset_or_url, Asset) else asset_or_url
        b64 = asset_or_url.b64_json if isinstance(asset_or_url, Asset) else None
        target = Path(path)
        if target.is_dir() or str(path).endswith(os.sep):
            target = target / file_name(url, b64)
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.parent / f".{target.name}.{uuid.uuid4().hex[:8]}.part"
        if b64 is not None and not url:
            temp.write_bytes(base64.b64decode(b64))
            temp.replace(target)
            return target
        # The server's own links carry the key; a link elsewhere (a CDN, a bucket) does not.
        same_host = urlsplit(self.url(url)).netloc == urlsplit(self.base_url).netloc
        headers = self.bearer() if same_host and self.api_key else {}
        attempt = 0
        try:
            while True:
                try:
                    response: httpx.Response = yield Download(self.url(url), headers, temp)
                except httpx.TransportError as exc:
                    if attempt >= self.max_retries:
                        raise ConnectionFailed(
                            f"GET {url}: {exc.__class__.__name__}", code="connection_failed"
                        ) from exc
                    yield Sleep(self.backoff(attempt))
                    attempt += 1
                    continue
                if response.status_code < 400:
                    temp.replace(target)
                    return target
                if response.status_code in RETRY_STATUSES and attempt < self.max_retries:
                    yield Sleep(self.backoff(attempt))
                    attempt += 1
                    continue
                raise parse_error(response.status_code, response.content, dict(response.headers))
        finally:
            temp.unlink(missing_ok=True)


def new_idempotency_key() -> str:
    return str(uuid.uuid4())


def wait_timeout(job_id: str) -> CreatixError:
    return CreatixError(f"Job {job_id} did not finish in time.", code="wait_timeout")


def file_name(url: str, b64: str | None = None) -> str:
    """The last segment of the URL's path, or a generated name."""
    name = unquote(urlsplit(url).path.rsplit("/", 1)[-1]) if url else ""
    if name and name not in (".", ".."):
        return name
    return f"creatix-{uuid.uuid4().hex[:12]}.png"
