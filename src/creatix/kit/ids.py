"""Public identifiers.

Jobs and assets are UUIDv7s (RFC 9562): the references type these ids as UUIDs, and a
time-ordered UUID keeps new rows at the end of an index. Everything else is a type prefix and
24 random base-62 characters."""

import re
import secrets
import string

import uuid_utils

_ALPHABET = string.ascii_letters + string.digits
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def new_id(prefix: str, length: int = 24) -> str:
    return f"{prefix}_{''.join(secrets.choice(_ALPHABET) for _ in range(length))}"


def new_uuid() -> str:
    """A fresh UUIDv7 in its canonical text form (lower case, hyphenated)."""
    return str(uuid_utils.uuid7())


def canonical_uuid(text: str) -> str | None:
    """``text`` as a canonical UUID if it is one written 8-4-4-4-12 (either case), else
    ``None``: the one form the references show, and the one stored."""
    lowered = text.lower()
    return lowered if _CANONICAL_UUID.fullmatch(lowered) else None
