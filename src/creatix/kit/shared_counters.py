"""Rate-limit counters shared by the processes of one ``serve --workers``: what Redis is to
several nodes, the supervisor is to its own API processes.

The supervisor runs a ``CounterHost``: a thread with its own event loop serving a Unix stream
socket (Linux: in the abstract namespace; elsewhere a socket file in a private temporary
folder) in front of one ``limits`` in-memory storage. Each API process's rate limiter and
sign-in throttle use ``HostedStorage`` (``creatix-host://ADDRESS``): a ``limits`` storage
whose every call (``acquire_entry``, ``get_moving_window``, ``incr`` ...) is one JSON line to
the host and one back, pipelined on one connection per process (opened again on another event
loop, or once the host closed it). The windows are exactly those of one process's memory
storage, counted once for every process. The children die with the supervisor, so the host
never outlives its clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import secrets
import shutil
import socket
import sys
import tempfile
import threading
from collections.abc import Iterator
from typing import Any

from limits.aio.storage import MemoryStorage, MovingWindowSupport, Storage
from limits.errors import StorageError
from limits.storage import storage_from_string

from creatix.kit.errors import Unavailable

SCHEME = "creatix-host"
ABSTRACT = "@"
"""An address starting with this names a socket in Linux's abstract namespace."""
CALLS = frozenset(
    {
        "incr",
        "decr",
        "get",
        "get_expiry",
        "clear",
        "check",
        "reset",
        "acquire_entry",
        "get_moving_window",
    }
)
"""The storage methods a client may call on the host."""
CALL_TIMEOUT_SECONDS = 5.0


def counter_storage(uri: str) -> Storage:
    """The async ``limits`` storage for ``uri``: ``memory://``, ``redis://…`` (through
    redis-py's asyncio client) or a counter host's ``creatix-host://…``."""
    uri = uri if uri.startswith("async+") else f"async+{uri}"
    options = {"implementation": "redispy"} if "+redis" in uri else {}
    # Wrapped: whatever the backend, a storage that fails raises limits' StorageError.
    storage = storage_from_string(uri, wrap_exceptions=True, **options)
    assert isinstance(storage, Storage), "an async+ scheme makes an async storage"
    return storage


@contextlib.contextmanager
def counters_answering() -> Iterator[None]:
    """Counters that cannot be read or written (Redis or the counter host gone): a 503 that
    says so, not an error page."""
    try:
        yield
    except StorageError as exc:
        raise Unavailable(
            "The rate-limit counters are unavailable; try again shortly.",
            code="rate_limits_unavailable",
        ) from exc


class HostError(Exception):
    """The counter host refused or failed a call, or cannot be reached."""


class CounterHost:
    """The counters of every API process, in one in-memory storage, served over a socket."""

    def __init__(self) -> None:
        self._folder: str | None = None
        if sys.platform == "linux":
            self.address = f"{ABSTRACT}creatix-counters-{secrets.token_hex(8)}"
        else:
            self._folder = tempfile.mkdtemp(prefix="cx-")
            self.address = os.path.join(self._folder, "counters.sock")
        self._loop = _new_loop()
        self._started = threading.Event()
        self._failure: BaseException | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._serve, name="counter-host", daemon=True)

    @property
    def uri(self) -> str:
        return f"{SCHEME}://{self.address}"

    def start(self) -> None:
        """Serve from a thread of this process; raises what kept the socket from opening."""
        self._thread.start()
        self._started.wait()
        if self._failure is not None:
            raise self._failure

    def close(self) -> None:
        if self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout=5)
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)

    def _serve(self) -> None:
        try:
            self._loop.run_until_complete(self._main())
        except BaseException as exc:
            self._failure = exc
        finally:
            self._started.set()
            self._loop.close()

    async def _main(self) -> None:
        storage = MemoryStorage()
        self._stop = asyncio.Event()

        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await _answer_calls(storage, reader, writer)
            except ConnectionError:
                pass
            finally:  # also when the host stops: the client sees its connection end at once
                writer.close()

        listening = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listening.bind(_socket_path(self.address))
        server = await asyncio.start_unix_server(answer, sock=listening)
        self._started.set()
        async with server:
            await self._stop.wait()
        connections = asyncio.all_tasks() - {asyncio.current_task()}
        for connection in connections:
            connection.cancel()
        await asyncio.gather(*connections, return_exceptions=True)


async def _answer_calls(
    storage: MemoryStorage, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Answer one connection's calls, in order, until it closes."""
    while line := await reader.readline():
        call_id, method, args = json.loads(line)
        try:
            if method not in CALLS:
                raise HostError(f"no such call: {method!r}")
            reply = [call_id, await getattr(storage, method)(*args)]
        except Exception as exc:
            reply = [call_id, None, f"{type(exc).__name__}: {exc}"]
        writer.write(json.dumps(reply).encode() + b"\n")
        await writer.drain()


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop's where installed (uvicorn's choice too): a round trip costs less."""
    try:
        import uvloop  # noqa: PLC0415
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


def _socket_path(address: str) -> str:
    return "\0" + address[len(ABSTRACT) :] if address.startswith(ABSTRACT) else address


async def _connect(address: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    # A socket of our own: uvloop's open_unix_connection refuses abstract addresses.
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await asyncio.get_running_loop().sock_connect(sock, _socket_path(address))
    except BaseException:
        sock.close()
        raise
    return await asyncio.open_unix_connection(sock=sock)


class _Connection:
    """One process's pipelined connection to the host: calls go out as they come, and each
    answer is matched to its call by id."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self.loop = asyncio.get_running_loop()
        self._ids = itertools.count()
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self.closed = False
        self._reading = asyncio.create_task(self._read(reader))

    def usable(self) -> bool:
        """Open, and on the running event loop (where its reading task runs)."""
        return not self.closed and self.loop is asyncio.get_running_loop()

    async def call(self, method: str, args: list[Any]) -> Any:
        call_id = next(self._ids)
        answer: asyncio.Future[Any] = self.loop.create_future()
        self._waiting[call_id] = answer
        try:
            self._writer.write(json.dumps([call_id, method, args]).encode() + b"\n")
            return await asyncio.wait_for(answer, CALL_TIMEOUT_SECONDS)
        except TimeoutError as exc:
            raise HostError(f"the counter host did not answer {method} in time") from exc
        finally:
            self._waiting.pop(call_id, None)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while line := await reader.readline():
                call_id, result, *error = json.loads(line)
                answer = self._waiting.get(call_id)
                if answer is None or answer.done():
                    continue
                if error:
                    answer.set_exception(HostError(error[0]))
                else:
                    answer.set_result(result)
        except (ConnectionError, ValueError):
            pass
        finally:
            self.closed = True
            self._writer.close()
            for answer in self._waiting.values():
                if not answer.done():
                    answer.set_exception(HostError("the counter host closed the connection"))


class HostedStorage(Storage, MovingWindowSupport):
    """A ``limits`` async storage kept by a ``CounterHost`` (``creatix-host://ADDRESS``)."""

    STORAGE_SCHEME = [f"async+{SCHEME}"]

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options: Any) -> None:
        self._address = uri.split("://", 1)[1]
        self._connection: _Connection | None = None
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return (HostError, OSError)

    async def _call(self, method: str, *args: Any) -> Any:
        connection = self._connection
        if connection is None or not connection.usable():
            reader, writer = await _connect(self._address)
            connection = self._connection = _Connection(reader, writer)
        return await connection.call(method, list(args))

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return int(await self._call("incr", key, expiry, amount))

    async def decr(self, key: str, amount: int = 1) -> int:
        return int(await self._call("decr", key, amount))

    async def get(self, key: str) -> int:
        return int(await self._call("get", key))

    async def get_expiry(self, key: str) -> float:
        return float(await self._call("get_expiry", key))

    async def check(self) -> bool:
        try:
            return bool(await self._call("check"))
        except (HostError, OSError):
            return False

    async def reset(self) -> int | None:
        reset: int | None = await self._call("reset")
        return reset

    async def clear(self, key: str) -> None:
        await self._call("clear", key)

    async def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        return bool(await self._call("acquire_entry", key, limit, expiry, amount))

    async def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        start, count = await self._call("get_moving_window", key, limit, expiry)
        return float(start), int(count)
