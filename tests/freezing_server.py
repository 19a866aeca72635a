"""``creatix`` with one more engine type, ``freezing``, for ``tests/test_freeze.py``.

Run as a script (``python tests/freezing_server.py serve ...``). The engine's every answer
freezes its process as issue 13's request did: a regular expression that backtracks for
2^64 steps in a thread, holding the GIL all the while, so that the event loop, the lease's
heartbeat and ``/healthz`` all stop. Nothing but a signal ends it.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from creatix.cli import main
from creatix.engines import registry
from creatix.engines.base import EngineParams
from creatix.jobs.specs import TextResult, TextSpec


def freeze() -> None:
    re.search(r"^(a|a)*$", "a" * 64 + "!")


class FreezingEngine:
    name = "freezing"

    def unavailable_reason(self, model: str) -> str | None:
        return None

    async def generate_text(
        self, model: str, spec: TextSpec, params: EngineParams | None = None
    ) -> TextResult:
        await asyncio.to_thread(freeze)
        raise AssertionError("the freeze never ends")

    async def close(self) -> None:
        return None


def _freezing(options: Any, context: Any) -> FreezingEngine:
    return FreezingEngine()


if __name__ == "__main__":
    registry.FACTORIES["freezing"] = _freezing
    main()
