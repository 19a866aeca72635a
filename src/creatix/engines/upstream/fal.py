"""fal (https://fal.ai) through its queue API.

A request is submitted with ``POST {base}/{model_id}`` and answered with its ``status_url``,
``response_url`` and ``cancel_url``; the status is polled (``IN_QUEUE`` with a queue position,
``IN_PROGRESS``, ``COMPLETED``, the last carrying an ``error`` when the request failed) until it
is done, then the response is the model's output: ``{"images": [{"url", ...}], "seed", ...}``
for an image model, ``{"video": {"url", ...}}`` for a video model (Kling's image-to-video,
say). The URLs are on fal's CDN, or ``data:`` URIs when a route sets ``sync_mode``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from creatix.engines.upstream.cancels import UpstreamCancels
from creatix.engines.upstream.engine import ImageRequest
from creatix.engines.upstream.errors import ProviderFailed, ProviderOutage, ProviderRejected
from creatix.engines.upstream.http import ProviderAccess, ProviderHttp, data_uri
from creatix.engines.upstream.options import UpstreamOptions
from creatix.engines.upstream.video import VideoRequest, aspect_ratio

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://queue.fal.run"
"""How long a cancel request may take; it is sent while the job is being torn down."""


@dataclass(frozen=True)
class _Queued:
    request_id: str
    status_url: str
    response_url: str
    cancel_url: str


class FalProvider:
    name = "fal"

    def __init__(self, options: UpstreamOptions, access: ProviderAccess) -> None:
        self.options = options
        self._has_key = access.api_key is not None
        headers = {"Authorization": f"Key {access.api_key}"} if access.api_key else {}
        self._http = ProviderHttp(
            self.name,
            access.base_url or DEFAULT_BASE_URL,
            headers=headers,
            secrets=[access.api_key or ""],
            timeout=options.timeout_seconds,
            retry=options.retry_policy(),
        )
        self._cancels = UpstreamCancels(self._http, self.name, options.timeout_seconds)

    def unavailable_reason(self) -> str | None:
        if self.options.requires_key and not self._has_key:
            return "no API key: set CREATIX_FAL_KEY or the engine's api_key_env"
        return None

    async def images(self, request: ImageRequest) -> list[bytes]:
        result = await self._run(request.model, fal_input(request), "image")
        urls = _image_urls(result)[: request.spec.n]
        return list(await asyncio.gather(*(self._fetch(url) for url in urls)))

    async def videos(self, request: VideoRequest) -> str:
        result = await self._run(request.model, fal_video_input(request), "video")
        return _video_url(result)

    async def download_to(self, url: str, path: Path) -> int:
        return await self._http.download_to(url, path)

    async def _run(self, model: str, body: dict[str, Any], made: str) -> dict[str, Any]:
        """The model's result for input ``body``: submitted, polled until completed (canceled
        upstream when given up on, or when the caller is canceled), then fetched. ``made``
        names the output in a failure's message."""
        deadline = asyncio.get_running_loop().time() + self.options.max_wait_seconds
        submitted = await self._http.json("POST", model, json_body=body)
        queued = _queued(submitted, model)
        try:
            async with asyncio.timeout_at(deadline):
                status = await self._until_completed(queued)
        except TimeoutError:
            await self._cancels.cancel("PUT", queued.cancel_url, queued.request_id)
            raise ProviderOutage(
                f"The model's provider did not finish within {self.options.max_wait_seconds:g} s."
            ) from None
        except (asyncio.CancelledError, Exception):
            # Canceled (the Creatix job was), or given up on: the request must not run on.
            await self._cancels.cancel("PUT", queued.cancel_url, queued.request_id)
            raise
        error = status.get("error")
        if error:
            raise ProviderFailed(
                f"The model's provider failed to make the {made}: {self._detail(error)}"
            )
        return await self._http.json("GET", queued.response_url)

    async def close(self) -> None:
        await self._cancels.wait()
        await self._http.close()

    async def _until_completed(self, queued: _Queued) -> dict[str, Any]:
        """The request's final status."""
        while True:
            status = await self._http.json("GET", queued.status_url)
            state = status.get("status")
            if state == "COMPLETED":
                return status
            if state == "IN_QUEUE":
                log.debug(
                    "fal request queued",
                    extra={
                        "provider": self.name,
                        "request_id": queued.request_id,
                        "queue_position": status.get("queue_position"),
                    },
                )
            elif state != "IN_PROGRESS":
                raise ProviderOutage("The model's provider answered an unknown request status.")
            await asyncio.sleep(self.options.poll_interval_seconds)

    async def _fetch(self, url: str) -> bytes:
        return await self._http.download(url)

    def _detail(self, error: Any) -> str:
        return self._http.redact(error if isinstance(error, str) else json.dumps(error))


def fal_input(request: ImageRequest) -> dict[str, Any]:
    """The model's input: derived from the spec, then the route's own fields over it."""
    spec = request.spec
    body: dict[str, Any] = {
        "prompt": spec.prompt,
        "image_size": {"width": spec.width, "height": spec.height},
        "num_images": spec.n,
        "seed": spec.seed,
        "output_format": "jpeg" if spec.output_format == "jpeg" else "png",
        "enable_safety_checker": True,
    }
    if spec.negative_prompt:
        body["negative_prompt"] = spec.negative_prompt
    if request.input_image is not None:
        body["image_url"] = data_uri(request.input_image)
    body.update(request.params)
    return body


VIDEO_IMAGE_FIELD = "image_url"


def fal_video_input(request: VideoRequest) -> dict[str, Any]:
    """An image-to-video model's input (Kling's names): derived from the spec, then the
    route's own fields over it. fal's Kling takes the duration as a string ("5", "10") and a
    shape, not a size. The source goes in ``image_url``, or the field the route's
    ``image_field`` names (not sent): Kling 3 on fal takes ``start_image_url``."""
    spec = request.spec
    params = dict(request.params)
    field = params.pop("image_field", VIDEO_IMAGE_FIELD)
    if not isinstance(field, str) or not field:
        raise ProviderRejected("The model's provider route names no image_field.")
    body: dict[str, Any] = {
        "prompt": spec.prompt,
        field: data_uri(request.source),
        "duration": str(spec.duration_seconds),
        "aspect_ratio": aspect_ratio(spec.width, spec.height),
    }
    if spec.negative_prompt:
        body["negative_prompt"] = spec.negative_prompt
    if spec.cfg_scale is not None:
        body["cfg_scale"] = spec.cfg_scale
    if spec.generate_audio:
        body["generate_audio"] = True
    body.update(params)
    return body


def _queued(body: dict[str, Any], model: str) -> _Queued:
    request_id = body.get("request_id")
    if not isinstance(request_id, str) or not request_id:
        raise ProviderOutage("The model's provider answered a malformed body.")
    own = f"{model.strip('/')}/requests/{request_id}"

    def url(key: str, default: str) -> str:
        value = body.get(key)
        return value if isinstance(value, str) and value else default

    return _Queued(
        request_id=request_id,
        status_url=url("status_url", f"{own}/status"),
        response_url=url("response_url", own),
        cancel_url=url("cancel_url", f"{own}/cancel"),
    )


def _image_urls(result: dict[str, Any]) -> list[str]:
    images = result.get("images")
    if not isinstance(images, list):
        raise ProviderOutage("The model's provider answered a malformed body.")
    urls = [image.get("url") if isinstance(image, dict) else None for image in images]
    if not all(isinstance(url, str) and url for url in urls):
        raise ProviderOutage("The model's provider answered a malformed body.")
    return [str(url) for url in urls]


def _video_url(result: dict[str, Any]) -> str:
    video = result.get("video")
    url = video.get("url") if isinstance(video, dict) else None
    if not isinstance(url, str) or not url:
        raise ProviderOutage("The model's provider answered a malformed body.")
    return url
