"""CPU-heavy work on user input, in worker processes with a hard time budget.

A thread cannot be stopped, and Python code (or a C extension) that holds the GIL stalls
every thread of the process, the event loop's included. Work whose cost grows faster than
its input (a JSON Schema to build an instance of, regular expressions over a long prompt)
runs here instead: in a small pool of worker processes (pebble's ``ProcessPool``), each call
with a budget; a call past it has its worker process killed, and replaced, and raises
``OutOfTime``. Nothing in this process waits on the work but an ``await``.

Workers are forked from multiprocessing's fork server (spawned where there is none), which
imports the ``preload`` modules once: a replacement worker is ready in milliseconds. The
pool starts on the first call, so a process that never needs it never starts one; it starts
on a thread, since starting the fork server and its first workers takes a second or more
(the preload's imports), which would stall the event loop. A call's hop there and back costs
about half a millisecond (``benchmarks/process_hop.py``).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pebble import ProcessExpired, ProcessPool

T = TypeVar("T")


class OutOfTime(Exception):
    """The call ran past its budget; its worker process was killed."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the work ran past its budget of {seconds:g} s and was stopped")
        self.seconds = seconds


class WorkerDied(Exception):
    """The worker process running the call ended without an answer (killed, out of memory)."""


def _context(preload: Sequence[str]) -> Any:
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(list(preload))
        return context
    return multiprocessing.get_context("spawn")


class ProcessRunner:
    """Runs picklable functions in ``workers`` processes, each call within ``budget_seconds``."""

    def __init__(self, *, workers: int, budget_seconds: float, preload: Sequence[str] = ()) -> None:
        if workers < 1:
            raise ValueError("a process runner needs at least one worker")
        if budget_seconds <= 0:
            raise ValueError("the time budget must be positive")
        self.workers = workers
        self.budget_seconds = budget_seconds
        self.preload = tuple(preload)
        self._pool: ProcessPool | None = None
        self._starting = threading.Lock()

    def _started(self) -> ProcessPool:
        """The pool, its workers running: started here the first time (on a thread)."""
        with self._starting:
            if self._pool is None:
                pool = ProcessPool(max_workers=self.workers, context=_context(self.preload))
                try:
                    pool.schedule(_nothing).result()  # pebble starts its workers on a first call
                except BaseException:
                    pool.stop()  # type: ignore[no-untyped-call]
                    raise
                self._pool = pool
            return self._pool

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` in a worker process: its result, or the exception it raised;
        ``OutOfTime`` past the budget, ``WorkerDied`` if the process ended without one."""
        try:
            pool = self._pool if self._pool is not None else await asyncio.to_thread(self._started)
            future = pool.schedule(function, args=args, timeout=self.budget_seconds)
            result: T = await asyncio.wrap_future(future)
        except TimeoutError:
            raise OutOfTime(self.budget_seconds) from None
        except ProcessExpired as exc:
            raise WorkerDied(f"the worker process ended without an answer ({exc})") from None
        return result

    async def close(self) -> None:
        """Stops the pool; a running call's process is killed."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.stop()  # type: ignore[no-untyped-call]
            await asyncio.to_thread(pool.join)


def _nothing() -> None:
    return None
