"""Group commit: what is handed in while a transaction of earlier items runs goes into the
next transaction together, so that N concurrent completions cost one commit instead of N.

There is no timer: a lone item starts its transaction on the event loop's next turn; only
items that arrive while one is in flight wait, and only for it. When a transaction of several
items fails, each item is run again alone, so that every caller gets its own outcome (one bad
item never fails its neighbours, and a transient error reaches each caller to retry as it
would alone).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

MAX_ITEMS = 64
"""The most items one transaction takes."""


class GroupCommit(Generic[Item, Result]):
    def __init__(
        self,
        run_many: Callable[[Sequence[Item]], Awaitable[Sequence[Result]]],
        *,
        max_items: int = MAX_ITEMS,
    ) -> None:
        self._run_many = run_many
        self._max_items = max_items
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        """``item``'s result, once the transaction that took it has committed. The item is
        recorded even if the caller is cancelled meanwhile (as a transaction in a thread
        would be)."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await asyncio.shield(future)

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # items handed in by the same tick (a gather) go together
        while self._pending:
            taken = self._pending[: self._max_items]
            del self._pending[: self._max_items]
            if len(taken) > 1 and await self._together(taken):
                continue
            for item, future in taken:
                await self._alone(item, future)

    async def _together(self, taken: Sequence[tuple[Item, asyncio.Future[Result]]]) -> bool:
        """Run the items in one transaction; False (nothing recorded) when it failed."""
        try:
            results = await self._run_many([item for item, _ in taken])
        except Exception:
            return False
        for (_, future), result in zip(taken, results, strict=True):
            if not future.done():
                future.set_result(result)
        return True

    async def _alone(self, item: Item, future: asyncio.Future[Result]) -> None:
        try:
            [result] = await self._run_many([item])
        except Exception as exc:
            if not future.done():
                future.set_exception(exc)
            return
        if not future.done():
            future.set_result(result)
