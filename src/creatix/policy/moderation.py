"""A moderation engine: any OpenAI-compatible ``POST /moderations`` endpoint.

Calls go through the upstream engines' HTTP layer (``engines/upstream/http.py``): timeouts,
retries with jittered backoff, the key only in a header to the endpoint's own host and
redacted from every message. Texts go as one call (``input``: a list of strings, one result
each); an image as a ``data:`` URL in an ``image_url`` part, as ``omni-moderation-latest``
takes it. Any failure is a ``ModerationUnavailable``: the policy decides what it means.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from creatix.engines.base import EngineError
from creatix.engines.upstream.http import ProviderHttp, RetryPolicy, data_uri

DEFAULT_TIMEOUT_SECONDS = 10.0


class ModerationUnavailable(Exception):
    """The moderation engine could not give a verdict (down, refused, malformed)."""


@dataclass(frozen=True)
class Flag:
    """The category the endpoint scored at or above its threshold, and that score."""

    category: str
    score: float


def over_threshold(scores: dict[str, float], thresholds: dict[str, float]) -> Flag | None:
    """The highest-scoring category at or above its threshold (``*``: every other one)."""
    worst: Flag | None = None
    default = thresholds.get("*")
    for category, score in scores.items():
        threshold = thresholds.get(category, default)
        if threshold is None or score < threshold:
            continue
        if worst is None or score > worst.score:
            worst = Flag(category, score)
    return worst


class ModerationEngine:
    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = ProviderHttp(
            "moderation",
            base_url,
            headers=headers,
            secrets=[api_key] if api_key else [],
            timeout=timeout,
            retry=retry or RetryPolicy(attempts=2, base_delay=0.2, max_delay=1.0),
            transport=transport,
        )

    async def close(self) -> None:
        await self._http.close()

    async def text_scores(self, model: str, texts: Sequence[str]) -> list[dict[str, float]]:
        """Each text's category scores, in order."""
        return await self._scores(model, list(texts), len(texts))

    async def image_scores(self, model: str, png: bytes) -> dict[str, float]:
        part = {"type": "image_url", "image_url": {"url": data_uri(png)}}
        return (await self._scores(model, [part], 1))[0]

    async def _scores(self, model: str, inputs: list[Any], expected: int) -> list[dict[str, float]]:
        try:
            body = await self._http.json(
                "POST", "moderations", json_body={"model": model, "input": inputs}
            )
        except EngineError as exc:
            raise ModerationUnavailable(self._http.redact(str(exc))) from None
        results = body.get("results")
        if not isinstance(results, list) or len(results) != expected:
            raise ModerationUnavailable("The moderation engine answered a malformed body.")
        return [_scores_of(result) for result in results]


def _scores_of(result: Any) -> dict[str, float]:
    scores = result.get("category_scores") if isinstance(result, dict) else None
    if not isinstance(scores, dict):
        raise ModerationUnavailable("The moderation engine answered a malformed body.")
    return {
        str(category): float(score)
        for category, score in scores.items()
        if isinstance(score, int | float) and not isinstance(score, bool)
    }
