"""Prometheus metrics: one registry per runtime, and every metric Creatix exports on it.

The registry is the runtime's own, never ``prometheus_client``'s global one, so several
servers in one process (the tests) each count their own. ``GET /metrics`` (``api/health.py``)
sets the queue gauges from the jobs table and renders ``exposition()``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
"""The text exposition format (0.0.4, which every Prometheus reads; the names need no escaping)."""

UNMATCHED = "unmatched"
"""The route label of a request no route matched (the raw path would be unbounded)."""

HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
"""Seconds: API calls, and synchronous generations that wait up to ``sync_timeout_seconds``."""
ENGINE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
"""Seconds: from the preview engine's milliseconds to a video's minutes."""


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "creatix_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.http_request_seconds = Histogram(
            "creatix_http_request_seconds",
            "Time to answer an HTTP request, by route template and method.",
            ["route", "method"],
            buckets=HTTP_BUCKETS,
            registry=self.registry,
        )
        self.jobs_finished = Counter(
            "creatix_jobs_finished",
            "Jobs that ended, by model, kind and final status.",
            ["model", "kind", "status"],
            registry=self.registry,
        )
        self.engine_seconds = Histogram(
            "creatix_engine_seconds",
            "Engine time of succeeded jobs, by the engine instance that made them and kind.",
            ["engine", "kind"],
            buckets=ENGINE_BUCKETS,
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "creatix_queue_depth",
            "Queued jobs, by kind, as of the scrape.",
            ["kind"],
            registry=self.registry,
        )
        self.queue_oldest_age_seconds = Gauge(
            "creatix_queue_oldest_age_seconds",
            "Age of the oldest queued job, by kind, as of the scrape (0 when none is queued).",
            ["kind"],
            registry=self.registry,
        )
        self.webhook_deliveries = Counter(
            "creatix_webhook_deliveries",
            "Webhook delivery attempts recorded, by outcome: delivered, failed (to be retried),"
            " gave_up (no attempt follows) or stopped (the receiver answered 410 Gone).",
            ["outcome"],
            registry=self.registry,
        )

        self.policy_refusals = Counter(
            "creatix_policy_refusals",
            "Content policy refusals, by category and stage (prompt, output or copy).",
            ["category", "stage"],
            registry=self.registry,
        )
        self.policy_moderation_outages = Counter(
            "creatix_policy_moderation_outages",
            "Moderation calls that gave no verdict, by stage and what the policy did "
            "(open: proceeded; closed: refused with 503 or failed the job).",
            ["stage", "on_outage"],
            registry=self.registry,
        )

    def policy_refused(self, category: str, stage: str) -> None:
        self.policy_refusals.labels(category, stage).inc()

    def moderation_outage(self, stage: str, on_outage: str) -> None:
        self.policy_moderation_outages.labels(stage, on_outage).inc()

    def request_answered(self, route: str, method: str, status: int, seconds: float) -> None:
        self.http_requests.labels(route, method, str(status)).inc()
        self.http_request_seconds.labels(route, method).observe(seconds)

    def job_ended(
        self, *, model: str, kind: str, status: str, engine: str, engine_seconds: float | None
    ) -> None:
        self.jobs_finished.labels(model, kind, status).inc()
        if status == "succeeded" and engine_seconds is not None:
            self.engine_seconds.labels(engine, kind).observe(engine_seconds)

    def webhook_attempted(self, outcome: str) -> None:
        self.webhook_deliveries.labels(outcome).inc()

    def set_queue(
        self, kinds: Iterable[str], queued: Mapping[str, tuple[int, datetime]], now: datetime
    ) -> None:
        """The queue gauges: for each kind, ``queued[kind]`` is its (count, oldest
        ``created_at``); a kind without queued jobs reads 0."""
        for kind in sorted({*kinds, *queued}):
            count, oldest = queued.get(kind, (0, now))
            self.queue_depth.labels(kind).set(count)
            self.queue_oldest_age_seconds.labels(kind).set(max(0.0, (now - oldest).total_seconds()))

    def clear_queue(self) -> None:
        """Drop the queue gauges, for a scrape that could not read the queue: no series is
        better than a stale one."""
        self.queue_depth.clear()
        self.queue_oldest_age_seconds.clear()

    def exposition(self) -> bytes:
        """Every metric in the text exposition format."""
        return generate_latest(self.registry)
