"""The worker's free processing slots, by pool."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping


class SlotPools:
    """Free processing slots. An engine that declares its own ``concurrency`` (an upstream
    provider, mostly waiting on the network) has a pool of that many; the others share one
    of the worker's ``concurrency``."""

    SHARED = ""

    def __init__(self, shared: int, own: Mapping[str, int]) -> None:
        self._free = {self.SHARED: shared, **own}
        self._freed = asyncio.Event()

    def pool(self, engine: str) -> str:
        return engine if engine in self._free else self.SHARED

    def try_take(self, engine: str) -> bool:
        pool = self.pool(engine)
        if self._free[pool] == 0:
            return False
        self._free[pool] -= 1
        return True

    def release(self, engine: str) -> None:
        self._free[self.pool(engine)] += 1
        self._freed.set()

    def take_up_to(self, pool: str, count: int) -> int:
        """Up to ``count`` more slots of ``pool``; how many were free."""
        taken = min(count, self._free[pool])
        self._free[pool] -= taken
        return taken

    def take_one_of_each(self) -> set[str]:
        """One slot from every pool that has one free; the pools."""
        pools = {pool for pool, free in self._free.items() if free}
        for pool in pools:
            self._free[pool] -= 1
        return pools

    async def wait_freed(self) -> None:
        self._freed.clear()
        await self._freed.wait()
