"""Shared fixtures: a real server per test module, and a client with a fresh key."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

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
