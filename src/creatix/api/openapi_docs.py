"""The published OpenAPI document, made to say what the server really does.

FastAPI infers a route's parameters and its success answer. The rest is said here:

- ``error_responses``: the statuses a route answers, each with its dialect's own error
  envelope as the schema (a route's ``responses=``);
- ``create_docs``: a create route's ``openapi_extra``: its request body's example (copied from
  the dialect's reference) and the ``Idempotency-Key`` header it honours;
- ``complete``: run once over the generated document: FastAPI's 422 ``HTTPValidationError``
  taken out (every dialect answers a bad request 400, in its own shape); X-API-ID and
  X-API-KEY made one security requirement, as the routes want both (the schemes come from
  ``deps``' security dependencies, so each operation names the ones its key dependency
  reads); a curl example request on every operation that has none.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from pydantic import BaseModel

from creatix.api.deps import API_ID_SCHEME, API_KEY_SCHEME, BEARER_SCHEME

EXAMPLE_BASE_URL = "http://127.0.0.1:8000"
"""Where the examples send their requests: a server started with ``creatix serve``."""

ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Bad request: a parameter (named in the error) is missing, malformed or out of range.",
    401: "Missing, malformed, unknown or revoked credentials.",
    402: "The account's credits cannot cover the price, or the key's own daily or monthly "
    "credit budget is spent.",
    403: "Not allowed: the key lacks the scope the route needs, the account is suspended, "
    "a key limited to some models used another, the session's X-CSRF-Token is missing or "
    "wrong, or the person's role does not allow it "
    "(for /files: the link's signature is invalid or it has expired).",
    404: "No such resource for this account.",
    409: "The Idempotency-Key was used before with a different request, or the change "
    "conflicts with what exists (a name taken, a balance too small).",
    413: "The request body is larger than this route takes.",
    416: "The byte range selects nothing of the file.",
    422: "The model refused the request itself (its provider's own validation).",
    429: "The key's rate limit or the account's quota is exhausted; see Retry-After.",
    500: "The model could not produce the output (the credits are refunded).",
    503: "A part the request needs is unavailable (the model's engine, the database); "
    "try again shortly.",
}

RETRY_AFTER = {
    "description": "Seconds to wait before trying again.",
    "schema": {"type": "integer"},
}

READ = (400, 401, 403, 429, 503)
"""Every keyed route: its URL or query refused, no valid key, a key without the ``generate``
scope or of a suspended account, the rate limit, the database."""
LOOKUP = (*READ, 404)
"""A keyed route reading one resource by its id."""
CREATE = (400, 401, 402, 403, 409, 413, 429, 503)
"""A keyed route that starts a job: also credits (or the key's budget), a model the key may not
use, an Idempotency-Key reused, a body too large."""
SYNC_CREATE = (*CREATE, 422, 500)
"""A create route that waits for its job: also the model's refusal and failure."""
MANAGE = (400, 401, 403, 429, 503)
"""A route of the account or admin API (a session or a key with the ``manage`` or
``operator`` scope): its URL or body refused, not signed in and no valid key, not allowed
(the scope, the role, the CSRF token), a key's rate limit, the database."""

IDEMPOTENCY_KEY: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "1 to 255 characters. The same key with the same request within 24 hours answers the "
        "job it created, creating and charging nothing; with a different request it is a 409."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "example": "3f1c2a7e-order-1042",
}

_TOGETHER = [
    (API_ID_SCHEME.scheme_name, API_KEY_SCHEME.scheme_name),
]
"""Schemes a request must satisfy at once (FastAPI lists each as an alternative)."""
SESSION_SCHEME = "sessionCookie"
"""The session cookie's security scheme (``api/session.py``, which imports this module)."""
_EXAMPLE_HEADERS: dict[str, list[str]] = {
    BEARER_SCHEME.scheme_name: ["Authorization: Bearer sk_live_..."],
    API_ID_SCHEME.scheme_name: ["X-API-ID: your-api-id"],
    API_KEY_SCHEME.scheme_name: ["X-API-KEY: your-api-key"],
    SESSION_SCHEME: ["Cookie: creatix_session=your-session-token"],
}
_STATE_CHANGE_HEADERS: dict[str, list[str]] = {
    SESSION_SCHEME: ["X-CSRF-Token: your-csrf-token"],
}
"""Headers a scheme also needs on a POST, PUT, PATCH or DELETE."""
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def error_responses(
    envelope: type[BaseModel], statuses: Iterable[int]
) -> dict[int | str, dict[str, Any]]:
    """A route's ``responses=``: each status described, its body ``envelope``, the dialect's
    error shape."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        response: dict[str, Any] = {"model": envelope, "description": ERROR_DESCRIPTIONS[status]}
        if status in (429, 503):
            response["headers"] = {"Retry-After": RETRY_AFTER}
        responses[status] = response
    return responses


def create_docs(extra: dict[str, Any], example: Any, *, idempotent: bool = True) -> dict[str, Any]:
    """A create route's ``openapi_extra``: ``extra`` (its JSON request body) with ``example``
    as the body's example and, where the route honours it, the ``Idempotency-Key`` header."""
    documented: dict[str, Any] = json.loads(json.dumps(extra))  # a copy: ``extra`` is shared
    documented["requestBody"]["content"]["application/json"]["example"] = example
    if idempotent:
        documented.setdefault("parameters", []).append(IDEMPOTENCY_KEY)
    return documented


def complete(document: dict[str, Any]) -> dict[str, Any]:
    """Finish the generated ``document`` in place (see the module's docstring)."""
    _drop_validation_errors(document)
    for path, method, operation in _operations(document):
        _require_together(operation)
        operation.setdefault("x-codeSamples", [_curl_sample(path, method, operation)])
    return document


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                yield path, method, operation


def _drop_validation_errors(document: dict[str, Any]) -> None:
    for _, _, operation in _operations(document):
        response = operation["responses"].get("422")
        if response is not None and "HTTPValidationError" in json.dumps(response):
            del operation["responses"]["422"]
    schemas = document.get("components", {}).get("schemas", {})
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        if f"#/components/schemas/{name}" not in json.dumps(document):
            schemas.pop(name, None)


def _require_together(operation: dict[str, Any]) -> None:
    """One requirement of schemes that FastAPI listed as alternatives but the route needs at
    once (X-API-ID with X-API-KEY)."""
    requirements = operation.get("security")
    if not requirements:
        return
    for together in _TOGETHER:
        alone = [r for r in requirements if len(r) == 1 and next(iter(r)) in together]
        if {next(iter(r)) for r in alone} == set(together):
            merged = {name: scopes for r in alone for name, scopes in r.items()}
            operation["security"] = [r for r in requirements if r not in alone] + [merged]


def _shell_quoted(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _curl_sample(path: str, method: str, operation: dict[str, Any]) -> dict[str, str]:
    """A curl command line in the references' style for ``operation``: one per security
    requirement where it takes several (a key, or a session)."""
    requirements = operation.get("security") or [{}]
    commands = [_curl_command(path, method, operation, r) for r in requirements]
    return {"lang": "Shell", "label": "curl", "source": "\n\n".join(commands)}


def _curl_command(
    path: str, method: str, operation: dict[str, Any], requirement: dict[str, Any]
) -> str:
    url_path = re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: m.group(1).upper(), path)
    lines = [f"curl -X {method.upper()} {EXAMPLE_BASE_URL}{url_path}"]
    changes = method.lower() not in ("get", "head", "options")
    headers = [header for scheme in requirement for header in _EXAMPLE_HEADERS[scheme]]
    if changes:
        headers += [h for scheme in requirement for h in _STATE_CHANGE_HEADERS.get(scheme, [])]
    body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    if "example" in body:
        headers.append("Content-Type: application/json")
    lines += [f'-H "{header}"' for header in headers]
    if "example" in body:
        lines.append(f"-d {_shell_quoted(json.dumps(body['example'], indent=2))}")
    return " \\\n  ".join(lines)
