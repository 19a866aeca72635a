"""Delivering the outbox: lease due deliveries, render, sign, POST, record, retry.

Each attempt renders the body afresh through the job's dialect (so asset links are newly
signed even hours later), signs it the Standard Webhooks way with the account's secret, and
re-checks the URL against the SSRF guard. Every attempt is recorded. The outcome:

- 2xx: delivered.
- 410 Gone: stopped, the receiver asked for no more.
- anything else (another status, a timeout, a connection error): tried again after
  ``RETRY_DELAYS`` — 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h — so 8 attempts in all,
  then failed.
- a URL the guard refuses, or a job that no longer exists: failed at once.

A delivery is leased for its attempt like a queued job, so two deliverers never send the same
attempt at once; a deliverer that dies mid-attempt leaves a lease that expires, and the
attempt is made again (with the same ``webhook-id``, which receivers use to deduplicate).

Fairness: a deliverer makes ``webhook_concurrency`` attempts at once (16), of which one
account's take at most ``webhook_account_concurrency`` (4); the leasing query itself hands out
no more (accounts take turns, see ``repository.lease_due``). An account whose receiver hangs
for the whole timeout (``webhook_timeout_seconds``, 15 s) holds only its own slots, so other
accounts' webhooks still go out within a poll (1 s) of their job's end. The limits are per
deliverer process: a cluster of N deliverers makes at most N × 4 attempts for one account at
once.

When the database is unavailable, the loop backs off (jittered, doubling up to 30 s) and logs
one line as it goes down and one as it comes back (``kit/backoff.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import httpx
import pydantic_core
from standardwebhooks.webhooks import Webhook

from creatix import __version__
from creatix.config import Settings
from creatix.jobs.service import JobService
from creatix.jobs.specs import Asset
from creatix.kit.backoff import Outage, is_transient
from creatix.kit.clock import utcnow
from creatix.kit.errors import NotFound
from creatix.kit.ids import new_id
from creatix.kit.metrics import Metrics
from creatix.storage.base import Storage
from creatix.webhooks import payloads, repository, service
from creatix.webhooks.models import WebhookAttempt
from creatix.webhooks.repository import DueDelivery
from creatix.webhooks.ssrf import CheckedUrl, UnsafeUrl, check_url, pinned_target

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
"""The current time, timezone-aware UTC."""

RETRY_DELAYS: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
"""How long after a failed attempt the next one is due: after attempt n, ``RETRY_DELAYS[n-1]``."""
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
METRIC_OUTCOMES = {
    "delivered": "delivered",
    "pending": "failed",
    "failed": "gave_up",
    "stopped": "stopped",
}
"""The metrics' outcome of an attempt, by the delivery's status after it."""
LEASE_SECONDS = 60.0
"""Longer than an attempt can take (the timeout, plus rendering and recording); a timeout
over half of it lengthens the lease to twice the timeout."""


class Verdict(StrEnum):
    DELIVERED = "delivered"
    STOPPED = "stopped"
    FAILED = "failed"
    """Not worth retrying: the URL is refused or the job is gone."""
    RETRY = "retry"


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    status_code: int | None = None
    error: str | None = None


def verdict_for(status_code: int) -> Verdict:
    if 200 <= status_code < 300:
        return Verdict.DELIVERED
    if status_code == 410:
        return Verdict.STOPPED
    return Verdict.RETRY


def next_state(verdict: Verdict, attempts_made: int, now: datetime) -> dict[str, Any]:
    """The delivery's columns after its ``attempts_made``-th attempt ended with ``verdict``."""
    if verdict is Verdict.RETRY and attempts_made < MAX_ATTEMPTS:
        return {"status": "pending", "next_attempt_at": now + RETRY_DELAYS[attempts_made - 1]}
    status = "failed" if verdict is Verdict.RETRY else verdict.value
    return {"status": status, "next_attempt_at": None, "finished_at": now}


class Deliverer:
    def __init__(
        self,
        jobs: JobService,
        storage: Storage,
        settings: Settings,
        *,
        clock: Clock = utcnow,
        transport: httpx.AsyncBaseTransport | None = None,
        concurrency: int | None = None,
        account_concurrency: int | None = None,
        poll_interval_seconds: float = 1.0,
        lease_seconds: float | None = None,
        timeout_seconds: float | None = None,
        metrics: Metrics | None = None,
        outage: Outage | None = None,
    ) -> None:
        """Limits not given come from ``settings`` (``webhook_*``)."""
        self.jobs = jobs
        self.db = jobs.db
        self.storage = storage
        self.settings = settings
        self.clock = clock
        self.concurrency = concurrency or settings.webhook_concurrency
        self.account_concurrency = account_concurrency or settings.webhook_account_concurrency
        self.poll_interval_seconds = poll_interval_seconds
        self.timeout_seconds = timeout_seconds or settings.webhook_timeout_seconds
        self.lease_seconds = lease_seconds or max(LEASE_SECONDS, 2 * self.timeout_seconds)
        self.metrics = metrics or jobs.metrics
        self.outage = outage or Outage("webhook deliverer's database", log)
        self.id = f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._in_flight = 0
        self._slot_freed = asyncio.Event()

    # -- the loop ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Deliver until cancelled: lease what is due into free slots until nothing more is,
        then wait for a slot to free or ``poll_interval_seconds``, whichever comes first.
        While leasing fails (the database is down) wait the outage's backoff instead."""
        log.info(
            "webhook deliverer started",
            extra={
                "deliverer": self.id,
                "concurrency": self.concurrency,
                "account_concurrency": self.account_concurrency,
            },
        )
        try:
            async with asyncio.TaskGroup() as group:
                while True:
                    self._slot_freed.clear()
                    free = self.concurrency - self._in_flight
                    try:
                        leased = await self._lease(free) if free > 0 else []
                    except Exception as exc:
                        await asyncio.sleep(self.outage.failed(exc))
                        continue
                    if free > 0:
                        self.outage.recovered()
                    for due in leased:
                        self._in_flight += 1
                        group.create_task(self._deliver_in_slot(due))
                    if 0 < len(leased) < free:
                        continue  # more may be due, behind accounts that reached their cap
                    # Not asyncio.wait_for: on Python 3.11 it swallows a cancellation that
                    # arrives as a slot frees, and the loop would never stop.
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.poll_interval_seconds):
                            await self._slot_freed.wait()
        finally:
            await self.aclose()

    async def run_due(self, now: datetime | None = None) -> int:
        """Make one attempt at each delivery due by ``now`` (default: the clock), up to
        ``concurrency`` of them and ``account_concurrency`` of one account's; how many were
        attempted."""
        leased = await self._lease(self.concurrency, now)
        await asyncio.gather(*(self._deliver_safely(due) for due in leased))
        return len(leased)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _lease(self, limit: int, now: datetime | None = None) -> list[DueDelivery]:
        now = now or self.clock()
        lease_until = now + timedelta(seconds=self.lease_seconds)
        return await self.db.write(
            lambda session: repository.lease_due(
                session,
                owner=self.id,
                now=now,
                lease_until=lease_until,
                limit=limit,
                per_account=self.account_concurrency,
            )
        )

    async def _deliver_in_slot(self, due: DueDelivery) -> None:
        try:
            await self._deliver_safely(due)
        finally:
            self._in_flight -= 1
            self._slot_freed.set()

    async def _deliver_safely(self, due: DueDelivery) -> None:
        try:
            await self.deliver(due)
        except Exception as exc:
            # The lease expires and the attempt is made again.
            if not is_transient(exc):
                log.exception("delivering a webhook failed", extra={"delivery": due.id})
            elif not self.outage.down:
                self.outage.failed(exc)

    # -- one attempt -------------------------------------------------------------------------

    async def deliver(self, due: DueDelivery) -> Outcome:
        """Make one attempt at a leased delivery and record it."""
        started_at = self.clock()
        started = time.perf_counter()
        outcome = await self._attempt(due, started_at)
        duration_ms = round((time.perf_counter() - started) * 1000)
        ended_at = self.clock()
        values = next_state(outcome.verdict, due.attempts + 1, ended_at)
        attempt = WebhookAttempt(
            id=new_id("whatt"),
            delivery_id=due.id,
            attempted_at=started_at,
            status_code=outcome.status_code,
            error=outcome.error,
            duration_ms=duration_ms,
        )
        held = await self.db.write(
            lambda session: repository.record_attempt(session, attempt, self.id, values)
        )
        if held:
            status = values["status"]
            self.metrics.webhook_attempted(METRIC_OUTCOMES.get(status, status))
        self._log(due, outcome, values, held)
        return outcome

    async def _attempt(self, due: DueDelivery, now: datetime) -> Outcome:
        try:
            checked = await check_url(
                due.url, param="webhook_url", allow_private=self.settings.allow_private_urls
            )
        except UnsafeUrl as exc:
            # A name that does not resolve now may resolve later; a refused address will not.
            unresolved = isinstance(exc.__cause__, OSError)
            return Outcome(Verdict.RETRY if unresolved else Verdict.FAILED, error=exc.message)
        try:
            job = await self.jobs.get(due.job_id)
        except NotFound:
            return Outcome(Verdict.FAILED, error="The job no longer exists.")
        try:
            secret = await service.signing_secret(self.db, due.account_id)
            body = pydantic_core.to_json(payloads.render(job, self.url_for))
            request = self._request(checked, due.id, now, body, secret)
        except Exception as exc:
            if is_transient(exc):
                raise  # not this delivery's fault: it is made again after the outage
            log.exception("rendering a webhook failed", extra={"delivery": due.id})
            return Outcome(Verdict.RETRY, error="internal error while rendering the event")
        return await self._send(request)

    def url_for(self, asset: Asset) -> str:
        """A signed link to the asset, absolute against the server's base URL."""
        url = self.storage.url(asset.storage_key, self.settings.file_url_ttl_seconds)
        return self.settings.base_url + url if url.startswith("/") else url

    def _request(
        self, checked: CheckedUrl, message_id: str, now: datetime, body: bytes, secret: str
    ) -> httpx.Request:
        headers = {
            "content-type": "application/json",
            "user-agent": f"Creatix-Webhooks/{__version__}",
            "webhook-id": message_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(message_id, now, body.decode()),
        }
        url, host, extensions = pinned_target(checked)
        headers.update(host)
        return self._http().build_request(
            "POST", url, content=body, headers=headers, extensions=extensions
        )

    async def _send(self, request: httpx.Request) -> Outcome:
        try:
            async with asyncio.timeout(self.timeout_seconds):
                response = await self._http().send(request, stream=True)
                await response.aclose()
        except (TimeoutError, httpx.TimeoutException):
            return Outcome(Verdict.RETRY, error=f"timed out after {self.timeout_seconds:g} s")
        except httpx.HTTPError as exc:
            return Outcome(Verdict.RETRY, error=f"{type(exc).__name__}: {exc}".rstrip(": "))
        return Outcome(verdict_for(response.status_code), status_code=response.status_code)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=self._transport,
                timeout=self.timeout_seconds,
                follow_redirects=False,
                trust_env=False,
                # Pinned requests to one address may be for different hosts: no reuse.
                limits=httpx.Limits(max_keepalive_connections=0),
            )
        return self._client

    @staticmethod
    def _log(due: DueDelivery, outcome: Outcome, values: dict[str, Any], held: bool) -> None:
        extra = {
            "delivery": due.id,
            "job": due.job_id,
            "event": due.event_type,
            "attempt": due.attempts + 1,
            "status_code": outcome.status_code,
            "error": outcome.error,
            "outcome": values["status"],
            "next_attempt_at": values["next_attempt_at"],
        }
        if not held:
            log.warning("webhook delivery lease lost before recording", extra=extra)
        elif outcome.verdict is Verdict.DELIVERED:
            log.info("webhook delivered", extra=extra)
        else:
            log.warning("webhook attempt failed", extra=extra)
