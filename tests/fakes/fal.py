"""A fake fal queue API (https://queue.fal.run).

``POST /{model_id}`` queues a request and answers its ``status_url``, ``response_url`` and
``cancel_url``, which, as fal's do, name the app (``owner/app``) and not the model's subpath.
A request is ``IN_QUEUE`` (with a queue position) on its first status poll, ``IN_PROGRESS``
after, and ``COMPLETED`` once ``polls_to_finish`` polls have been answered (``FOREVER``: never).
Its images are served by the fake itself as ``http://localhost:{port}/files/...``: another host
than the API's ``127.0.0.1``, as fal's CDN is.

Magic words in the prompt:

``fake:fail``      the request completes with an ``error`` (which, carelessly, quotes the
                   caller's Authorization header)
``fake:invalid``   its response is fal's 422 validation error
``fake:malformed`` its response is JSON of the wrong shape
``fake:missing``   its image URLs answer 404

``sync_mode: true`` in the input makes the image URLs ``data:`` URIs.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Header, HTTPException, Request, Response
from fastapi.responses import JSONResponse

from fakes.server import FakeProvider, tiny_png

FOREVER = 10**9
COLOURS = [(200, 60, 30), (30, 160, 90), (40, 70, 200), (220, 200, 40)]


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

    def file(self, name: str) -> Response:
        if name not in self.files:
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        return Response(self.files[name], media_type="image/png")
