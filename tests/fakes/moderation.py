"""A fake OpenAI-compatible moderation endpoint: ``POST /v1/moderations``.

- Every call needs ``Authorization: Bearer <api_key>`` (when the fake has one): else 401.
- ``input`` is a string, a list of strings, or a list of parts (``text``, ``image_url`` with a
  ``data:`` URL). Each input gets one result, scores 0.01 in every category, except:
  a text containing ``FLAG:<category>`` scores 0.99 in that category; the next verdicts
  queued with ``flag_next_images`` / ``flag_next_texts`` (a category, or None for clean)
  score their inputs so, one queued verdict per image, one per call for texts.
- Every body is in ``bodies``; faults (outages) as every fake provider's (``fail``).
"""

from __future__ import annotations

import re
from collections import deque
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from fakes.server import FakeProvider

KEY = "sk-test-moderation-7c1d"
CATEGORIES = ("sexual", "violence", "hate", "self-harm", "harassment", "illicit")
_FLAG = re.compile(r"FLAG:([a-z/_-]+)")


class FakeModeration(FakeProvider):
    def __init__(self, api_key: str | None = KEY) -> None:
        super().__init__()
        self.api_key = api_key
        self.bodies: list[dict[str, Any]] = []
        self.image_verdicts: deque[str | None] = deque()
        self.text_verdicts: deque[str | None] = deque()
        self.app.post("/v1/moderations")(self._moderations)

    def flag_next_images(self, *verdicts: str | None) -> None:
        self.image_verdicts.extend(verdicts)

    def flag_next_texts(self, *verdicts: str | None) -> None:
        self.text_verdicts.extend(verdicts)

    def reset(self) -> None:
        super().reset()
        self.bodies.clear()
        self.image_verdicts.clear()
        self.text_verdicts.clear()

    async def _moderations(self, request: Request) -> JSONResponse:
        if self.api_key and request.headers.get("authorization") != f"Bearer {self.api_key}":
            return JSONResponse({"error": {"message": "Incorrect API key"}}, status_code=401)
        body = await request.json()
        self.bodies.append(body)
        inputs = body["input"]
        inputs = [inputs] if isinstance(inputs, str) else inputs
        texts_verdict = (
            self.text_verdicts.popleft()
            if self.text_verdicts and any(_is_text(i) for i in inputs)
            else "none"
        )
        results = []
        for item in inputs:
            if _is_text(item):
                text = item if isinstance(item, str) else item["text"]
                found = _FLAG.search(text)
                category = found.group(1) if found else None
                if texts_verdict != "none":
                    category = texts_verdict or category
            else:
                assert item["image_url"]["url"].startswith("data:image/png;base64,")
                category = self.image_verdicts.popleft() if self.image_verdicts else None
            results.append(_result(category))
        return JSONResponse({"id": "modr-1", "model": body["model"], "results": results})


def _is_text(item: Any) -> bool:
    return isinstance(item, str) or item.get("type") == "text"


def _result(flagged: str | None) -> dict[str, Any]:
    scores = {category: 0.01 for category in CATEGORIES}
    if flagged is not None:
        scores[flagged] = 0.99
    return {
        "flagged": flagged is not None,
        "categories": {category: category == flagged for category in scores},
        "category_scores": scores,
    }
