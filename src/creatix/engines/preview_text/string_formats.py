"""Example strings for a JSON Schema ``format`` (email, uri, hostname, date, date-time, uuid,
ipv4, ...): ``format_examples`` gives one made from the copy's slug, then shorter ones for tight
``maxLength`` bounds."""

from __future__ import annotations

import uuid
from random import Random


def format_examples(fmt: str, *, slug: str, rng: Random, index: int) -> list[str] | None:
    """Strings of the format ``fmt``, the first made from ``slug`` (``index``: an array's
    item), or None for a format not known here."""
    year, month, day = 2026, rng.randint(1, 12), rng.randint(1, 28)
    hour, minute = rng.randint(8, 19), rng.choice((0, 15, 30, 45))
    date = f"{year:04d}-{month:02d}-{day:02d}"
    time = f"{hour:02d}:{minute:02d}:00Z"
    host = f"{slug[:40].strip('-') or 'www'}.example.com"
    formats = {
        "email": f"hello@{host}",
        "idn-email": f"hello@{host}",
        "uri": f"https://www.example.com/{slug}",
        "iri": f"https://www.example.com/{slug}",
        "url": f"https://www.example.com/{slug}",
        "uri-reference": f"/{slug}",
        "iri-reference": f"/{slug}",
        "uri-template": f"https://www.example.com/{slug}/{{id}}",
        "hostname": host,
        "idn-hostname": host,
        "date": date,
        "date-time": f"{date}T{time}",
        "time": time,
        "duration": "P14D",
        "uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "ipv4": f"192.0.2.{index % 250 + 1}",
        "ipv6": f"2001:db8::{index + 1:x}",
        "regex": "^[A-Za-z ]+$",
        "json-pointer": "/copy/0",
        "relative-json-pointer": "0",
    }
    value = formats.get(fmt)
    if value is None:
        return None
    shorter = {  # for tight maxLength bounds
        "email": ["hello@example.com", "hi@ex.co"],
        "idn-email": ["hello@example.com", "hi@ex.co"],
        "uri": ["https://example.com/", "https://ex.co"],
        "iri": ["https://example.com/", "https://ex.co"],
        "url": ["https://example.com/", "https://ex.co"],
        "uri-reference": ["/", "#"],
        "iri-reference": ["/", "#"],
        "hostname": ["example.com", "ex.co"],
        "idn-hostname": ["example.com", "ex.co"],
        "ipv4": ["1.1.1.1"],
        "ipv6": ["::1"],
    }
    return [value, *shorter.get(fmt, [])]
