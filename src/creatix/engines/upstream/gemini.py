"""Google's Gemini API: ``POST {base}/models/{model}:generateContent``, for images and chat.

The key travels in the ``x-goog-api-key`` header, never as the ``?key=`` query parameter (URLs
get logged). A call makes one image, so ``n`` images are ``n`` concurrent calls with seeds
``seed``, ``seed + 1``, ... The spec's aspect ratio is snapped to the nearest one Gemini renders;
the engine fits the result to the asked size. Gemini has no negative prompt: it is appended to
the prompt as "Avoid: ...".

Chat: ``contents`` with roles ``user`` and ``model`` (an ``assistant`` turn is the model's),
the system instruction (and any ``system`` message) as ``systemInstruction``, and
``generationConfig`` with ``temperature``, ``topP``, ``topK``, ``maxOutputTokens``,
``presencePenalty``, ``frequencyPenalty``, ``seed`` (a 32-bit signed integer: a seed outside
that range is taken modulo 2^31), ``stopSequences`` (the first five: Gemini takes at most 5),
and for JSON ``responseMimeType: application/json`` with the schema as ``responseJsonSchema``.
Only what was asked is sent (``text/plain``, Gemini's default, is not).

Route params are merged into the body, winning; a dotted name reaches into nested objects:
``generationConfig.imageConfig.imageSize: "2K"``,
``generationConfig.thinkingConfig.thinkingBudget: 0``.

Outcomes: ``promptFeedback.blockReason`` (the prompt itself was blocked) is a
``ProviderRejected``; a candidate that stopped for safety (``SAFETY``, ``IMAGE_SAFETY``,
``PROHIBITED_CONTENT``, ...) without an image is a ``ProviderFailed``; an answer with no image
otherwise is a ``ProviderOutage``. Gemini answers a key it does not know with a 400
(``API_KEY_INVALID``), not a 401: that too is an outage of this route, not a rejected request.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import math
import re
from collections.abc import Awaitable, Mapping
from fractions import Fraction
from typing import Any, TypeVar
from urllib.parse import quote

from creatix.engines.upstream.engine import ImageRequest
from creatix.engines.upstream.errors import ProviderFailed, ProviderOutage, ProviderRejected
from creatix.engines.upstream.http import ProviderAccess, ProviderHttp
from creatix.engines.upstream.options import UpstreamOptions
from creatix.engines.upstream.text import ChatRequest, ChatResult

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_KEY_ENV = "CREATIX_GEMINI_API_KEY"
ASPECT_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
SEED_LIMIT = 2**31
"""Gemini's seed is a 32-bit signed integer."""
MAX_STOP_SEQUENCES = 5
"""Gemini takes at most five stop sequences."""
REFUSALS = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
    }
)
"""Finish reasons that mean the model would not answer this prompt."""
_KEY_REFUSED = re.compile(r"API key (not valid|not found|expired)|valid API key", re.IGNORECASE)
"""Gemini's messages for a key it refuses (with a 400)."""
DETAIL_CHARS = 120


class GeminiProvider:
    name = "gemini"

    def __init__(self, options: UpstreamOptions, access: ProviderAccess) -> None:
        self.options = options
        self.access = access
        headers = {"x-goog-api-key": access.api_key} if access.api_key else {}
        self._http = ProviderHttp(
            self.name,
            access.base_url,
            headers=headers,
            secrets=[access.api_key] if access.api_key else [],
            timeout=options.timeout_seconds,
            retry=options.retry_policy(),
        )

    def unavailable_reason(self) -> str | None:
        if not self.access.base_url:
            return "no base URL: set the engine's base_url"
        if self.options.requires_key and self.access.api_key is None:
            if self.options.api_key_env:
                return f"no API key: set {self.options.api_key_env}"
            return f"no API key: set {DEFAULT_KEY_ENV} or the engine's api_key_env"
        return None

    async def close(self) -> None:
        await self._http.close()

    async def _generate(self, model: str, body: dict[str, Any]) -> dict[str, Any]:
        name = model.removeprefix("models/")
        try:
            return await self._http.json(
                "POST", f"models/{quote(name, safe='-._~')}:generateContent", json_body=body
            )
        except ProviderRejected as exc:
            if _KEY_REFUSED.search(str(exc)):
                raise ProviderOutage(
                    "The model's provider refused Creatix's credentials (its API key)."
                ) from exc
            raise

    # -- images --------------------------------------------------------------------------------

    async def images(self, request: ImageRequest) -> list[bytes]:
        spec = request.spec
        done = 0

        async def one(index: int) -> bytes:
            nonlocal done
            answer = await self._generate(request.model, self._image_body(request, index))
            image = self._image_of(answer)
            done += 1
            if request.progress is not None:
                request.progress(done / spec.n)
            return image

        return await _all([one(index) for index in range(spec.n)])

    def _image_body(self, request: ImageRequest, index: int) -> dict[str, Any]:
        spec = request.spec
        prompt = spec.prompt
        if spec.negative_prompt:
            prompt = f"{prompt} Avoid: {spec.negative_prompt}"
        parts: list[dict[str, Any]] = [{"text": prompt}]
        if request.input_image is not None:
            data = base64.b64encode(request.input_image).decode("ascii")
            parts.append({"inline_data": {"mime_type": "image/png", "data": data}})
        body: dict[str, Any] = {
            "contents": [{"role": "user", "parts": parts}],
            "generationConfig": {
                "responseModalities": ["TEXT", "IMAGE"],
                "imageConfig": {"aspectRatio": aspect_ratio(spec.width, spec.height)},
                "seed": (spec.seed + index) % SEED_LIMIT,
            },
        }
        return merged(body, request.params)

    def _image_of(self, answer: Mapping[str, Any]) -> bytes:
        candidate = self._candidate(answer)
        texts = []
        for part in _parts(candidate):
            if part.get("thought"):
                continue
            inline = part.get("inlineData", part.get("inline_data"))
            if isinstance(inline, dict):
                data = inline.get("data")
                if not isinstance(data, str) or not data:
                    break
                return _decoded(data)
            if isinstance(part.get("text"), str):
                texts.append(part["text"])
        finish = candidate.get("finishReason")
        if finish in REFUSALS:
            raise ProviderFailed(f"The model's provider refused to make the image ({finish}).")
        said = self._http.redact(" ".join(texts))[:DETAIL_CHARS]
        log.warning(
            "provider answered no image", extra={"provider": self.name, "finish_reason": finish}
        )
        raise ProviderOutage(
            "The model's provider answered without an image"
            + (f" (finish reason {finish})" if isinstance(finish, str) else "")
            + (f': "{said}".' if said else ".")
        )

    def _candidate(self, answer: Mapping[str, Any]) -> Mapping[str, Any]:
        """The first candidate; a blocked prompt is rejected."""
        feedback = answer.get("promptFeedback")
        if isinstance(feedback, dict) and feedback.get("blockReason"):
            reason = self._http.redact(str(feedback["blockReason"]))
            raise ProviderRejected(f"The model's provider blocked the prompt ({reason}).")
        candidates = answer.get("candidates")
        first = candidates[0] if isinstance(candidates, list) and candidates else None
        if not isinstance(first, dict):
            raise ProviderOutage("The model's provider answered no candidate.")
        return first

    # -- chat ----------------------------------------------------------------------------------

    async def chat(self, request: ChatRequest) -> ChatResult:
        system = [request.system] if request.system else []
        system += [m.content for m in request.messages if m.role == "system"]
        contents = [
            {"role": "model" if m.role == "assistant" else "user", "parts": [{"text": m.content}]}
            for m in request.messages
            if m.role != "system"
        ]
        optional: dict[str, object] = {
            "temperature": request.temperature,
            "topP": request.top_p,
            "topK": request.top_k,
            "maxOutputTokens": request.max_tokens,
            "presencePenalty": request.presence_penalty,
            "frequencyPenalty": request.frequency_penalty,
            "seed": None if request.seed is None else _int32(request.seed),
        }
        config = {name: value for name, value in optional.items() if value is not None}
        if request.stop:
            config["stopSequences"] = list(request.stop[:MAX_STOP_SEQUENCES])
        if request.wants_json:
            config["responseMimeType"] = "application/json"
        if request.json_schema is not None:
            config["responseJsonSchema"] = dict(request.json_schema)
        body: dict[str, Any] = {"contents": contents}
        if system:
            body["systemInstruction"] = {"parts": [{"text": "\n\n".join(system)}]}
        if config:
            body["generationConfig"] = config
        answer = await self._generate(request.model, merged(body, request.params))
        candidate = self._candidate(answer)
        texts = [
            part["text"]
            for part in _parts(candidate)
            if isinstance(part.get("text"), str) and not part.get("thought")
        ]
        if not texts:
            finish = candidate.get("finishReason")
            if finish in REFUSALS:
                raise ProviderFailed(f"The model's provider refused to answer ({finish}).")
            if finish == "MAX_TOKENS":
                raise ProviderFailed("The model ran out of tokens before answering.")
            raise ProviderOutage("The model's provider answered no text.")
        usage = answer.get("usageMetadata")
        usage = usage if isinstance(usage, dict) else {}
        # Output is billed with the model's thinking: candidates + thoughts.
        output_tokens = _count(usage.get("candidatesTokenCount"))
        if output_tokens is not None:
            output_tokens += _count(usage.get("thoughtsTokenCount")) or 0
        return ChatResult(
            text="".join(texts),
            input_tokens=_count(usage.get("promptTokenCount")),
            output_tokens=output_tokens,
        )


def aspect_ratio(width: int, height: int) -> str:
    """Of Gemini's aspect ratios, the nearest to ``width:height`` (compared as logarithms, so
    2:1 and 1:2 are equally far from square)."""
    wanted = math.log(width / height)

    def distance(ratio: str) -> float:
        w, h = ratio.split(":")
        return abs(math.log(Fraction(int(w), int(h))) - wanted)

    return min(ASPECT_RATIOS, key=distance)


def merged(body: dict[str, Any], params: Mapping[str, object]) -> dict[str, Any]:
    """``body`` with ``params`` set over it; a dotted name sets a field of a nested object,
    keeping the object's other fields (``generationConfig.imageConfig.imageSize``)."""
    for name, value in params.items():
        *path, leaf = name.split(".")
        target = body
        for key in path:
            inner = target.get(key)
            if not isinstance(inner, dict):
                inner = target[key] = {}
            target = inner
        target[leaf] = value
    return body


def _parts(candidate: Mapping[str, Any]) -> list[dict[str, Any]]:
    content = candidate.get("content")
    parts = content.get("parts") if isinstance(content, dict) else None
    return [part for part in parts if isinstance(part, dict)] if isinstance(parts, list) else []


def _decoded(encoded: str) -> bytes:
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProviderOutage("The model's provider answered an image that is not base64.") from exc


def _int32(seed: int) -> int:
    """``seed`` as Gemini takes it: itself when it fits a 32-bit signed integer."""
    return seed if -SEED_LIMIT <= seed < SEED_LIMIT else seed % SEED_LIMIT


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


async def _all(calls: list[Awaitable[T]]) -> list[T]:
    """Every call's result, run concurrently; when one fails the others are cancelled."""
    tasks = [asyncio.ensure_future(call) for call in calls]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
