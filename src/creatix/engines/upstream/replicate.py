"""Replicate (https://replicate.com) through its predictions API.

A prediction is created with ``POST {base}/models/{owner}/{name}/predictions`` (``{"input"}``),
or ``POST {base}/predictions`` (``{"version", "input"}``) for a model pinned as
``owner/name:version``. ``Prefer: wait=N`` has Replicate hold the answer until the prediction
is done or N seconds have passed, so a fast model answers at once; a slower one is polled at
its ``urls.get`` until it is ``succeeded``, ``failed`` or ``canceled``. Its ``output`` is a
URL or a list of URLs (``data:`` URIs in some modes); its ``logs`` carry the model's progress
bars, which become the job's progress. Image and image-to-video models are called alike; a
video model's output is one MP4's URL (or a one-element list).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from creatix.engines.base import ProgressCallback
from creatix.engines.upstream.cancels import UpstreamCancels
from creatix.engines.upstream.engine import ImageRequest
from creatix.engines.upstream.errors import ProviderFailed, ProviderOutage, ProviderRejected
from creatix.engines.upstream.http import ProviderAccess, ProviderHttp, data_uri
from creatix.engines.upstream.options import UpstreamOptions
from creatix.engines.upstream.video import VideoRequest, aspect_ratio

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.replicate.com/v1"
MAX_PREFER_WAIT = 60
"""Replicate holds a create call at most this long."""
PREFER_WAIT_MARGIN = 5.0
"""A held create call answers this long before the HTTP timeout at the latest, so that it is
never cut off (and retried: a second prediction) just as Replicate answers it."""
TERMINAL = frozenset({"succeeded", "failed", "canceled"})
RUNNING = frozenset({"starting", "processing"})
IMAGE_FIELD = "start_image"
"""The input field of a video model's source image: ``start_image`` is the name many of
Replicate's image-to-video models (Kling's among them) give it; a route's ``image_field``
param names another (and is not sent itself)."""
_TQDM = re.compile(r"(\d{1,3})%\|")
"""A tqdm bar's percentage: `` 50%|█████     | 2/4 [00:01<00:01, 1.90it/s]``."""


@dataclass(frozen=True)
class _Prediction:
    id: str
    status: str
    body: dict[str, Any]
    get_url: str
    cancel_url: str


class ReplicateProvider:
    name = "replicate"

    def __init__(self, options: UpstreamOptions, access: ProviderAccess) -> None:
        self.options = options
        self._has_key = access.api_key is not None
        headers = {"Authorization": f"Bearer {access.api_key}"} if access.api_key else {}
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
            return "no API key: set CREATIX_REPLICATE_API_TOKEN or the engine's api_key_env"
        return None

    def prefer_wait(self) -> int:
        """Seconds Replicate may hold the create call (0: not at all)."""
        seconds = min(
            MAX_PREFER_WAIT,
            self.options.max_wait_seconds,
            self.options.timeout_seconds - PREFER_WAIT_MARGIN,
        )
        return max(0, int(seconds))

    async def images(self, request: ImageRequest) -> list[bytes]:
        path, body = _create_call(request.model, replicate_input(request))
        urls = await self._predict(path, body, request.progress, "image")
        return list(await asyncio.gather(*(self._fetch(url) for url in urls[: request.spec.n])))

    async def videos(self, request: VideoRequest) -> str:
        path, body = _create_call(request.model, replicate_video_input(request))
        urls = await self._predict(path, body, request.progress, "video")
        if not urls:
            raise ProviderOutage("The model's provider answered a malformed body.")
        return urls[0]

    async def download_to(self, url: str, path: Path) -> int:
        return await self._http.download_to(url, path)

    async def _predict(
        self, path: str, body: dict[str, Any], progress: ProgressCallback | None, made: str
    ) -> list[str]:
        """The output URLs of the prediction ``body`` creates at ``path``: held or polled
        until finished (canceled upstream when given up on, or when the caller is canceled).
        ``made`` names the output in a failure's message."""
        deadline = asyncio.get_running_loop().time() + self.options.max_wait_seconds
        wait = self.prefer_wait()
        headers = {"Prefer": f"wait={wait}"} if wait else None
        created = await self._http.json("POST", path, json_body=body, headers=headers)
        prediction = _prediction(created)
        reported = self._report_progress(prediction, progress, None)
        if prediction.status not in TERMINAL:
            try:
                async with asyncio.timeout_at(deadline):
                    prediction = await self._until_finished(prediction, progress, reported)
            except TimeoutError:
                await self._cancels.cancel("POST", prediction.cancel_url, prediction.id)
                raise ProviderOutage(
                    "The model's provider did not finish within "
                    f"{self.options.max_wait_seconds:g} s."
                ) from None
            except (asyncio.CancelledError, Exception):
                # Canceled (the Creatix job was), or given up on: it must not run on.
                await self._cancels.cancel("POST", prediction.cancel_url, prediction.id)
                raise
        return self._finished_output(prediction, made)

    async def close(self) -> None:
        await self._cancels.wait()
        await self._http.close()

    async def _until_finished(
        self, prediction: _Prediction, progress: ProgressCallback | None, reported: float | None
    ) -> _Prediction:
        while prediction.status not in TERMINAL:
            if prediction.status not in RUNNING:
                raise ProviderOutage("The model's provider answered an unknown prediction status.")
            await asyncio.sleep(self.options.poll_interval_seconds)
            prediction = _prediction(await self._http.json("GET", prediction.get_url))
            reported = self._report_progress(prediction, progress, reported)
        return prediction

    def _report_progress(
        self, prediction: _Prediction, progress: ProgressCallback | None, reported: float | None
    ) -> float | None:
        """Tell ``progress`` the last percentage in the logs, when it is new."""
        logs = prediction.body.get("logs")
        found = _TQDM.findall(logs) if isinstance(logs, str) else []
        if not found:
            return reported
        fraction = min(100, int(found[-1])) / 100
        if progress is not None and fraction != reported:
            progress(fraction)
        return fraction

    def _finished_output(self, prediction: _Prediction, made: str) -> list[str]:
        if prediction.status == "failed":
            error = prediction.body.get("error") or "the prediction failed"
            raise ProviderFailed(
                f"The model's provider failed to make the {made}: {self._detail(error)}"
            )
        if prediction.status == "canceled":
            raise ProviderFailed(
                f"The model's provider failed to make the {made}: the prediction was canceled."
            )
        output = prediction.body.get("output")
        urls = [output] if isinstance(output, str) else output
        if not isinstance(urls, list) or not all(isinstance(u, str) and u for u in urls):
            raise ProviderOutage("The model's provider answered a malformed body.")
        return [str(url) for url in urls]

    async def _fetch(self, url: str) -> bytes:
        return await self._http.download(url)

    def _detail(self, error: Any) -> str:
        return self._http.redact(error if isinstance(error, str) else json.dumps(error))


def replicate_input(request: ImageRequest) -> dict[str, Any]:
    """The model's input: derived from the spec, then the route's own fields over it."""
    spec = request.spec
    body: dict[str, Any] = {
        "prompt": spec.prompt,
        "width": spec.width,
        "height": spec.height,
        "num_outputs": spec.n,
        "seed": spec.seed,
        # Replicate's image models name JPEG "jpg".
        "output_format": "jpg" if spec.output_format == "jpeg" else spec.output_format,
    }
    if spec.negative_prompt:
        body["negative_prompt"] = spec.negative_prompt
    if request.input_image is not None:
        body["image"] = data_uri(request.input_image)
    body.update(request.params)
    return body


def replicate_video_input(request: VideoRequest) -> dict[str, Any]:
    """An image-to-video model's input: derived from the spec, then the route's own fields
    over it. The source goes in ``start_image``, or the field the route's ``image_field``
    names."""
    spec = request.spec
    params = dict(request.params)
    field = params.pop("image_field", IMAGE_FIELD)
    if not isinstance(field, str) or not field:
        raise ProviderRejected("The model's provider route names no image_field.")
    body: dict[str, Any] = {
        "prompt": spec.prompt,
        field: data_uri(request.source),
        "duration": spec.duration_seconds,
        "aspect_ratio": aspect_ratio(spec.width, spec.height),
    }
    if spec.negative_prompt:
        body["negative_prompt"] = spec.negative_prompt
    if spec.cfg_scale is not None:
        body["cfg_scale"] = spec.cfg_scale
    if spec.generate_audio:  # only asked of models that make audio (Kling 3: kling-v3-video)
        body["generate_audio"] = True
    body.update(params)
    return body


def _create_call(model_name: str, model_input: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The path and body that create the prediction: by model, or by pinned version."""
    model, colon, version = model_name.partition(":")
    owner, slash, name = model.strip("/").partition("/")
    if not owner or not slash or not name or "/" in name or (colon and not version):
        raise ProviderRejected(
            "The model's provider route names no Replicate model (owner/name[:version])."
        )
    if version:
        return "predictions", {"version": version, "input": model_input}
    return f"models/{owner}/{name}/predictions", {"input": model_input}


def _prediction(body: dict[str, Any]) -> _Prediction:
    prediction_id = body.get("id")
    status = body.get("status")
    if not isinstance(prediction_id, str) or not prediction_id or not isinstance(status, str):
        raise ProviderOutage("The model's provider answered a malformed body.")
    urls = body.get("urls")
    urls = urls if isinstance(urls, dict) else {}

    def url(key: str, default: str) -> str:
        value = urls.get(key)
        return value if isinstance(value, str) and value else default

    return _Prediction(
        id=prediction_id,
        status=status,
        body=body,
        get_url=url("get", f"predictions/{prediction_id}"),
        cancel_url=url("cancel", f"predictions/{prediction_id}/cancel"),
    )
