from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from harness import Hooks
from receiver import Receiver


@pytest.fixture
async def hooks(tmp_path: Path) -> AsyncIterator[Hooks]:
    """Delivery with private URLs allowed (the receiver is on loopback)."""
    harness = Hooks(tmp_path, allow_private_urls=True)
    yield harness
    await harness.close()


@pytest.fixture
async def guarded(tmp_path: Path) -> AsyncIterator[Hooks]:
    """Delivery as a default install has it: private URLs refused."""
    harness = Hooks(tmp_path)
    yield harness
    await harness.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    yield running
    running.stop()
