"""A fake Gemini API: ``POST /v1beta/models/{model}:generateContent``.

- The key goes in ``x-goog-api-key``. As the real API does, a missing key is a 403
  ``PERMISSION_DENIED`` and a wrong one a 400 ``INVALID_ARGUMENT`` (``API_KEY_INVALID``).
- Errors use Google's envelope ``{"error": {"code", "message", "status"}}``: 400 for a prompt
  containing ``REJECT ME`` or an aspect ratio Gemini does not render, 404 for an unknown model.
- With ``responseModalities`` naming ``IMAGE``, the answer is a text part and an
  ``inlineData`` PNG shaped like the asked aspect ratio (model ``snake-model`` answers in
  snake_case, ``inline_data``). A prompt containing ``BLOCK ME`` is blocked
  (``promptFeedback.blockReason``), one containing ``UNSAFE`` ends with ``IMAGE_SAFETY``.
- Otherwise it chats: ``echo: <last user text>``; with ``responseMimeType: application/json``,
  a JSON document made to fit ``responseJsonSchema``, or ``{"echo": <last user text>}`` without
  one. More than 5 ``stopSequences`` is a 400, as it is upstream. Every chat body is in
  ``chat_bodies``; ``invalid_json_times`` and ``off_schema_times`` spoil the next JSON answers
  as the fake OpenAI's do.
"""

from __future__ import annotations

import base64
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from fakes.openai import json_answer, schema_instance
from fakes.server import FakeProvider, tiny_png

KEY = "AIzaFakeGeminiKey-3b8e61d0c4a2"
MODELS = frozenset({"gemini-2.5-flash-image", "snake-model", "gemini-2.5-flash"})
ASPECT_RATIOS = frozenset({"1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"})
REJECT, BLOCK, UNSAFE = "REJECT ME", "BLOCK ME", "UNSAFE"


class FakeGemini(FakeProvider):
    def __init__(self, api_key: str = KEY) -> None:
        super().__init__()
        self.api_key = api_key
        self.chat_bodies: list[dict[str, Any]] = []
        self.invalid_json_times = 0
        self.off_schema_times = 0
        self.app.post("/v1beta/models/{model}:generateContent")(self._generate)

    def reset(self) -> None:
        super().reset()
        self.chat_bodies.clear()
        self.invalid_json_times = self.off_schema_times = 0

    async def _generate(self, model: str, request: Request) -> Response:
        key = request.headers.get("x-goog-api-key")
        if key is None:
            return _error(403, "Method doesn't allow unregistered callers.", "PERMISSION_DENIED")
        if key != self.api_key:
            return _error(
                400, "API key not valid. Please pass a valid API key.", "INVALID_ARGUMENT"
            )
        if model not in MODELS:
            return _error(404, f"models/{model} is not found for API version v1beta.", "NOT_FOUND")
        body = await request.json()
        texts = [p["text"] for c in body["contents"] for p in c["parts"] if "text" in p]
        prompt = " ".join(texts)
        if REJECT in prompt:
            return _error(400, "Request contains an invalid argument.", "INVALID_ARGUMENT")
        if BLOCK in prompt:
            return JSONResponse(
                {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, **_usage(prompt, "")}
            )
        config = body.get("generationConfig", {})
        if "IMAGE" in config.get("responseModalities", []):
            return self._image(model, prompt, config)
        self.chat_bodies.append(body)
        if len(config.get("stopSequences", [])) > 5:
            return _error(
                400, "stop_sequences: at most 5 stop sequences are allowed.", "INVALID_ARGUMENT"
            )
        return self._chat(model, texts[-1], config)

    def _image(self, model: str, prompt: str, config: dict[str, Any]) -> Response:
        ratio = config.get("imageConfig", {}).get("aspectRatio", "1:1")
        if ratio not in ASPECT_RATIOS:
            return _error(400, f"Unsupported aspect ratio: {ratio}.", "INVALID_ARGUMENT")
        if UNSAFE in prompt:
            return JSONResponse({"candidates": [{"finishReason": "IMAGE_SAFETY", "index": 0}]})
        w, h = (int(side) for side in ratio.split(":"))
        png = tiny_png(256 * w // max(w, h), 256 * h // max(w, h))
        data = base64.b64encode(png).decode("ascii")
        if model == "snake-model":
            image = {"inline_data": {"mime_type": "image/png", "data": data}}
        else:
            image = {"inlineData": {"mimeType": "image/png", "data": data}}
        parts: list[dict[str, Any]] = [{"text": "Here is your image."}, image]
        return JSONResponse(_answer(parts, _usage(prompt, "Here is your image.")))

    def _chat(self, model: str, last: str, config: dict[str, Any]) -> Response:
        schema = config.get("responseJsonSchema")
        if config.get("responseMimeType") == "application/json":
            instance = schema_instance(schema) if schema is not None else {"echo": last}
            text, self.invalid_json_times, self.off_schema_times = json_answer(
                instance, self.invalid_json_times, self.off_schema_times
            )
        else:
            text = f"echo: {last}"
        return JSONResponse(_answer([{"text": text}], _usage(last, text)))


def _answer(parts: list[dict[str, Any]], usage: dict[str, Any]) -> dict[str, Any]:
    return {
        "candidates": [
            {"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}
        ],
        **usage,
        "modelVersion": "fake",
    }


def _usage(prompt: str, answer: str) -> dict[str, Any]:
    asked, said = len(prompt.split()), len(answer.split())
    return {
        "usageMetadata": {
            "promptTokenCount": asked,
            "candidatesTokenCount": said,
            "totalTokenCount": asked + said,
        }
    }


def _error(status: int, message: str, kind: str) -> Response:
    return JSONResponse(
        {"error": {"code": status, "message": message, "status": kind}}, status_code=status
    )
