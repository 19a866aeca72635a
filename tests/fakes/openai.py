"""A fake OpenAI: the Images API (generations, edits) and Chat Completions under ``/v1``.

- Every call needs ``Authorization: Bearer <api_key>`` (when the fake has one): else 401.
- Errors use OpenAI's envelope ``{"error": {"message", "type", "param", "code"}}``: 400 for a
  prompt or message containing ``REJECT ME`` and for a model it does not know.
- Images are PNGs of the asked size, as ``b64_json``; model ``url-model`` answers ``url``s
  served by the fake itself, ``missing-url-model`` ``url``s that 404.
- Chat answers ``echo: <last user message>``; with a ``json_schema`` response format, a JSON
  document made to fit the (simple) schema; with ``json_object``, ``{"echo": <last user
  message>}``. As OpenAI does, it answers a 400 to ``json_object`` when no message says "json",
  and to more than 4 ``stop`` sequences. Every chat body is in ``chat_bodies``.
- ``invalid_json_times = N``: the next N JSON answers are not JSON at all; ``off_schema_times =
  N``: the next N are JSON that does not fit the schema (for the job core's schema check).
  ``reset()`` sets both back to 0.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile

from fakes.server import FakeProvider, tiny_png

KEY = "sk-test-openai-5f1c2a9be07d4c1e"
IMAGE_MODELS = frozenset({"gpt-image-1", "url-model", "missing-url-model"})
CHAT_MODELS = frozenset({"gpt-4o-mini"})
REJECT = "REJECT ME"


@dataclass(frozen=True)
class Edit:
    """One ``/images/edits`` call's multipart form."""

    fields: dict[str, str]
    image: bytes
    image_type: str | None


class FakeOpenAI(FakeProvider):
    def __init__(self, api_key: str | None = KEY) -> None:
        super().__init__()
        self.api_key = api_key
        self.edits: list[Edit] = []
        self.chat_bodies: list[dict[str, Any]] = []
        self.invalid_json_times = 0
        self.off_schema_times = 0
        self._files: dict[str, bytes] = {}
        self.app.post("/v1/images/generations")(self._generations)
        self.app.post("/v1/images/edits")(self._edits)
        self.app.post("/v1/chat/completions")(self._chat)
        self.app.get("/files/{name}")(self._file)

    def reset(self) -> None:
        super().reset()
        self.edits.clear()
        self.chat_bodies.clear()
        self.invalid_json_times = self.off_schema_times = 0

    # -- routes --------------------------------------------------------------------------------

    async def _generations(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        body = await request.json()
        return self._images(body["model"], body["prompt"], int(body.get("n", 1)), body["size"])

    async def _edits(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        form = await request.form()
        image = form.get("image")
        if not isinstance(image, UploadFile):
            return _error(400, "image is required", param="image")
        fields = {name: value for name, value in form.items() if isinstance(value, str)}
        self.edits.append(Edit(fields, await image.read(), image.content_type))
        return self._images(
            fields["model"], fields["prompt"], int(fields.get("n", "1")), fields["size"]
        )

    async def _chat(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        body = await request.json()
        self.chat_bodies.append(body)
        if body["model"] not in CHAT_MODELS:
            return _unknown_model(body["model"])
        messages = body["messages"]
        if any(REJECT in message["content"] for message in messages):
            return _error(400, "Your request was rejected by the safety system.", code="rejected")
        if len(body.get("stop") or []) > 4:
            return _error(
                400, "Invalid 'stop': expected an array of at most 4 items.", param="stop"
            )
        response_format = body.get("response_format") or {}
        kind = response_format.get("type")
        last = [m["content"] for m in messages if m["role"] == "user"][-1]
        if kind == "json_object" and not any("json" in m["content"].lower() for m in messages):
            return _error(
                400,
                "'messages' must contain the word 'json' in some form, to use "
                "'response_format' of type 'json_object'.",
                param="messages",
            )
        if kind == "json_schema":
            text = self._json_text(schema_instance(response_format["json_schema"]["schema"]))
        elif kind == "json_object":
            text = self._json_text({"echo": last})
        else:
            text = f"echo: {last}"
        prompt_words = sum(len(m["content"].split()) for m in messages)
        return JSONResponse(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text, "refusal": None},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_words,
                    "completion_tokens": len(text.split()),
                    "total_tokens": prompt_words + len(text.split()),
                },
            }
        )

    async def _file(self, name: str) -> Response:
        data = self._files.get(name)
        if data is None:
            return _error(404, "No such file.")
        return Response(data, media_type="image/png")

    # -- helpers -------------------------------------------------------------------------------

    def _json_text(self, instance: Any) -> str:
        """A JSON answer, or a bad one while ``invalid_json_times``/``off_schema_times`` last."""
        text, self.invalid_json_times, self.off_schema_times = json_answer(
            instance, self.invalid_json_times, self.off_schema_times
        )
        return text

    def _refused(self, request: Request) -> Response | None:
        if self.api_key is None or request.headers.get("authorization") == f"Bearer {self.api_key}":
            return None
        return _error(401, "Incorrect API key provided.", code="invalid_api_key")

    def _images(self, model: str, prompt: str, n: int, size: str) -> Response:
        if model not in IMAGE_MODELS:
            return _unknown_model(model)
        if REJECT in prompt:
            return _error(
                400,
                "Your request was rejected as a result of our safety system.",
                code="moderation_blocked",
            )
        width, height = (1024, 1024) if size == "auto" else map(int, size.split("x"))
        items = []
        for index in range(n):
            png = tiny_png(width, height, (40 * index % 256, 120, 200))
            if model == "gpt-image-1":
                items.append({"b64_json": base64.b64encode(png).decode("ascii")})
            elif model == "url-model":
                name = f"{uuid.uuid4().hex}.png"
                self._files[name] = png
                items.append({"url": f"{self.url}/files/{name}"})
            else:
                items.append({"url": f"{self.url}/files/gone-{index}.png"})
        return JSONResponse({"created": int(time.time()), "data": items})


def _error(
    status: int,
    message: str,
    *,
    kind: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
) -> Response:
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": param, "code": code}},
        status_code=status,
    )


def _unknown_model(model: str) -> Response:
    return _error(
        400, f"The model `{model}` does not exist.", param="model", code="model_not_found"
    )


def schema_instance(schema: dict[str, Any]) -> Any:
    """A value valid against a simple JSON Schema (objects, arrays, enums, scalars)."""
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: schema_instance(sub) for name, sub in properties.items()}
    if kind == "array":
        return [schema_instance(schema.get("items", {}))]
    return {"integer": 1, "number": 1.5, "boolean": True, "null": None}.get(str(kind), "echo")


NOT_JSON = "Sure! Here is the JSON you asked for: {"
OFF_SCHEMA: list[object] = ["off", "schema"]
"""A JSON array: off every object schema (and every schema whose type is not array)."""


def json_answer(instance: Any, invalid_times: int, off_schema_times: int) -> tuple[str, int, int]:
    """The text for a JSON answer and the counters left: not JSON while ``invalid_times``
    lasts, then JSON off the schema while ``off_schema_times`` lasts, then ``instance``."""
    if invalid_times > 0:
        return NOT_JSON, invalid_times - 1, off_schema_times
    if off_schema_times > 0:
        off = OFF_SCHEMA if not isinstance(instance, list) else {"off": "schema"}
        return json.dumps(off), invalid_times, off_schema_times - 1
    return json.dumps(instance), invalid_times, off_schema_times
