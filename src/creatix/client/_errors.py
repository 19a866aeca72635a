"""The SDK's exceptions, and reading them out of every dialect's error envelope."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any


class CreatixError(Exception):
    """An API call that did not succeed: the HTTP status (None when no answer came), the
    error's code, its message, the request field at fault (``param``) and the request id."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        param: str | None = None,
        request_id: str | None = None,
        fields: dict[str, str] | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.param = param
        self.request_id = request_id
        self.fields = fields or {}
        self.body = body

    def __str__(self) -> str:
        where = f" ({self.param})" if self.param else ""
        head = f"{self.status} {self.code}" if self.status else (self.code or "error")
        return f"{head}{where}: {self.message}"


class BadRequest(CreatixError):
    """400 or 422: the request was refused; ``param`` names the field when one is at fault."""


class AuthenticationError(CreatixError):
    """401: no key, or a key the server does not know."""


class InsufficientCredits(CreatixError):
    """402: the account's balance does not cover the generation."""


class PermissionDenied(CreatixError):
    """403: the key may not do this (scope, model, budget, suspended account)."""


class NotFound(CreatixError):
    """404: no such generation, task or video for this key."""


class RateLimited(CreatixError):
    """429 after the retries: ``retry_after`` seconds, when the server said."""

    retry_after: float | None = None


class ServerError(CreatixError):
    """5xx after the retries (502/503/504 are retried first)."""


class ConnectionFailed(CreatixError):
    """The server could not be reached (or the connection broke) after the retries."""


class MissingApiId(CreatixError):
    """The asset and text generators need the key's id (``api_id``) and none was given."""


def error_class(status: int) -> type[CreatixError]:
    if status in (400, 422):
        return BadRequest
    classes: dict[int, type[CreatixError]] = {
        401: AuthenticationError,
        402: InsufficientCredits,
        403: PermissionDenied,
        404: NotFound,
        429: RateLimited,
    }
    if status in classes:
        return classes[status]
    return ServerError if status >= 500 else CreatixError


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_error(status: int, content: bytes, headers: dict[str, str]) -> CreatixError:
    """The exception for an error answer, from any of the five dialects' envelopes:

    - Creatix v1 (OpenAI's): ``{"error": {"message", "type", "param", "code"}}``
    - the platform API: ``{"error": {"code", "message", "param"}}``
    - Artnex: ``{"success": false, "error": {"code", "message"}}``
    - the asset and text generators: ``{"error": code, "detail", "field", "fields"}``
    - anything else (a proxy, FastAPI's own): ``{"detail": ...}`` or plain text.
    """
    try:
        body: Any = json.loads(content) if content else None
    except ValueError:
        body = None
    code = message = param = request_id = None
    fields: dict[str, str] = {}
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            code = _text(error.get("code")) or _text(error.get("type"))
            message = _text(error.get("message"))
            param = _text(error.get("param"))
            request_id = _text(error.get("request_id"))
        elif isinstance(error, str):
            code = error
            message = _text(body.get("detail"))
            param = _text(body.get("field"))
            request_id = _text(body.get("request_id"))
            raw_fields = body.get("fields")
            if isinstance(raw_fields, dict):
                fields = {str(k): str(v) for k, v in raw_fields.items()}
        elif "detail" in body:
            detail = body["detail"]
            message = detail if isinstance(detail, str) else json.dumps(detail)
    if message is None:
        text = content.decode("utf-8", "replace").strip()
        message = text[:500] if text and body is None else f"HTTP {status}"
    lowered = {k.lower(): v for k, v in headers.items()}
    error_type = error_class(status)
    exc = error_type(
        message,
        status=status,
        code=code or f"http_{status}",
        param=param,
        request_id=request_id or lowered.get("x-request-id"),
        fields=fields,
        body=body,
    )
    if isinstance(exc, RateLimited):
        exc.retry_after = retry_after(lowered.get("retry-after"))
    return exc


def retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())
