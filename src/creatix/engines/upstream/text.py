"""Chat completions from upstream providers, for the text generator.

A text provider (``OpenAIProvider``, ``GeminiProvider``) turns one ``ChatRequest`` into one
``ChatResult``. HTTP, retries and errors are ``http.py``'s, as for images.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Role = Literal["user", "assistant", "system"]


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
    json_schema: Mapping[str, Any] | None = None
    """When given, the answer is a JSON document valid against this schema."""
    params: Mapping[str, str | int | float | bool] = field(default_factory=dict)
    """The catalog route's fixed fields for this provider, sent as they are (they win)."""


@dataclass(frozen=True)
class ChatResult:
    text: str
    input_tokens: int | None = None
    output_tokens: int | None = None


class TextProvider(Protocol):
    name: str

    def unavailable_reason(self) -> str | None:
        """Why no call can be made (no key configured), or None."""
        ...

    async def chat(self, request: ChatRequest) -> ChatResult: ...

    async def close(self) -> None: ...
