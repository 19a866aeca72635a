"""Canceling a provider's job when its Creatix job is canceled (queue-style providers)."""

from __future__ import annotations

import asyncio
import logging

from creatix.engines.upstream.http import ProviderHttp

log = logging.getLogger(__name__)

CANCEL_SECONDS = 10.0


class UpstreamCancels:
    """Sends cancel requests shielded from the caller's own cancellation (the caller is
    usually being cancelled), once, without retries, errors only logged; ``wait`` lets those
    in flight finish (on close)."""

    def __init__(self, http: ProviderHttp, provider: str, timeout_seconds: float) -> None:
        self._http = http
        self._provider = provider
        self._timeout = min(CANCEL_SECONDS, timeout_seconds)
        self._in_flight: set[asyncio.Task[None]] = set()

    async def cancel(self, method: str, url: str, request_id: str) -> None:
        task = asyncio.ensure_future(self._send(method, url, request_id))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)
        await asyncio.shield(task)

    async def wait(self) -> None:
        await asyncio.gather(*self._in_flight, return_exceptions=True)

    async def _send(self, method: str, url: str, request_id: str) -> None:
        where = {"provider": self._provider, "request_id": request_id}
        try:
            async with asyncio.timeout(self._timeout):
                await self._http.send(method, url, retry=False)
        except Exception as exc:
            why = self._http.redact(str(exc) or type(exc).__name__)
            log.warning("provider request could not be canceled", extra={**where, "why": why})
        else:
            log.info("provider request canceled", extra=where)
