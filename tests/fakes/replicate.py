"""A fake Replicate predictions API (https://api.replicate.com/v1; here ``{url}/v1``).

``POST /v1/models/{owner}/{name}/predictions`` (``{"input"}``) and ``POST /v1/predictions``
(``{"version", "input"}``) create a prediction, ``starting``; each ``GET`` of its
``urls.get`` moves it on: ``processing`` (its logs growing a tqdm bar) until
``polls_to_finish`` polls have been answered (``FOREVER``: never), then finished. With
``polls_to_finish = 0`` a create call carrying ``Prefer: wait`` answers it finished at once.
``POST urls.cancel`` cancels it. Its images are served by the fake itself as
``http://localhost:{port}/files/...``: another host than the API's, as Replicate's CDN is.

A prediction whose input has a ``duration`` is an image-to-video model's (Kling's): its output
is one URL (in a list, or alone with ``fake:single``) serving a real 64×36 H.264 MP4
(``fakes.fal.tiny_mp4``, made once per fake), with an AAC track when the input has
``generate_audio: true``.

Magic words in the prompt:

``fake:fail``      the prediction fails, its ``error`` quoting the caller's Authorization
``fake:canceled``  the prediction ends ``canceled`` (by someone else)
``fake:invalid``   the create call answers Replicate's 422
``fake:malformed`` the output is JSON of the wrong shape
``fake:missing``   the output URLs answer 404
``fake:garbage``   the video is not a video (bytes no decoder reads)
``fake:single``    the output is one URL string, not a list
``fake:datauri``   the output is ``data:`` URIs
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field
from typing import Any

from fastapi import Depends, Header, HTTPException, Request, Response
from fastapi.responses import JSONResponse

from fakes.fal import NOT_A_VIDEO, tiny_mp4
from fakes.server import FakeProvider, tiny_png

FOREVER = 10**9
STEPS = 4
COLOURS = [(200, 60, 30), (30, 160, 90), (40, 70, 200), (220, 200, 40)]


@dataclass
class Prediction:
    id: str
    model: str
    version: str | None
    input: dict[str, Any]
    authorization: str
    status: str = "starting"
    polls: int = 0
    logs: str = ""
    output: Any = None
    error: str | None = None
    files: list[str] = field(default_factory=list)

    def magic(self, word: str) -> bool:
        return f"fake:{word}" in str(self.input.get("prompt", ""))

    @property
    def finished(self) -> bool:
        return self.status in ("succeeded", "failed", "canceled")


def tqdm_logs(seed: object, done: int) -> str:
    lines = [f"Using seed: {seed}"]
    for step in range(done + 1):
        percent = 100 * step // STEPS
        bar = "█" * (percent // 10)
        lines.append(f"{percent:3d}%|{bar:<10}| {step}/{STEPS} [00:0{step}<00:0{STEPS - step}]")
    return "\n".join(lines) + "\n"


class FakeReplicate(FakeProvider):
    def __init__(self, token: str = "r8_token_for_tests", polls_to_finish: int = 2) -> None:
        super().__init__()
        self.token = token
        self._polls_to_finish = polls_to_finish
        self.polls_to_finish = polls_to_finish
        self.predictions: dict[str, Prediction] = {}
        self.files: dict[str, bytes] = {}
        self.video = tiny_mp4()
        self.video_with_audio = tiny_mp4(audio=True)
        authorized = [Depends(self._authorized)]
        app = self.app
        app.add_api_route("/files/{name}", self.file, methods=["GET"])
        app.add_api_route(
            "/v1/models/{owner}/{name}/predictions",
            self.create_for_model,
            methods=["POST"],
            dependencies=authorized,
        )
        app.add_api_route(
            "/v1/predictions", self.create_for_version, methods=["POST"], dependencies=authorized
        )
        app.add_api_route(
            "/v1/predictions/{prediction_id}", self.get, methods=["GET"], dependencies=authorized
        )
        app.add_api_route(
            "/v1/predictions/{prediction_id}/cancel",
            self.cancel,
            methods=["POST"],
            dependencies=authorized,
        )

    def reset(self) -> None:
        """Forget every request, prediction and fault, for the next test."""
        super().reset()
        self.predictions.clear()
        self.files.clear()
        self.polls_to_finish = self._polls_to_finish

    @property
    def api(self) -> str:
        return f"{self.url}/v1"

    def _authorized(self, authorization: str = Header(default="")) -> None:
        if authorization != f"Bearer {self.token}":
            raise HTTPException(401, detail="You did not pass a valid authentication token")

    def _prediction(self, prediction_id: str) -> Prediction:
        if prediction_id not in self.predictions:
            raise HTTPException(404, detail="Not found.")
        return self.predictions[prediction_id]

    async def create_for_model(self, owner: str, name: str, request: Request) -> Response:
        return self._create(request, f"{owner}/{name}", None, await request.json())

    async def create_for_version(self, request: Request) -> Response:
        body = await request.json()
        version = body.get("version")
        if not isinstance(version, str):
            return _invalid("- version: Invalid type. Expected: string")
        return self._create(request, "owner/pinned", version, body)

    def _create(self, request: Request, model: str, version: str | None, body: Any) -> Response:
        if not isinstance(body.get("input"), dict):
            return _invalid("- input: Invalid type. Expected: object")
        prediction = Prediction(
            id=uuid.uuid4().hex[:20],
            model=model,
            version=version,
            input=body["input"],
            authorization=request.headers["authorization"],
        )
        if prediction.magic("invalid"):
            return _invalid("- input.width: Must be less than or equal to 1440")
        self.predictions[prediction.id] = prediction
        if "prefer" in request.headers and self.polls_to_finish == 0:
            self._finish(prediction, request)
        return JSONResponse(self._render(prediction, request), status_code=201)

    def get(self, prediction_id: str, request: Request) -> dict[str, Any]:
        prediction = self._prediction(prediction_id)
        prediction.polls += 1
        if not prediction.finished:
            if prediction.polls >= self.polls_to_finish:
                self._finish(prediction, request)
            else:
                prediction.status = "processing"
                done = STEPS * prediction.polls // self.polls_to_finish
                prediction.logs = tqdm_logs(prediction.input.get("seed"), done)
        return self._render(prediction, request)

    def cancel(self, prediction_id: str, request: Request) -> dict[str, Any]:
        prediction = self._prediction(prediction_id)
        if not prediction.finished:
            prediction.status = "canceled"
        return self._render(prediction, request)

    def file(self, name: str) -> Response:
        if name not in self.files:
            return JSONResponse({"detail": "Not found."}, status_code=404)
        media_type = "video/mp4" if name.endswith(".mp4") else "image/png"
        return Response(self.files[name], media_type=media_type)

    def _finish(self, prediction: Prediction, request: Request) -> None:
        prediction.logs = tqdm_logs(prediction.input.get("seed"), STEPS)
        if prediction.magic("fail"):
            prediction.status = "failed"
            prediction.error = f"CUDA out of memory (caller {prediction.authorization})"
            return
        if prediction.magic("canceled"):
            prediction.status = "canceled"
            return
        prediction.status = "succeeded"
        if prediction.magic("malformed"):
            prediction.output = {"images": 3}
            return
        if "duration" in prediction.input:
            self._finish_video(prediction, request)
            return
        width = max(8, int(prediction.input.get("width", 64)) // 2)
        height = max(8, int(prediction.input.get("height", 64)) // 2)
        cdn = f"http://localhost:{request.url.port}/files"
        urls = []
        for index in range(int(prediction.input.get("num_outputs", 1))):
            data = tiny_png(width, height, COLOURS[index % len(COLOURS)])
            name = f"{prediction.id}-{index}.png"
            if prediction.magic("datauri"):
                urls.append("data:image/png;base64," + base64.b64encode(data).decode())
                continue
            if not prediction.magic("missing"):
                self.files[name] = data
            urls.append(f"{cdn}/{name}")
        prediction.output = urls[0] if prediction.magic("single") else urls

    def _finish_video(self, prediction: Prediction, request: Request) -> None:
        data = self.video_with_audio if prediction.input.get("generate_audio") else self.video
        if prediction.magic("garbage"):
            data = NOT_A_VIDEO
        name = f"{prediction.id}.mp4"
        url = f"http://localhost:{request.url.port}/files/{name}"
        if prediction.magic("datauri"):
            url = "data:video/mp4;base64," + base64.b64encode(data).decode()
        elif not prediction.magic("missing"):
            self.files[name] = data
        prediction.output = url if prediction.magic("single") else [url]

    def _render(self, prediction: Prediction, request: Request) -> dict[str, Any]:
        own = f"{request.base_url}v1/predictions/{prediction.id}"
        return {
            "id": prediction.id,
            "model": prediction.model,
            "version": prediction.version or "hidden",
            "input": prediction.input,
            "status": prediction.status,
            "output": prediction.output,
            "error": prediction.error,
            "logs": prediction.logs,
            "created_at": "2025-01-01T00:00:00.000Z",
            "urls": {
                "get": own,
                "cancel": f"{own}/cancel",
                "web": f"https://replicate.com/p/{prediction.id}",
            },
        }


def _invalid(detail: str) -> JSONResponse:
    body = {"detail": detail, "status": 422, "title": "Input validation failed"}
    return JSONResponse(body, status_code=422)
