"""What every fake provider shares: a real server on a loopback port, a record of every
request it got, and faults a test queues for the next matching requests."""

from __future__ import annotations

import asyncio
import io
import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Self

import uvicorn
from fastapi import FastAPI, Request, Response
from PIL import Image
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Fault:
    """One bad answer: a status with a body and headers, after ``hang`` seconds; or, with
    ``malformed``, a 200 whose body is not JSON."""

    status: int = 500
    body: str = '{"error": {"message": "internal error"}}'
    headers: dict[str, str] = field(default_factory=dict)
    hang: float = 0.0
    malformed: bool = False


class FakeProvider:
    """Subclasses add the provider's routes to ``self.app``."""

    def __init__(self) -> None:
        self.app = FastAPI()
        self.requests: list[Recorded] = []
        self._faults: deque[tuple[re.Pattern[str], Fault]] = deque()
        self._lock = threading.Lock()
        self.app.add_middleware(BaseHTTPMiddleware, dispatch=self._record_and_fault)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # -- for tests -------------------------------------------------------------------------

    def fail(self, path_pattern: str, *faults: Fault) -> None:
        """Answer the next requests whose path matches ``path_pattern`` with ``faults``."""
        pattern = re.compile(path_pattern)
        with self._lock:
            self._faults.extend((pattern, fault) for fault in faults)

    def reset(self) -> None:
        """Forget every request and queued fault, for the next test."""
        with self._lock:
            self._faults.clear()
        self.requests.clear()

    def calls(self, path_pattern: str = "", method: str | None = None) -> list[Recorded]:
        pattern = re.compile(path_pattern)
        return [
            r
            for r in self.requests
            if pattern.search(r.path) and (method is None or r.method == method)
        ]

    async def polled(self, path_pattern: str, *, times: int) -> None:
        """Wait (up to 5 s) until requests matching ``path_pattern`` came ``times`` times."""
        for _ in range(500):
            if len(self.calls(path_pattern)) >= times:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"{path_pattern} was not polled {times} times")

    def start(self) -> Self:
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=0, log_config=None, access_log=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the fake provider did not start")
            time.sleep(0.01)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=30)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the middleware ----------------------------------------------------------------------

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for index, (pattern, fault) in enumerate(self._faults):
                if pattern.search(path):
                    del self._faults[index]
                    return fault
        return None

    async def _record_and_fault(
        self, request: Request, call_next: RequestResponseEndpoint
    ) -> Response:
        body = await request.body()
        self.requests.append(
            Recorded(
                method=request.method,
                path=request.url.path,
                query=request.url.query,
                headers={k.lower(): v for k, v in request.headers.items()},
                body=body,
            )
        )
        fault = self._take_fault(request.url.path)
        if fault is None:
            return await call_next(request)
        if fault.hang:
            await asyncio.sleep(fault.hang)
        if fault.malformed:
            return Response("<html>not json", status_code=200, media_type="application/json")
        return Response(
            fault.body,
            status_code=fault.status,
            headers=fault.headers,
            media_type="application/json",
        )


def tiny_png(
    width: int = 64, height: int = 64, colour: tuple[int, int, int] = (200, 60, 30)
) -> bytes:
    """A real PNG for fakes to return."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def json_of(recorded: Recorded) -> Any:
    return json.loads(recorded.body)
