"""Chat completions from upstream providers, for the text generator.

A text provider (``OpenAIProvider``, ``GeminiProvider``) turns one ``ChatRequest`` into one
``ChatResult``. HTTP, retries and errors are ``http.py``'s, as for images.

``ChatRequest`` is provider-neutral: it holds what was asked, uncapped and unrenamed; each
provider module maps it onto its own protocol (and says there what it approximates or drops).
``chat_request`` builds one from the canonical ``TextSpec``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from creatix.jobs.specs import TextSpec

Role = Literal["user", "assistant", "system"]
ParamValue = str | int | float | bool


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True)
class ChatRequest:
    model: str
    """The provider's own model name."""
    messages: Sequence[ChatMessage]
    system: str | None = None
    """Instructions that come before the conversation."""
    temperature: float | None = None
    max_tokens: int | None = None
    """The most tokens the answer may have."""
    top_p: float | None = None
    top_k: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    seed: int | None = None
    stop: Sequence[str] = ()
    """Stop sequences, all of them: a provider that takes fewer sends the first ones."""
    json_mode: bool = False
    """The answer is a JSON document (``application/json``), with or without a schema."""
    json_schema: Mapping[str, Any] | None = None
    """When given, the answer is a JSON document valid against this schema (JSON is implied,
    whatever ``json_mode`` says)."""
    params: Mapping[str, ParamValue] = field(default_factory=dict)
    """The catalog route's fixed fields for this provider, sent as they are (they win)."""

    @property
    def wants_json(self) -> bool:
        return self.json_mode or self.json_schema is not None


@dataclass(frozen=True)
class ChatResult:
    text: str
    input_tokens: int | None = None
    output_tokens: int | None = None


@runtime_checkable
class TextProvider(Protocol):
    name: str

    def unavailable_reason(self) -> str | None:
        """Why no call can be made (no key configured), or None."""
        ...

    async def chat(self, request: ChatRequest) -> ChatResult: ...

    async def close(self) -> None: ...


_ROLES: dict[str, Role] = {"user": "user", "model": "assistant"}


def chat_request(
    model: str, spec: TextSpec, params: Mapping[str, ParamValue] | None = None
) -> ChatRequest:
    """``spec`` as a provider-neutral request for ``model`` (the route's ``engine_model``);
    ``params`` are the route's fixed provider fields, carried as they are.

    Every config field maps 1:1. The schema is only taken with ``application/json``: with
    ``text/plain`` (the default) the answer is free text and a schema means nothing.
    """
    config = spec.config
    json_mode = config.response_mime_type == "application/json"
    return ChatRequest(
        model=model,
        messages=[ChatMessage(_ROLES[turn.role], turn.content) for turn in spec.messages],
        system=spec.system_instruction or None,
        temperature=config.temperature,
        max_tokens=config.max_output_tokens,
        top_p=config.top_p,
        top_k=config.top_k,
        presence_penalty=config.presence_penalty,
        frequency_penalty=config.frequency_penalty,
        seed=config.seed,
        stop=list(config.stop_sequences),
        json_mode=json_mode,
        json_schema=config.response_json_schema if json_mode else None,
        params=dict(params or {}),
    )
