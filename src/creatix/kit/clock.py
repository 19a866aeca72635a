"""One source of time, so that tests and leases agree on it."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
