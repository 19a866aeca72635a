"""Recognising this server's ad copy without altering it: the SHA-256 of the answer's
normalized form (NFKC, line endings and runs of spaces collapsed, trimmed), recorded when a
text job succeeds and looked up by verification. A copy edited beyond whitespace and
Unicode compatibility forms is a different text."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_SPACES = re.compile(r"[ \t\u00a0]+")
_LINE_BREAKS = re.compile(r"\s*\n\s*")


def normalized(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).replace("\r\n", "\n").replace("\r", "\n")
    return _LINE_BREAKS.sub("\n", _SPACES.sub(" ", folded)).strip()


def text_digest(text: str) -> str:
    """The hex SHA-256 of ``text``'s normalized form."""
    return hashlib.sha256(normalized(text).encode("utf-8", "surrogatepass")).hexdigest()
