"""The exception tree every room raises; dialects render it in their own envelope.

CreatixError                 status, code, message, param (the offending field), headers
├── InvalidRequest      400  a parameter is missing, malformed or out of range
│   └── ContentPolicyViolation  the content policy refuses the text; carries the category
├── Unauthorized        401  missing, malformed, unknown or revoked credentials
├── InsufficientCredits 402  the balance cannot cover the price
├── Forbidden           403  the credentials are valid but not for this
├── NotFound            404  no such resource for this account
├── GenerationRejected  422  the engine refused the request itself (a provider's validation)
├── Conflict            409  the request contradicts an earlier one
├── ContentTooLarge     413  the request body is larger than its route takes
├── TooManyRequests     429  a rate limit or a quota is exhausted; carries Retry-After
├── GenerationFailed    500  the engine could not produce the output
└── Unavailable         503  a part the request needs is not running
"""

from __future__ import annotations

from typing import ClassVar


class CreatixError(Exception):
    status: ClassVar[int] = 500
    default_code: ClassVar[str] = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.param = param
        self.headers = headers or {}


class InvalidRequest(CreatixError):
    status = 400
    default_code = "invalid_request"


class ContentPolicyViolation(InvalidRequest):
    default_code = "content_policy_violation"

    def __init__(self, message: str, *, category: str, param: str | None = None) -> None:
        super().__init__(message, param=param)
        self.category = category


class Unauthorized(CreatixError):
    status = 401
    default_code = "invalid_api_key"


class InsufficientCredits(CreatixError):
    status = 402
    default_code = "insufficient_credits"


class Forbidden(CreatixError):
    status = 403
    default_code = "forbidden"


class NotFound(CreatixError):
    status = 404
    default_code = "not_found"


class MethodNotAllowed(CreatixError):
    status = 405
    default_code = "method_not_allowed"


class Conflict(CreatixError):
    status = 409
    default_code = "conflict"


class ContentTooLarge(CreatixError):
    status = 413
    default_code = "request_too_large"


class TooManyRequests(CreatixError):
    status = 429
    default_code = "rate_limit_exceeded"

    def __init__(
        self,
        message: str,
        *,
        retry_after: int,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        merged = {"Retry-After": str(max(1, retry_after)), **(headers or {})}
        super().__init__(message, code=code, headers=merged)
        self.retry_after = max(1, retry_after)


class GenerationRejected(CreatixError):
    status = 422
    default_code = "generation_rejected"


class GenerationFailed(CreatixError):
    status = 500
    default_code = "generation_failed"


class Unavailable(CreatixError):
    status = 503
    default_code = "unavailable"
