"""A fake fal queue API (https://queue.fal.run).

``POST /{model_id}`` queues a request and answers its ``status_url``, ``response_url`` and
``cancel_url``, which, as fal's do, name the app (``owner/app``) and not the model's subpath.
A request is ``IN_QUEUE`` (with a queue position) on its first status poll, ``IN_PROGRESS``
after, and ``COMPLETED`` once ``polls_to_finish`` polls have been answered (``FOREVER``: never).
Its images are served by the fake itself as ``http://localhost:{port}/files/...``: another host
than the API's ``127.0.0.1``, as fal's CDN is.

A request whose input has a ``duration`` is a video model's (Kling's image-to-video): its
response is ``{"video": {"url", ...}}``, the URL serving ``VIDEO`` (a real 64×36 H.264 MP4 of
``VIDEO_SECONDS`` at ``VIDEO_FPS``, made once per fake with PyAV), with an AAC track when the
input has ``generate_audio: true``.

Magic words in the prompt:

``fake:fail``      the request completes with an ``error`` (which, carelessly, quotes the
                   caller's Authorization header)
``fake:invalid``   its response is fal's 422 validation error
``fake:malformed`` its response is JSON of the wrong shape
``fake:missing``   its image (or video) URLs answer 404
``fake:garbage``   its video is not a video (bytes no decoder reads)

``sync_mode: true`` in the input makes the image (or video) URLs ``data:`` URIs.
"""

from __future__ import annotations

import base64
import io
import uuid
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
import numpy as np
from fastapi import Depends, Header, HTTPException, Request, Response
from fastapi.responses import JSONResponse

from fakes.server import FakeProvider, tiny_png

FOREVER = 10**9
COLOURS = [(200, 60, 30), (30, 160, 90), (40, 70, 200), (220, 200, 40)]
VIDEO_SIZE = (64, 36)
VIDEO_SECONDS = 1
VIDEO_FPS = 12
VIDEO_COLOUR = (40, 70, 200)
"""The first frame's colour (later frames wipe to its inverse, left to right)."""
NOT_A_VIDEO = b"\x00\x00\x00\x18ftypmp42 but nothing a decoder can read"
SAMPLE_RATE = 48_000


def tiny_mp4(*, audio: bool = False) -> bytes:
    """A real MP4 for fakes to return: ``VIDEO_SIZE`` H.264, ``VIDEO_SECONDS`` at
    ``VIDEO_FPS``, and, with ``audio``, a stereo AAC tone as long."""
    width, height = VIDEO_SIZE
    frames = VIDEO_SECONDS * VIDEO_FPS
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        video = container.add_stream("libx264", rate=VIDEO_FPS, options={"preset": "ultrafast"})
        video.width, video.height = width, height
        video.pix_fmt = "yuv420p"
        sound = container.add_stream("aac", rate=SAMPLE_RATE) if audio else None
        if sound is not None:
            sound.layout = "stereo"
        inverse = [255 - channel for channel in VIDEO_COLOUR]
        for index in range(frames):
            picture = np.empty((height, width, 3), np.uint8)
            picture[:] = VIDEO_COLOUR
            picture[:, : index * width // frames] = inverse
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = index
            frame.time_base = Fraction(1, VIDEO_FPS)
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if sound is not None:
            instants = np.arange(VIDEO_SECONDS * SAMPLE_RATE) / SAMPLE_RATE
            tone = (0.2 * np.sin(2 * np.pi * 440 * instants)).astype(np.float32)
            samples = av.AudioFrame.from_ndarray(
                np.stack([tone, tone]), format="fltp", layout="stereo"
            )
            samples.sample_rate = SAMPLE_RATE
            samples.pts = 0
            samples.time_base = Fraction(1, SAMPLE_RATE)
            container.mux(sound.encode(samples))
            container.mux(sound.encode(None))
    return buffer.getvalue()


@dataclass
class FalJob:
    id: str
    model: str
    input: dict[str, Any]
    authorization: str
    polls: int = 0
    completed: bool = False
    canceled: bool = False

    def magic(self, word: str) -> bool:
        return f"fake:{word}" in str(self.input.get("prompt", ""))


class FakeFal(FakeProvider):
    def __init__(self, key: str = "fal-key-for-tests", polls_to_finish: int = 2) -> None:
        super().__init__()
        self.key = key
        self._polls_to_finish = polls_to_finish
        self.polls_to_finish = polls_to_finish
        self.give_urls = True
        """False: the submit answer carries only the request id."""
        self.jobs: dict[str, FalJob] = {}
        self.files: dict[str, bytes] = {}
        self.video = tiny_mp4()
        self.video_with_audio = tiny_mp4(audio=True)
        authorized = [Depends(self._authorized)]
        app = self.app
        app.add_api_route("/files/{name}", self.file, methods=["GET"])
        app.add_api_route(
            "/{app_path:path}/requests/{request_id}/status",
            self.status,
            methods=["GET"],
            dependencies=authorized,
        )
        app.add_api_route(
            "/{app_path:path}/requests/{request_id}/cancel",
            self.cancel,
            methods=["PUT"],
            dependencies=authorized,
        )
        app.add_api_route(
            "/{app_path:path}/requests/{request_id}",
            self.response,
            methods=["GET"],
            dependencies=authorized,
        )
        app.add_api_route(
            "/{model_id:path}", self.submit, methods=["POST"], dependencies=authorized
        )

    def reset(self) -> None:
        """Forget every request, job and fault, for the next test."""
        super().reset()
        self.jobs.clear()
        self.files.clear()
        self.polls_to_finish = self._polls_to_finish
        self.give_urls = True

    def _authorized(self, authorization: str = Header(default="")) -> None:
        if authorization != f"Key {self.key}":
            raise HTTPException(401, detail="Invalid authentication credentials")

    def _job(self, request_id: str) -> FalJob:
        if request_id not in self.jobs:
            raise HTTPException(404, detail="Request not found")
        return self.jobs[request_id]

    async def submit(self, model_id: str, request: Request) -> dict[str, Any]:
        job = FalJob(
            id=str(uuid.uuid4()),
            model=model_id,
            input=await request.json(),
            authorization=request.headers["authorization"],
        )
        self.jobs[job.id] = job
        answer: dict[str, Any] = {"request_id": job.id}
        if self.give_urls:
            app_id = "/".join(model_id.split("/")[:2])
            own = f"{request.base_url}{app_id}/requests/{job.id}"
            answer |= {"status_url": f"{own}/status", "response_url": own}
            answer["cancel_url"] = f"{own}/cancel"
        return answer

    def status(self, request_id: str) -> dict[str, Any]:
        job = self._job(request_id)
        job.polls += 1
        if job.canceled:
            job.completed = True
            return {"status": "COMPLETED", "error": "Request was cancelled"}
        if job.polls <= self.polls_to_finish:
            if job.polls == 1:
                return {"status": "IN_QUEUE", "queue_position": 3}
            return {"status": "IN_PROGRESS", "logs": []}
        job.completed = True
        if job.magic("fail"):
            return {
                "status": "COMPLETED",
                "error": f"CUDA out of memory on the runner (caller {job.authorization})",
                "error_type": "runner_error",
            }
        return {"status": "COMPLETED", "metrics": {"inference_time": 0.4}}

    def cancel(self, request_id: str) -> JSONResponse:
        job = self._job(request_id)
        if job.completed:
            return JSONResponse({"status": "ALREADY_COMPLETED"}, status_code=400)
        job.canceled = True
        return JSONResponse({"status": "CANCELLATION_REQUESTED"}, status_code=202)

    def response(self, request_id: str, request: Request) -> Any:
        job = self._job(request_id)
        if not job.completed:
            return JSONResponse({"detail": "Request is still in progress"}, status_code=400)
        if job.magic("invalid"):
            detail = [{"loc": ["body", "image_size"], "msg": "too big", "type": "value_error"}]
            return JSONResponse({"detail": detail}, status_code=422)
        if job.magic("malformed"):
            return {"unexpected": "shape"}
        if "duration" in job.input:
            return self._video_result(job, request)
        size = job.input.get("image_size", {})
        width, height = max(8, size["width"] // 2), max(8, size["height"] // 2)
        cdn = f"http://localhost:{request.url.port}/files"
        images = []
        for index in range(int(job.input.get("num_images", 1))):
            data = tiny_png(width, height, COLOURS[index % len(COLOURS)])
            name = f"{job.id}-{index}.png"
            if job.input.get("sync_mode"):
                url = "data:image/png;base64," + base64.b64encode(data).decode()
            elif job.magic("missing"):
                url = f"{cdn}/{name}"
            else:
                self.files[name] = data
                url = f"{cdn}/{name}"
            images.append(
                {"url": url, "width": width, "height": height, "content_type": "image/png"}
            )
        return {
            "images": images,
            "seed": job.input.get("seed"),
            "has_nsfw_concepts": [False] * len(images),
            "prompt": job.input.get("prompt"),
            "timings": {"inference": 0.4},
        }

    def _video_result(self, job: FalJob, request: Request) -> dict[str, Any]:
        data = self.video_with_audio if job.input.get("generate_audio") else self.video
        if job.magic("garbage"):
            data = NOT_A_VIDEO
        name = f"{job.id}.mp4"
        url = f"http://localhost:{request.url.port}/files/{name}"
        if job.input.get("sync_mode"):
            url = "data:video/mp4;base64," + base64.b64encode(data).decode()
        elif not job.magic("missing"):
            self.files[name] = data
        return {
            "video": {
                "url": url,
                "content_type": "video/mp4",
                "file_name": "output.mp4",
                "file_size": len(data),
            }
        }

    def file(self, name: str) -> Response:
        if name not in self.files:
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        media_type = "video/mp4" if name.endswith(".mp4") else "image/png"
        return Response(self.files[name], media_type=media_type)
