"""Which pipelines stay loaded: as many as fit in the memory budget, least recently used out.

A pipeline is loaded on the CPU first, so its size (the bytes of its parameters and buffers)
is known before it reaches the accelerator; idle pipelines are unloaded, oldest use first,
until it fits, and only then is it moved to the device. A pipeline in use is never unloaded;
when only busy ones are left the budget is overrun for a while and a warning logged.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger(__name__)


class Loader(Protocol):
    def load(self, key: str) -> Any:
        """The pipeline ``key`` names, loaded on the CPU (blocking; run in a thread)."""
        ...

    def nbytes(self, pipeline: Any) -> int:
        """What the pipeline will take on the device."""
        ...

    def place(self, pipeline: Any) -> Any:
        """The pipeline moved to the device (blocking; run in a thread)."""
        ...

    def release(self) -> None:
        """Give back the memory of pipelines whose references were just dropped (blocking;
        run in a thread)."""
        ...


@dataclass(eq=False)
class Resident:
    key: str
    pipeline: Any
    nbytes: int
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Held for each call into the pipeline: one call at a time per pipeline (its scheduler,
    shared with the pipelines derived from it, has per-call state)."""
    thread_lock: threading.Lock = field(default_factory=threading.Lock)
    """Held by the thread running a call: a call whose caller was cancelled still runs to its
    end, and the next waits for it."""
    users: int = 0
    derived: dict[str, Any] = field(default_factory=dict)
    """Pipelines made from this one's components (image-to-image), by kind."""


class Residency:
    def __init__(self, loader: Loader, budget_bytes: int | None) -> None:
        self.loader = loader
        self.budget_bytes = budget_bytes
        self._residents: OrderedDict[str, Resident] = OrderedDict()
        self._loading = asyncio.Lock()

    def resident(self) -> list[str]:
        """The loaded pipelines' keys, least recently used first."""
        return list(self._residents)

    def get(self, key: str) -> Resident | None:
        return self._residents.get(key)

    @property
    def resident_bytes(self) -> int:
        return sum(r.nbytes for r in self._residents.values())

    @asynccontextmanager
    async def use(self, key: str) -> AsyncIterator[Resident]:
        """The pipeline ``key`` names, loaded if it is not, kept loaded while in use.

        Errors from loading propagate; nothing is left half-loaded.
        """
        resident = self._residents.get(key)
        if resident is None:
            async with self._loading:  # one load at a time: each knows what the others took
                resident = self._residents.get(key)
                if resident is None:
                    resident = await self._load(key)
        self._residents.move_to_end(key)
        resident.users += 1
        try:
            yield resident
        finally:
            resident.users -= 1

    async def _load(self, key: str) -> Resident:
        pipeline = await asyncio.to_thread(self.loader.load, key)
        nbytes = self.loader.nbytes(pipeline)
        await self._make_room(nbytes)
        try:
            pipeline = await asyncio.to_thread(self.loader.place, pipeline)
        except BaseException:
            del pipeline  # whatever reached the device goes with it
            await asyncio.to_thread(self.loader.release)
            raise
        resident = Resident(key, pipeline, nbytes)
        self._residents[key] = resident
        log.info(
            "pipeline loaded",
            extra={"model": key, "bytes": nbytes, "resident": len(self._residents)},
        )
        return resident

    async def _make_room(self, needed: int) -> None:
        if self.budget_bytes is None:
            return
        for resident in list(self._residents.values()):  # least recently used first
            if self.resident_bytes + needed <= self.budget_bytes:
                return
            if resident.users == 0:
                await self._unload(resident)
        if self.resident_bytes and self.resident_bytes + needed > self.budget_bytes:
            log.warning(
                "pipelines in use exceed the memory budget",
                extra={
                    "needed_bytes": needed,
                    "resident_bytes": self.resident_bytes,
                    "budget_bytes": self.budget_bytes,
                },
            )

    async def _unload(self, resident: Resident) -> None:
        self._residents.pop(resident.key, None)
        resident.pipeline = None
        resident.derived.clear()
        await asyncio.to_thread(self.loader.release)
        log.info("pipeline unloaded", extra={"model": resident.key, "bytes": resident.nbytes})

    async def unload_idle(self, keep: str | None = None) -> None:
        """Unload every pipeline not in use but ``keep`` (after running out of memory)."""
        for resident in list(self._residents.values()):
            if resident.users == 0 and resident.key != keep:
                await self._unload(resident)

    async def close(self) -> None:
        """Unload everything (the engine is closing; nothing is running)."""
        for resident in list(self._residents.values()):
            await self._unload(resident)
