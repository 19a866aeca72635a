"""Request bodies, as every dialect reads them: strict JSON, then valid text, then the model.

A body reaches a route already bounded by ``api/limits.py``; a route reads it only after its
credentials were checked. ``decode_json`` turns the bytes into a JSON value or refuses them
with a 400 ``invalid_json``: bytes that are not UTF-8, syntax errors, ``NaN`` and
``Infinity`` (not JSON), a number that overflows a float, an integer of more than
``MAX_INT_DIGITS`` digits, nesting deeper than ``MAX_DEPTH``. Then every string of the value,
keys included, must be text this server can store and show again: no lone surrogate
(``"\\ud800"`` is valid JSON but no Unicode character) and no NUL; the 400 names the field as
a dotted path (``messages.0.content``). Only then does a dialect validate the value against
its own model (``model_body`` for the pydantic ones).
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from typing import Any, TypeVar

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.openapi.models import Schema
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema

from creatix.api.routing import invalid_request
from creatix.kit.errors import InvalidRequest

MAX_DEPTH = 64
"""Arrays and objects nested deeper than this are refused; no request of any dialect needs
more, and everything that walks a body (validation, JSON Schema checks) stays shallow."""
MAX_INT_DIGITS = sys.get_int_max_str_digits()
"""Python's bound on the digits of an integer it parses (4300 unless configured)."""

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

DECODE_INLINE_BYTES = 64 * 1024
"""Larger bodies are decoded in a thread: tens of milliseconds for a megabyte, which the
event loop should not wait out."""

Model = TypeVar("Model", bound=BaseModel)


class InvalidText(InvalidRequest):
    """A string in a body that is not storable text; ``problem`` says why, without the
    field's name (``param`` holds that)."""

    def __init__(self, path: str, problem: str) -> None:
        where = f"'{path}'" if path else "The request body"
        super().__init__(f"{where} {problem}", param=path or None, code="invalid_value")
        self.problem = problem


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be taken as text, if it cannot: a NUL or a lone surrogate."""
    if text.isascii() and "\x00" not in text:
        return None
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "contains a NUL character (\\u0000), which is not accepted in text."
    return (
        f"contains a lone surrogate (\\u{ord(found.group()):04x}), which is not a Unicode "
        "character; send text as valid UTF-8."
    )


def well_formed(text: str) -> str:
    """``text`` with any lone surrogate replaced by U+FFFD, for showing what an older version
    of this server stored before it refused them."""
    return re.sub("[\ud800-\udfff]", "\ufffd", text)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _not_json(reason: str) -> InvalidRequest:
    return InvalidRequest(f"The request body is not valid JSON: {reason}.", code="invalid_json")


# Every check below runs at C speed on a body of any shape (a megabyte of empty objects or
# of tiny strings included): a walk in Python over each value costs far more than parsing.
# They read the body's bytes, once json.loads has found them valid JSON, so: a backslash only
# appears inside a string and starts an escape (pairs of them, taken out left to right, are
# exactly the escaped backslashes); a quote not escaped opens or closes a string; outside the
# strings everything is ASCII.
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")
_OPENING_CLOSING = bytes.maketrans(b"{}", b"[]")
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789E", b"000000000e")
_MAY_BE_UNSTORABLE = re.compile(rb"\\u(?:0000|[dD][89abcdefABCDEF])")
"""The escape of a NUL or of a surrogate (which may be half of a valid pair)."""


def _outside_strings(unescaped: bytes) -> bytes:
    """The JSON text ``unescaped`` (escaped backslashes taken out) without its strings."""
    return b"".join(unescaped.replace(b'\\"', b"").split(b'"')[::2])


def _too_deep(structure: bytes) -> bool:
    """Whether arrays and objects nest deeper than ``MAX_DEPTH``: of the text outside the
    strings only the brackets are kept, and each round takes out the innermost pairs."""
    brackets = structure.translate(_OPENING_CLOSING, _NOT_BRACKETS)
    for _ in range(MAX_DEPTH):
        if not brackets:
            return False
        brackets = brackets.replace(b"[]", b"")
    return bool(brackets)


def _may_overflow(structure: bytes) -> bool:
    """Whether a number has an exponent or 309 digits or more: it may not fit a float."""
    shape = structure.translate(_DIGITS_AS_ZERO)
    return b"0e" in shape or b"0" * 309 in shape


def _all_finite(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except ValueError:
        return False
    return True


def _all_storable(value: Any) -> bool:
    """Whether every string of ``value`` is storable text: written back as JSON, a lone
    surrogate cannot be encoded, and a NUL is the only ``\\u0000`` left once the escaped
    backslashes are taken out."""
    dumped = json.dumps(value, ensure_ascii=False)
    try:
        dumped.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\\u0000" not in dumped.replace("\\\\", "")


def _reason(exc: ValueError) -> str:
    reason = str(exc)
    if "integer string conversion" in reason:  # Python's bound on int(): MAX_INT_DIGITS
        return f"a number has more than {MAX_INT_DIGITS} digits"
    return reason


def decode_json(raw: bytes) -> Any:
    """The JSON value ``raw`` holds, every string of it storable text; a 400 otherwise."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _not_json(f"it is not UTF-8 (byte 0x{raw[exc.start]:02x} at {exc.start})") from None
    too_deep = _not_json(f"it is nested more than {MAX_DEPTH} levels deep")
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:  # json's own bound, far deeper than MAX_DEPTH
        raise too_deep from None
    except ValueError as exc:
        raise _not_json(_reason(exc)) from None
    unescaped = raw.replace(b"\\\\", b"")
    structure = _outside_strings(unescaped)
    if _too_deep(structure):
        raise too_deep
    if _may_overflow(structure) and not _all_finite(value):
        raise _not_json("a number is too large for a 64-bit float")
    if _MAY_BE_UNSTORABLE.search(unescaped) and not _all_storable(value):
        _refuse_first_unstorable(value)
    return value


def _refuse_first_unstorable(value: Any) -> None:
    """Raise ``InvalidText`` naming the first string of ``value`` that is not storable."""
    path: list[str] = []
    problem = _unstorable_in(value, path)
    assert problem is not None, "called on a value that holds an unstorable string"
    raise InvalidText(".".join(path), problem)


def _unstorable_in(value: Any, path: list[str]) -> str | None:
    """Why the first unstorable string in ``value`` is, with ``path`` extended to it; the
    nesting is at most ``MAX_DEPTH`` deep, so the recursion is too."""
    if isinstance(value, str):
        return text_problem(value)
    if not isinstance(value, dict | list):
        return None
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        if isinstance(key, str) and (problem := text_problem(key)) is not None:
            return f"has a key that {problem}"
        path.append(str(key))
        problem = _unstorable_in(item, path)
        if problem is not None:
            return problem
        path.pop()
    return None


async def read_json(request: Request) -> Any | None:
    """The request's body as a checked JSON value; None when it is empty."""
    raw = await request.body()
    if not raw.strip():
        return None
    if len(raw) > DECODE_INLINE_BYTES:
        return await asyncio.to_thread(decode_json, raw)
    return decode_json(raw)


def require_json(request: Request) -> None:
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise InvalidRequest(
            f"Content-Type must be application/json, not '{content_type or 'none'}'.",
            code="invalid_content_type",
        )


async def model_body(request: Request, model: type[Model]) -> Model:
    """The request's JSON body validated as ``model``; a 400 naming the first failing field
    exactly as FastAPI's own body validation would have (``routing.invalid_request``)."""
    require_json(request)
    value = await read_json(request)
    if value is None:
        raise invalid_request([{"type": "missing", "loc": ("body",), "msg": "Field required"}])
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        raise invalid_request(errors) from None


# -- documentation ---------------------------------------------------------------------------

_DOCUMENTED: list[type[BaseModel]] = []
_REF = "#/components/schemas/{model}"


def documented_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` publishing ``model`` as a route's JSON request body, as a parameter
    ``body: model`` would, for a route that reads its body itself (after authenticating).
    ``add_documented_bodies`` puts the model's schema into the components."""
    _DOCUMENTED.append(model)
    reference = _REF.format(model=model.__name__)
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": reference}}},
        }
    }


def add_documented_bodies(openapi: dict[str, Any]) -> None:
    """Add the schemas of the models ``documented_body`` named to an OpenAPI document."""
    if not _DOCUMENTED:
        return
    _, schemas = models_json_schema(
        [(model, "validation") for model in dict.fromkeys(_DOCUMENTED)], ref_template=_REF
    )
    components = openapi.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in schemas.get("$defs", {}).items():
        # Through FastAPI's own OpenAPI model, as the rest of the document went.
        normalized = Schema.model_validate(schema)
        components.setdefault(name, jsonable_encoder(normalized, by_alias=True, exclude_none=True))
