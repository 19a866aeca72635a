"""OpenAI's Images and Chat Completions APIs, and any OpenAI-compatible server (LocalAI, vLLM,
Ollama, a llama.cpp server) by base URL.

Images: ``POST {base}/images/generations`` (JSON) for text to image, ``POST {base}/images/edits``
(multipart, the reference image as the ``image`` file) with an input image. Results come as
``data[].b64_json`` or as ``data[].url``, which is downloaded.

The size sent is the spec's own (``WxH``; OpenAI-compatible servers take any), unless the route
lists the sizes its model renders (``sizes: "1024x1024,1536x1024,1024x1536"``, not sent): then
the one closest in aspect ratio (ties: the larger). The engine fits the result to the asked
size. ``quality`` is the request's ``engine_params["quality"]`` (low/medium/high), else
``high`` for an ``hd`` spec, else left to the provider. OpenAI has no negative prompt and no
seed; they are not sent. Route params are sent as they are and win over derived fields.

Chat: ``POST {base}/chat/completions``. The key, when one is configured, travels as
``Authorization: Bearer``; no other OpenAI-only header is sent. A ``ChatRequest`` maps to:

- ``system`` → a first ``system`` message; ``assistant`` turns keep their role;
- ``temperature``, ``top_p``, ``presence_penalty``, ``frequency_penalty``, ``seed`` as named;
- ``max_tokens`` → ``max_tokens``. OpenAI deprecated it for ``max_completion_tokens`` (which its
  reasoning models require), but the OpenAI-compatible servers this provider also speaks to
  (llama.cpp, Ollama, LocalAI, older vLLM) know only ``max_tokens``, and OpenAI's other chat
  models still take it. A route whose model wants the new name says
  ``max_tokens_field: max_completion_tokens`` (a route param, not sent);
- ``stop`` → ``stop``, its first four only: OpenAI takes at most 4 stop sequences;
- ``top_k`` is no OpenAI parameter (OpenAI answers a 400 to it): it is dropped, unless the route
  says ``send_top_k: true`` (not sent), for servers that take it (vLLM, llama.cpp);
- a JSON schema → ``response_format: {"type": "json_schema", "json_schema": {"name": "output",
  "schema": ..., "strict": false}}``. Not strict: OpenAI's strict mode refuses any schema that
  does not set ``additionalProperties: false`` and list every property as required, which
  users' schemas often do not; the job core checks the answer against the schema anyway;
- JSON without a schema → ``response_format: {"type": "json_object"}``. OpenAI then requires the
  word "JSON" somewhere in the messages: when none has it, the line "Answer with JSON only." is
  added to the system message.

Route params are merged last, verbatim, and win over every derived field.
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
import re
from collections.abc import Mapping
from typing import Any

from creatix.engines.upstream.engine import ImageRequest
from creatix.engines.upstream.errors import ProviderFailed, ProviderOutage, ProviderRejected
from creatix.engines.upstream.http import ProviderAccess, ProviderHttp
from creatix.engines.upstream.options import UpstreamOptions
from creatix.engines.upstream.text import ChatRequest, ChatResult
from creatix.jobs.specs import ImageSpec

log = logging.getLogger(__name__)

DEFAULT_KEY_ENV = "CREATIX_OPENAI_API_KEY"
SIZES_PARAM = "sizes"
"""A route param naming the sizes the model renders; Creatix's own, never sent."""
_SIZE = re.compile(r"^\s*(\d+)\s*x\s*(\d+)\s*$")
MAX_TOKENS_FIELD_PARAM = "max_tokens_field"
"""A route param naming the field for ``max_tokens``; Creatix's own, never sent."""
MAX_TOKENS_FIELDS = ("max_tokens", "max_completion_tokens")
SEND_TOP_K_PARAM = "send_top_k"
"""A route param: send ``top_k`` (vLLM, llama.cpp take it; OpenAI does not). Never sent."""
MAX_STOP_SEQUENCES = 4
"""OpenAI takes at most four stop sequences."""
JSON_LINE = "Answer with JSON only."
"""Added to the system message for ``json_object`` when no message says "JSON"."""


class OpenAIProvider:
    name = "openai"

    def __init__(self, options: UpstreamOptions, access: ProviderAccess) -> None:
        self.options = options
        self.access = access
        headers = {"Authorization": f"Bearer {access.api_key}"} if access.api_key else {}
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

    # -- images --------------------------------------------------------------------------------

    async def images(self, request: ImageRequest) -> list[bytes]:
        spec = request.spec
        params = dict(request.params)
        sizes = params.pop(SIZES_PARAM, None)
        fields: dict[str, Any] = {
            "model": request.model,
            "prompt": spec.prompt,
            "n": spec.n,
            "size": pick_size(spec.width, spec.height, None if sizes is None else str(sizes)),
        }
        quality = _quality(spec)
        if quality is not None:
            fields["quality"] = quality
        fields.update(params)
        if request.input_image is None:
            body = await self._http.json("POST", "images/generations", json_body=fields)
        else:
            body = await self._http.json(
                "POST",
                "images/edits",
                data={name: _form_value(value) for name, value in fields.items()},
                files={"image": ("image.png", request.input_image, "image/png")},
            )
        files = await self._files(body)
        if request.progress is not None:
            request.progress(1.0)
        return files

    async def _files(self, body: Mapping[str, Any]) -> list[bytes]:
        data = body.get("data")
        if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
            log.warning("provider answered images without data", extra={"provider": self.name})
            raise ProviderOutage("The model's provider answered without images.")
        files = []
        for item in data:
            encoded, url = item.get("b64_json"), item.get("url")
            if isinstance(encoded, str) and encoded:
                files.append(_decoded(encoded))
            elif isinstance(url, str) and url.startswith(("https://", "http://")):
                files.append(await self._http.download(url))
            else:
                raise ProviderOutage("The model's provider answered an image with no file.")
        return files

    # -- chat ----------------------------------------------------------------------------------

    async def chat(self, request: ChatRequest) -> ChatResult:
        body = chat_body(request)
        answer = await self._http.json("POST", "chat/completions", json_body=body)
        return self._chat_result(answer)

    def _chat_result(self, answer: Mapping[str, Any]) -> ChatResult:
        choices = answer.get("choices")
        choice = choices[0] if isinstance(choices, list) and choices else None
        message = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(choice, dict) or not isinstance(message, dict):
            raise ProviderOutage("The model's provider answered no message.")
        text = _text_of(message.get("content"))
        if text is None:
            refusal = message.get("refusal")
            if isinstance(refusal, str) and refusal.strip():
                raise ProviderFailed(f"The model refused: {self._http.redact(refusal)}")
            if choice.get("finish_reason") == "content_filter":
                raise ProviderFailed("The model's provider withheld the answer (content filter).")
            raise ProviderOutage("The model's provider answered a message with no text.")
        usage = answer.get("usage")
        usage = usage if isinstance(usage, dict) else {}
        return ChatResult(
            text=text,
            input_tokens=_count(usage.get("prompt_tokens")),
            output_tokens=_count(usage.get("completion_tokens")),
        )


def chat_body(request: ChatRequest) -> dict[str, Any]:
    """The ``chat/completions`` body for ``request``, as the module describes."""
    params = dict(request.params)
    tokens_field = str(params.pop(MAX_TOKENS_FIELD_PARAM, "max_tokens"))
    if tokens_field not in MAX_TOKENS_FIELDS:
        raise ProviderRejected(
            f"The model's route names {tokens_field!r} as its max_tokens_field; "
            f"known: {', '.join(MAX_TOKENS_FIELDS)}."
        )
    send_top_k = _flag(params.pop(SEND_TOP_K_PARAM, False))
    system = request.system
    json_object = request.json_mode and request.json_schema is None
    if json_object and not _says_json(system, request):
        system = f"{system}\n\n{JSON_LINE}" if system else JSON_LINE
    messages = [{"role": "system", "content": system}] if system else []
    messages += [{"role": m.role, "content": m.content} for m in request.messages]
    body: dict[str, Any] = {"model": request.model, "messages": messages}
    optional: dict[str, object] = {
        "temperature": request.temperature,
        "top_p": request.top_p,
        "top_k": request.top_k if send_top_k else None,
        tokens_field: request.max_tokens,
        "presence_penalty": request.presence_penalty,
        "frequency_penalty": request.frequency_penalty,
        "seed": request.seed,
    }
    body.update({name: value for name, value in optional.items() if value is not None})
    if request.stop:
        body["stop"] = list(request.stop[:MAX_STOP_SEQUENCES])
    if request.json_schema is not None:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": dict(request.json_schema), "strict": False},
        }
    elif json_object:
        body["response_format"] = {"type": "json_object"}
    body.update(params)
    return body


def _says_json(system: str | None, request: ChatRequest) -> bool:
    texts = [system or ""] + [m.content for m in request.messages]
    return any("json" in text.lower() for text in texts)


def _flag(value: object) -> bool:
    """A route param's truth: ``true``/``false`` as a boolean or as a string."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def pick_size(width: int, height: int, sizes: str | None) -> str:
    """``WxH`` to ask for: the spec's own, or of ``sizes`` (comma-separated ``WxH``) the one
    closest to the spec's aspect ratio, the larger on a tie."""
    if sizes is None:
        return f"{width}x{height}"
    listed = [_SIZE.match(entry) for entry in sizes.split(",")]
    candidates = [(int(m[1]), int(m[2])) for m in listed if m and int(m[1]) and int(m[2])]
    if not candidates:
        raise ProviderRejected(f"The model's route lists no usable size in {sizes!r}.")
    wanted = math.log(width / height)

    def distance(size: tuple[int, int]) -> tuple[float, int]:
        return round(abs(math.log(size[0] / size[1]) - wanted), 9), -size[0] * size[1]

    chosen = min(candidates, key=distance)
    return f"{chosen[0]}x{chosen[1]}"


def _quality(spec: ImageSpec) -> str | None:
    asked = spec.engine_params.get("quality")
    if asked is not None:
        return str(asked)
    return "high" if spec.quality == "hd" else None


def _form_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _decoded(encoded: str) -> bytes:
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProviderOutage("The model's provider answered an image that is not base64.") from exc


def _text_of(content: object) -> str | None:
    """A message's text: a string, or (some compatible servers) a list of text parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        ]
        return "".join(texts) if texts else None
    return None


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
