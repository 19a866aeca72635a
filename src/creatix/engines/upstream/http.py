"""One provider's HTTP client: timeouts, retries with jittered backoff, errors mapped.

Every provider call goes through ``ProviderHttp.send``:

- connection errors, timeouts, 5xx and 429 are retried, up to ``RetryPolicy.attempts`` tries,
  after a full-jitter exponential backoff, or after the provider's ``Retry-After`` when it
  gives one (429 and 503); when the tries are spent they are a ``ProviderOutage``. One
  exception: a POST that timed out or lost its connection after it was sent is not sent again
  (the provider may have started a job, and would bill a second one); it is an outage at once;
- 401 and 403 mean Creatix's credentials are wrong for this provider: a ``ProviderOutage`` at
  once (another route may work, retrying this one cannot);
- any other 4xx is the provider refusing the request: a ``ProviderRejected``, never retried.

Credentials travel only in the client's default headers: they are never logged, and every
message built from a provider's answer has them removed.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

import httpx

from creatix.engines.upstream.errors import ProviderFailed, ProviderOutage, ProviderRejected
from creatix.kit.clock import utcnow

log = logging.getLogger(__name__)

DETAIL_CHARS = 200
RETRIED_STATUSES = frozenset({408, 409, 425, 429})
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Failures before the request left: safe to retry whatever the method."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    """Tries per call, the first included."""
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0
    """A longer ``Retry-After`` is not waited for: the provider counts as out."""

    def backoff(self, retry: int) -> float:
        """Full jitter: uniform in [0, min(max_delay, base_delay × 2^retry)]."""
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**retry))


@dataclass(frozen=True)
class _Retry:
    delay: float
    why: str


@dataclass(frozen=True)
class ProviderAccess:
    """Where a provider is and the credential it wants, from settings."""

    base_url: str
    api_key: str | None = None


class ProviderHttp:
    def __init__(
        self,
        provider: str,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        secrets: Sequence[str] = (),
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.provider = provider
        self.retry = retry or RetryPolicy()
        self._secrets = [secret for secret in secrets if secret]
        self._host = urlsplit(base_url).netloc
        self._credentials = tuple(headers or {})
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/",
            headers=dict(headers or {}),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
            follow_redirects=True,
            event_hooks={"request": [self._only_to_provider]},
        )
        # Files come from the provider's CDN, which must not see the provider's key.
        self._files = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
            follow_redirects=True,
        )

    async def close(self) -> None:
        await self._client.aclose()
        await self._files.aclose()

    async def _only_to_provider(self, request: httpx.Request) -> None:
        """Run on every request, redirects included: a redirect to another host loses the
        credential headers (httpx itself drops only ``Authorization``)."""
        if request.url.netloc != self._client.base_url.netloc:
            for name in self._credentials:
                request.headers.pop(name, None)

    async def send(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        files: Any = None,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        retry: bool = True,
    ) -> httpx.Response:
        """The provider's successful (2xx) answer; errors as described in the module."""
        attempts = self.retry.attempts if retry else 1
        why = ""
        for attempt in range(1, attempts + 1):
            outcome = await self._try(
                method,
                url,
                {"json": json_body, "files": files, "data": data, "headers": headers},
                retry=attempt - 1,
            )
            if isinstance(outcome, httpx.Response):
                return outcome
            why = outcome.why
            if attempt == attempts:
                break
            log.info(
                "provider call retried",
                extra={"provider": self.provider, "attempt": attempt, "why": why},
            )
            await asyncio.sleep(outcome.delay)
        raise ProviderOutage(f"The model's provider is unavailable: {why}.")

    async def _try(
        self, method: str, url: str, arguments: dict[str, Any], *, retry: int
    ) -> httpx.Response | _Retry:
        """One attempt; ``retry`` counts the attempts before it, for the backoff."""
        started = time.perf_counter()
        try:
            response = await self._client.request(method, url, **arguments)
        except NOT_SENT as exc:
            reason = f"it could not be reached ({type(exc).__name__})"
            return _Retry(self.retry.backoff(retry), reason)
        except httpx.TransportError as exc:
            reason = (
                "it did not answer in time"
                if isinstance(exc, httpx.TimeoutException)
                else f"the connection failed ({type(exc).__name__})"
            )
            if method.upper() not in IDEMPOTENT:
                # The provider may have taken the request: sending it again could start (and
                # bill) a second job upstream that nobody polls. Another route may serve it.
                raise ProviderOutage(f"The model's provider is unavailable: {reason}.") from exc
            return _Retry(self.retry.backoff(retry), reason)
        status = response.status_code
        # Submits at info, polls (GETs, many per job) at debug; never the query or a header.
        log.log(
            logging.DEBUG if method.upper() == "GET" else logging.INFO,
            "provider call",
            extra={
                "provider": self.provider,
                "method": method.upper(),
                "path": response.request.url.path,
                "status": status,
                "ms": round((time.perf_counter() - started) * 1000, 2),
            },
        )
        if status < 400:
            return response
        if status in (401, 403):
            raise ProviderOutage(
                f"The model's provider refused Creatix's credentials (HTTP {status})."
            )
        if status >= 500 or status in RETRIED_STATUSES:
            after = self._retry_after(response)
            if after is not None and after > self.retry.max_retry_after:
                raise ProviderOutage(
                    f"The model's provider is overloaded (HTTP {status}, "
                    f"retry after {after:.0f} s)."
                )
            delay = after if after is not None else self.retry.backoff(retry)
            return _Retry(delay, f"HTTP {status}")
        raise ProviderRejected(
            f"The model's provider rejected the request: {self.detail(response)}"
        )

    async def json(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        """``send``, with the answer parsed as a JSON object (else a ``ProviderOutage``)."""
        response = await self.send(method, url, **kwargs)
        return self.parse(response)

    def parse(self, response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            log.warning(
                "provider answered a malformed body",
                extra={"provider": self.provider, "status": response.status_code},
            )
            raise ProviderOutage("The model's provider answered a malformed body.")
        return body

    async def download(self, url: str) -> bytes:
        """A result file: fetched (only the provider's own host gets the provider's
        credentials), or decoded when the provider inlined it as a ``data:`` URI."""
        if url.startswith("data:"):
            return decode_data_uri(url)
        client = self._client if urlsplit(url).netloc == self._host else self._files
        for attempt in range(1, self.retry.attempts + 1):
            try:
                response = await client.get(url)
            except httpx.TransportError as exc:
                failure = f"it could not be reached ({type(exc).__name__})"
            else:
                if response.status_code < 400:
                    return response.content
                if response.status_code < 500 and response.status_code != 429:
                    raise ProviderFailed(
                        "The model's provider made the image but its file could not be "
                        f"fetched (HTTP {response.status_code})."
                    )
                failure = f"HTTP {response.status_code}"
            if attempt < self.retry.attempts:
                await asyncio.sleep(self.retry.backoff(attempt))
        raise ProviderOutage(f"The provider's result file could not be fetched: {failure}.")

    async def download_to(self, url: str, path: Path) -> int:
        """A result file (a video, say) written to ``path`` as it arrives, never held whole;
        its size in bytes. ``download``'s rules: only the provider's own host gets the
        credentials, a ``data:`` URI is decoded, connection errors (mid-file too), 5xx and 429
        are retried from the start, any other 4xx is a ``ProviderFailed``. On any failure
        nothing is left at ``path``."""
        chunk_size = 256 * 1024
        try:
            if url.startswith("data:"):
                data = decode_data_uri(url)
                await asyncio.to_thread(path.write_bytes, data)
                return len(data)
            client = self._client if urlsplit(url).netloc == self._host else self._files
            for attempt in range(1, self.retry.attempts + 1):
                try:
                    async with client.stream("GET", url) as response:
                        status = response.status_code
                        if status < 400:
                            written = 0
                            with await asyncio.to_thread(path.open, "wb") as file:
                                async for chunk in response.aiter_bytes(chunk_size):
                                    await asyncio.to_thread(file.write, chunk)
                                    written += len(chunk)
                            return written
                except httpx.TransportError as exc:
                    failure = f"it could not be reached ({type(exc).__name__})"
                else:
                    if status < 500 and status != 429:
                        raise ProviderFailed(
                            "The model's provider made the result but its file could not be "
                            f"fetched (HTTP {status})."
                        )
                    failure = f"HTTP {status}"
                if attempt < self.retry.attempts:
                    await asyncio.sleep(self.retry.backoff(attempt))
            raise ProviderOutage(f"The provider's result file could not be fetched: {failure}.")
        except BaseException:
            # One unlink, on the way out (cancelled too): not worth a thread hop.
            path.unlink(missing_ok=True)  # noqa: ASYNC240
            raise

    def detail(self, response: httpx.Response) -> str:
        """The provider's own short explanation of an error answer, without secrets."""
        try:
            body: Any = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = response.text
        return self.redact(_message_of(body) or f"HTTP {response.status_code}")

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        text = " ".join(text.split())
        return text if len(text) <= DETAIL_CHARS else text[: DETAIL_CHARS - 1] + "…"

    @staticmethod
    def _retry_after(response: httpx.Response) -> float | None:
        value = response.headers.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            return max(0.0, (parsedate_to_datetime(value) - utcnow()).total_seconds())
        except (TypeError, ValueError):
            return None


def _message_of(body: Any) -> str | None:
    """The message in the common error shapes: {"error": {"message"}}, {"error": "..."},
    {"detail": "..." | [{"msg"}]}, {"message": "..."}, or a bare string."""
    if isinstance(body, str):
        return body.strip() or None
    if not isinstance(body, dict):
        return None
    for key in ("error", "detail", "message", "title"):
        value = body.get(key)
        if isinstance(value, str) and value.strip():
            return value
        if isinstance(value, dict):
            nested = _message_of(value)
            if nested:
                return nested
        if isinstance(value, list) and value:
            first = value[0]
            if isinstance(first, dict):
                text = first.get("msg") or first.get("message")
                if isinstance(text, str):
                    return text
    return None


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def decode_data_uri(uri: str) -> bytes:
    header, comma, payload = uri.partition(",")
    if not comma:
        raise ProviderOutage("The model's provider answered a malformed data URI.")
    if header.endswith(";base64"):
        try:
            return base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise ProviderOutage("The model's provider answered a malformed data URI.") from None
    return unquote_to_bytes(payload)
