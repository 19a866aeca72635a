"""JSON intake: ``api/bodies.decode_json`` against a bare ``json.loads``, one run.

Bodies of the largest size a JSON route takes (1 MiB, ``CREATIX_MAX_JSON_BODY_BYTES``) in
the shapes that cost a parser the most per byte (tiny integers, strings, empty objects,
floats, emoji written as surrogate-pair escapes), and a typical create request. Prints one
JSON object with the median milliseconds of each and what the strict checks add.

    .venv/bin/python benchmarks/json_intake.py
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from creatix.api.bodies import decode_json

REPEATS = 9
LIMIT = 1024 * 1024


def _filled(item: str) -> bytes:
    """A JSON array of ``item`` repeated to just under the limit."""
    count = (LIMIT - 2) // (len(item) + 1)
    return ("[" + ",".join([item] * count) + "]").encode()


BODIES = {
    "typical create request": json.dumps(
        {
            "model_name": "gemini-2.5-flash",
            "messages": [{"role": "user", "content": "Three headlines for a spring sale. " * 8}],
            "config": {"temperature": 0.7, "max_output_tokens": 256},
        }
    ).encode(),
    "1 MiB of 0": _filled("0"),
    "1 MiB of short strings": _filled('"a"'),
    "1 MiB of {}": _filled("{}"),
    "1 MiB of 0.5": _filled("0.5"),
    "1 MiB of escaped emoji": _filled('"\\ud83d\\ude00"'),
}


def _median_ms(decode: Callable[[bytes], Any], body: bytes) -> float:
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        decode(body)
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 3)


def main() -> None:
    results = {}
    for name, body in BODIES.items():
        bare = _median_ms(json.loads, body)
        strict = _median_ms(decode_json, body)
        results[name] = {
            "bytes": len(body),
            "json_loads_ms": bare,
            "decode_json_ms": strict,
            "added_ms": round(strict - bare, 3),
        }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
