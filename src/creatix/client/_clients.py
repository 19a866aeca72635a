"""``Creatix`` and ``AsyncCreatix``: one surface, two transports. Each method is one line that
runs the shared operation of ``_core`` on this client's transport."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar, Unpack

import httpx

from creatix.client._core import (
    Await,
    CloseStream,
    CopyOptions,
    Core,
    Download,
    GenerationOptions,
    Http,
    ImageOptions,
    NextLine,
    Op,
    OpenStream,
    ReadRest,
    Sleep,
    VideoOptions,
    WaitOptions,
)
from creatix.client._types import (
    Asset,
    AssetTask,
    Copy,
    Credits,
    Generation,
    ImageResult,
    Job,
    KeyInfo,
    Upload,
    Video,
)

T = TypeVar("T")
DEFAULT_TIMEOUT = 60.0
DEFAULT_WAIT = 600.0


def _timeout(seconds: float) -> httpx.Timeout:
    return httpx.Timeout(seconds, connect=min(seconds, 10.0))


def _wait(options: WaitOptions) -> tuple[float, Any]:
    return options.get("timeout", DEFAULT_WAIT), options.get("on_progress")


# -- the sync transport ----------------------------------------------------------------------


class Creatix:
    """The Creatix API over ``httpx.Client``.

    ``base_url`` defaults to ``CREATIX_BASE_URL``, ``api_key`` to ``CREATIX_API_KEY`` and
    ``api_id`` (the key's id, which the asset and text generators take as ``X-API-ID``) to
    ``CREATIX_API_ID``, else it is asked of the server (``GET /v1/me``) when first needed.
    Calls are retried ``max_retries`` times on 429, 502, 503, 504 and connection errors;
    creations send an ``Idempotency-Key`` (a uuid4 unless given) that every retry repeats.
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        api_id: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = 3,
        http_client: httpx.Client | None = None,
    ) -> None:
        self._core = Core.configure(base_url, api_key, api_id, timeout, max_retries)
        self._http = http_client or httpx.Client(timeout=_timeout(timeout))
        self._lines: dict[int, Iterator[str]] = {}
        self.images = Images(self)
        self.generations = Generations(self)
        self.videos = Videos(self)
        self.assets = Assets(self)
        self.copy = CopyTasks(self)
        self.jobs = Jobs(self)

    @property
    def base_url(self) -> str:
        return self._core.base_url

    def me(self) -> KeyInfo:
        """The key in use: its id, account and scopes (``GET /v1/me``)."""
        return self._run(self._core.me())

    def credits(self) -> Credits:
        """The platform API's balance and lifetime totals."""
        return self._run(self._core.credits())

    def upload(
        self, image: str | os.PathLike[str] | bytes, content_type: str | None = None
    ) -> Upload:
        """Store a PNG, JPEG or WebP image as an input (``POST /api/platform/upload``)."""
        return self._run(self._core.upload(image, content_type))

    def download(self, asset_or_url: Asset | str, path: str | os.PathLike[str]) -> Path:
        """Stream an asset (or URL) to ``path``, a file or a folder; answers the file's path."""
        return self._run(self._core.download(asset_or_url, path))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _run(self, op: Op[T]) -> T:
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                action = op.throw(error) if error is not None else op.send(value)
            except StopIteration as stop:
                result: T = stop.value
                return result
            value, error = None, None
            try:
                value = self._perform(action)
            except BaseException as exc:
                # The op handles a transport error; anything else (a cancelled task, Ctrl-C)
                # passes through it so its cleanup (an open stream's CloseStream) runs first.
                error = exc

    def _perform(self, action: Any) -> Any:
        if isinstance(action, Http):
            return self._http.request(
                action.method,
                action.url,
                headers=action.headers,
                json=action.json,
                content=action.content,
                files=action.files,
                params=action.params,
            )
        if isinstance(action, Sleep):
            time.sleep(action.seconds)
            return None
        if isinstance(action, OpenStream):
            request = self._http.build_request(
                "GET", action.url, headers=action.headers, timeout=_timeout(action.timeout)
            )
            response = self._http.send(request, stream=True)
            self._lines[id(response)] = response.iter_lines()
            return response
        if isinstance(action, NextLine):
            return next(self._lines[id(action.response)], None)
        if isinstance(action, ReadRest):
            return action.response.read()
        if isinstance(action, CloseStream):
            self._lines.pop(id(action.response), None)
            action.response.close()
            return None
        if isinstance(action, Download):
            with self._http.stream("GET", action.url, headers=action.headers) as response:
                if response.status_code >= 400:
                    response.read()
                    return response
                with action.temp.open("wb") as out:
                    for chunk in response.iter_bytes():
                        out.write(chunk)
                return response
        if isinstance(action, Await):
            close = getattr(action.awaitable, "close", None)
            if close is not None:  # a coroutine from an async callback: nothing runs it here
                close()
            return None
        raise TypeError(f"unknown action {action!r}")


class _Resource:
    def __init__(self, client: Creatix) -> None:
        self._client = client
        self._core = client._core

    def _run(self, op: Op[T]) -> T:
        return self._client._run(op)


class Images(_Resource):
    def generate(self, prompt: str, **options: Unpack[ImageOptions]) -> ImageResult:
        """Creatix v1 ``POST /v1/images/generations``: 1–4 images, synchronously."""
        return self._run(self._core.generate_image(prompt, options))


class Generations(_Resource):
    """The platform API's asynchronous image generations."""

    def create(self, prompt: str, **options: Unpack[GenerationOptions]) -> Generation:
        return self._run(self._core.create_generation(prompt, options))

    def get(self, generation_id: str) -> Generation:
        return self._run(self._core.get_generation(generation_id))

    def list(self, *, limit: int = 50, offset: int = 0) -> list[Generation]:
        return self._run(self._core.list_generations(limit, offset))

    def delete(self, generation_id: str) -> bool:
        return self._run(self._core.delete_generation(generation_id))

    def wait(self, generation_id: str, **options: Unpack[WaitOptions]) -> Generation:
        timeout, on_progress = _wait(options)
        return self._run(
            self._core.wait(generation_id, self._core.get_generation, timeout, on_progress)
        )


class Videos(_Resource):
    """Image-to-video: from a generation (``source_generation_id=``) or a local ``image=``."""

    def create(self, prompt: str, **options: Unpack[VideoOptions]) -> Video:
        return self._run(self._core.create_video(prompt, options))

    def get(self, video_id: str) -> Video:
        return self._run(self._core.get_video(video_id))

    def wait(self, video_id: str, **options: Unpack[WaitOptions]) -> Video:
        timeout, on_progress = _wait(options)
        return self._run(self._core.wait(video_id, self._core.get_video, timeout, on_progress))


class Assets(_Resource):
    """The asset generator: ``model_name`` and ``input_params`` (its JSON Schema's)."""

    def create(
        self,
        model_name: str,
        input_params: dict[str, Any],
        *,
        webhook_url: str | None = None,
        idempotency_key: str | None = None,
    ) -> AssetTask:
        return self._run(
            self._core.create_asset(model_name, input_params, webhook_url, idempotency_key)
        )

    def get(self, task_id: str) -> AssetTask:
        return self._run(self._core.get_asset(task_id))

    def wait(self, task_id: str, **options: Unpack[WaitOptions]) -> AssetTask:
        timeout, on_progress = _wait(options)
        return self._run(self._core.wait(task_id, self._core.get_asset, timeout, on_progress))


class CopyTasks(_Resource):
    """The text generator: ad copy from a prompt or chat ``messages``, JSON by a schema."""

    def create(self, messages: str | list[dict[str, str]], **options: Unpack[CopyOptions]) -> Copy:
        return self._run(self._core.create_copy(messages, options))

    def get(self, task_id: str) -> Copy:
        return self._run(self._core.get_copy(task_id))

    def wait(self, task_id: str, **options: Unpack[WaitOptions]) -> Copy:
        timeout, on_progress = _wait(options)
        return self._run(self._core.wait(task_id, self._core.get_copy, timeout, on_progress))


class Jobs(_Resource):
    """Any dialect's job by its id, in the terms of its event stream (``GET /v1/jobs/{id}``)."""

    def get(self, job_id: str) -> Job:
        return self._run(self._core.get_job(job_id))

    def wait(self, job_id: str, **options: Unpack[WaitOptions]) -> Job:
        timeout, on_progress = _wait(options)
        return self._run(self._core.wait(job_id, self._core.get_job, timeout, on_progress))


# -- the async transport ---------------------------------------------------------------------


class AsyncCreatix:
    """``Creatix`` over ``httpx.AsyncClient``: the same resources, each method awaitable;
    ``on_progress`` may be a plain function or a coroutine function."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        api_id: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = 3,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._core = Core.configure(base_url, api_key, api_id, timeout, max_retries)
        self._http = http_client or httpx.AsyncClient(timeout=_timeout(timeout))
        self._lines: dict[int, AsyncIterator[str]] = {}
        self.images = AsyncImages(self)
        self.generations = AsyncGenerations(self)
        self.videos = AsyncVideos(self)
        self.assets = AsyncAssets(self)
        self.copy = AsyncCopyTasks(self)
        self.jobs = AsyncJobs(self)

    @property
    def base_url(self) -> str:
        return self._core.base_url

    async def me(self) -> KeyInfo:
        """The key in use: its id, account and scopes (``GET /v1/me``)."""
        return await self._run(self._core.me())

    async def credits(self) -> Credits:
        return await self._run(self._core.credits())

    async def upload(
        self, image: str | os.PathLike[str] | bytes, content_type: str | None = None
    ) -> Upload:
        return await self._run(self._core.upload(image, content_type))

    async def download(self, asset_or_url: Asset | str, path: str | os.PathLike[str]) -> Path:
        return await self._run(self._core.download(asset_or_url, path))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _run(self, op: Op[T]) -> T:
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                action = op.throw(error) if error is not None else op.send(value)
            except StopIteration as stop:
                result: T = stop.value
                return result
            value, error = None, None
            try:
                value = await self._perform(action)
            except BaseException as exc:
                # The op handles a transport error; anything else (a cancelled task, Ctrl-C)
                # passes through it so its cleanup (an open stream's CloseStream) runs first.
                error = exc

    async def _perform(self, action: Any) -> Any:
        if isinstance(action, Http):
            return await self._http.request(
                action.method,
                action.url,
                headers=action.headers,
                json=action.json,
                content=action.content,
                files=action.files,
                params=action.params,
            )
        if isinstance(action, Sleep):
            await asyncio.sleep(action.seconds)
            return None
        if isinstance(action, OpenStream):
            request = self._http.build_request(
                "GET", action.url, headers=action.headers, timeout=_timeout(action.timeout)
            )
            response = await self._http.send(request, stream=True)
            self._lines[id(response)] = response.aiter_lines()
            return response
        if isinstance(action, NextLine):
            return await anext(self._lines[id(action.response)], None)
        if isinstance(action, ReadRest):
            return await action.response.aread()
        if isinstance(action, CloseStream):
            self._lines.pop(id(action.response), None)
            await action.response.aclose()
            return None
        if isinstance(action, Download):
            async with self._http.stream("GET", action.url, headers=action.headers) as response:
                if response.status_code >= 400:
                    await response.aread()
                    return response
                with action.temp.open("wb") as out:
                    async for chunk in response.aiter_bytes():
                        out.write(chunk)
                return response
        if isinstance(action, Await):
            return await action.awaitable
        raise TypeError(f"unknown action {action!r}")


class _AsyncResource:
    def __init__(self, client: AsyncCreatix) -> None:
        self._client = client
        self._core = client._core

    async def _run(self, op: Op[T]) -> T:
        return await self._client._run(op)


class AsyncImages(_AsyncResource):
    async def generate(self, prompt: str, **options: Unpack[ImageOptions]) -> ImageResult:
        return await self._run(self._core.generate_image(prompt, options))


class AsyncGenerations(_AsyncResource):
    async def create(self, prompt: str, **options: Unpack[GenerationOptions]) -> Generation:
        return await self._run(self._core.create_generation(prompt, options))

    async def get(self, generation_id: str) -> Generation:
        return await self._run(self._core.get_generation(generation_id))

    async def list(self, *, limit: int = 50, offset: int = 0) -> list[Generation]:
        return await self._run(self._core.list_generations(limit, offset))

    async def delete(self, generation_id: str) -> bool:
        return await self._run(self._core.delete_generation(generation_id))

    async def wait(self, generation_id: str, **options: Unpack[WaitOptions]) -> Generation:
        timeout, on_progress = _wait(options)
        return await self._run(
            self._core.wait(generation_id, self._core.get_generation, timeout, on_progress)
        )


class AsyncVideos(_AsyncResource):
    async def create(self, prompt: str, **options: Unpack[VideoOptions]) -> Video:
        return await self._run(self._core.create_video(prompt, options))

    async def get(self, video_id: str) -> Video:
        return await self._run(self._core.get_video(video_id))

    async def wait(self, video_id: str, **options: Unpack[WaitOptions]) -> Video:
        timeout, on_progress = _wait(options)
        return await self._run(
            self._core.wait(video_id, self._core.get_video, timeout, on_progress)
        )


class AsyncAssets(_AsyncResource):
    async def create(
        self,
        model_name: str,
        input_params: dict[str, Any],
        *,
        webhook_url: str | None = None,
        idempotency_key: str | None = None,
    ) -> AssetTask:
        return await self._run(
            self._core.create_asset(model_name, input_params, webhook_url, idempotency_key)
        )

    async def get(self, task_id: str) -> AssetTask:
        return await self._run(self._core.get_asset(task_id))

    async def wait(self, task_id: str, **options: Unpack[WaitOptions]) -> AssetTask:
        timeout, on_progress = _wait(options)
        return await self._run(self._core.wait(task_id, self._core.get_asset, timeout, on_progress))


class AsyncCopyTasks(_AsyncResource):
    async def create(
        self, messages: str | list[dict[str, str]], **options: Unpack[CopyOptions]
    ) -> Copy:
        return await self._run(self._core.create_copy(messages, options))

    async def get(self, task_id: str) -> Copy:
        return await self._run(self._core.get_copy(task_id))

    async def wait(self, task_id: str, **options: Unpack[WaitOptions]) -> Copy:
        timeout, on_progress = _wait(options)
        return await self._run(self._core.wait(task_id, self._core.get_copy, timeout, on_progress))


class AsyncJobs(_AsyncResource):
    """Any dialect's job by its id, in the terms of its event stream (``GET /v1/jobs/{id}``)."""

    async def get(self, job_id: str) -> Job:
        return await self._run(self._core.get_job(job_id))

    async def wait(self, job_id: str, **options: Unpack[WaitOptions]) -> Job:
        timeout, on_progress = _wait(options)
        return await self._run(self._core.wait(job_id, self._core.get_job, timeout, on_progress))
