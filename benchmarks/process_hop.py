"""The cost of running the preview text engine's answers (and structured validation) in a
worker process with a hard budget, against running them in this process.

Prints one JSON object: for a plain-text answer, a JSON answer to a small schema and the
validation of that answer, the p50/p99 time in process and through ``ProcessRunner``
(``kit/processes.py``), the hop (the difference of the p50s), and the first call's cost
(the pool starting: the fork server, then a worker).

    .venv/bin/python benchmarks/process_hop.py [--calls 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from creatix.engines.preview_text.engine import answer
from creatix.jobs.specs import ChatTurn, TextConfig, TextSpec
from creatix.jobs.structured import conformed
from creatix.kit.processes import ProcessRunner

MODEL = "creatix-copy"
SCHEMA = {
    "type": "object",
    "properties": {
        "headline": {"type": "string", "maxLength": 60},
        "sku": {"type": "string", "pattern": "^[A-Z]{3}-\\d{4}$"},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
    },
    "required": ["headline", "sku", "tags"],
}
PROMPT = "Write ad copy for our new cold brew coffee, aimed at busy parents."


def _spec(json_mode: bool) -> TextSpec:
    config = TextConfig(response_mime_type="application/json", response_json_schema=SCHEMA)
    return TextSpec(
        messages=[ChatTurn(role="user", content=PROMPT)],
        config=config if json_mode else TextConfig(),
    )


def _in_process(work: Callable[..., Any], args: tuple[Any, ...], calls: int) -> list[float]:
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        work(*args)
        times.append(time.perf_counter() - started)
    return times


async def _hopped(
    runner: ProcessRunner, work: Callable[..., Any], args: tuple[Any, ...], calls: int
) -> list[float]:
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        await runner.run(work, *args)
        times.append(time.perf_counter() - started)
    return times


def _ms(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    cut = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50": round(cut[49] * 1000, 3), "p99": round(cut[98] * 1000, 3)}


async def main(calls: int) -> dict[str, Any]:
    json_spec = _spec(json_mode=True)
    document = answer(MODEL, json_spec).text
    cases: dict[str, tuple[Callable[..., Any], tuple[Any, ...]]] = {
        "plain answer": (answer, (MODEL, _spec(json_mode=False))),
        "json answer": (answer, (MODEL, json_spec)),
        "structured validation": (conformed, (document, json_spec.config)),
    }
    runner = ProcessRunner(workers=1, budget_seconds=10, preload=["creatix.jobs.structured"])
    started = time.perf_counter()
    await runner.run(answer, MODEL, json_spec)
    first_call = time.perf_counter() - started
    report: dict[str, Any] = {"calls": calls, "first_call_ms": round(first_call * 1000, 1)}
    try:
        for name, (work, args) in cases.items():
            local = _in_process(work, args, calls)
            hopped = await _hopped(runner, work, args, calls)
            local_ms, hopped_ms = _ms(local), _ms(hopped)
            report[name] = {
                "in_process_ms": local_ms,
                "in_worker_process_ms": hopped_ms,
                "hop_p50_ms": round(hopped_ms["p50"] - local_ms["p50"], 3),
            }
    finally:
        await runner.close()
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=300)
    print(json.dumps(asyncio.run(main(parser.parse_args().calls)), indent=2))
