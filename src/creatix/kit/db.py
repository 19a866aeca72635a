"""The database: engines, transactions, and where SQL runs.

Every repository function is synchronous SQL over a ``Session``; services hand such a
function to ``Database.read`` or ``Database.write``, which run it in one transaction:

- SQLite: reads inline on the caller's thread (a local WAL read takes tens of microseconds,
  less than a hop to a thread, and never waits for a writer). Writes to a database file go
  to one writer thread per process: writers from other processes (``serve --workers``' API
  and worker processes, a CLI) queue on an exclusive ``flock`` of ``creatix.db.write-lock``
  before ``BEGIN IMMEDIATE``, held until the connection goes back to the pool, and a write
  that waits there must not stop its event loop (measured: inline, four processes on two
  cores spent an eighth of a worker's time with its loop blocked on the lock). The kernel
  wakes the next writer the moment the lock is free, where SQLite's own busy handler (still
  there, ``busy_timeout`` 30 s, for anything that writes without it) sleeps 1 ms, then 2, 5,
  10 ... 100 ms between tries. One thread keeps this process's writes in order, one at a
  time. (A writer that hangs without dying holds the others; one that dies frees the lock.)
  An in-memory database has no other writers: its writes run inline too.
- PostgreSQL: in a thread pool sized to the connection pool, one hop per transaction.
"""

from __future__ import annotations

import asyncio
import fcntl
import functools
import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event, make_url
from sqlalchemy.engine import URL
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

T = TypeVar("T")
Work = Callable[[Session], T]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
POSTGRES_POOL_SIZE = 20


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC, also on SQLite which stores it naive."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def sync_url(url: str) -> URL:
    """The URL with the driver Creatix uses for its dialect."""
    parsed = make_url(url)
    drivers = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}
    backend = parsed.get_backend_name()
    if backend not in drivers:
        raise ValueError(f"unsupported database {backend!r}: use sqlite:// or postgresql://")
    return parsed.set(drivername=drivers[backend])


_WRITE_LOCK = "creatix_write_lock"
_WRITE_LOCKED = "creatix_write_locked"


def _write_lock_path(engine: Engine) -> Path | None:
    """The file whose ``flock`` queues writers of a SQLite database file (None: in memory)."""
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    path = Path(database).absolute()
    return path.with_name(path.name + ".write-lock")


def _configure_sqlite(engine: Engine) -> None:
    lock_path = _write_lock_path(engine) if sys.platform != "win32" else None

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        # Let SQLAlchemy's begin event decide how transactions start (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
        if lock_path is not None:
            record.info[_WRITE_LOCK] = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get("creatix_write", False)
        if not immediate:
            connection.exec_driver_sql("BEGIN")
            return
        info = connection.info
        descriptor = info.get(_WRITE_LOCK)
        if descriptor is not None and not info.get(_WRITE_LOCKED):
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            info[_WRITE_LOCKED] = True
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _unlock(info)
            raise

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        _unlock(record.info)

    @event.listens_for(engine, "close")
    def _on_close(_dbapi_connection: Any, record: Any) -> None:
        _unlock(record.info)
        descriptor = record.info.pop(_WRITE_LOCK, None)
        if descriptor is not None:
            os.close(descriptor)


def _unlock(info: dict[Any, Any]) -> None:
    if info.pop(_WRITE_LOCKED, False):
        fcntl.flock(info[_WRITE_LOCK], fcntl.LOCK_UN)


class Database:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        target = sync_url(url)
        self.is_sqlite = target.get_backend_name() == "sqlite"
        options: dict[str, Any] = {"echo": echo}
        self._executor: ThreadPoolExecutor | None = None
        self._writer: ThreadPoolExecutor | None = None
        if self.is_sqlite:
            # Connections are used from the loop, the writer thread and, for the CLI, the
            # main thread.
            options["connect_args"] = {"check_same_thread": False}
        else:
            options.update(pool_size=POSTGRES_POOL_SIZE, max_overflow=0, pool_pre_ping=True)
            self._executor = ThreadPoolExecutor(POSTGRES_POOL_SIZE, thread_name_prefix="db")
            self._writer = self._executor
        self.engine = create_engine(target, **options)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
            if _write_lock_path(self.engine) is not None:
                self._writer = ThreadPoolExecutor(1, thread_name_prefix="db-writer")
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(
            self.engine.execution_options(creatix_write=True), expire_on_commit=False
        )

    def run_read(self, work: Work[T]) -> T:
        with self._read() as session, session.begin():
            return work(session)

    def run_write(self, work: Work[T]) -> T:
        """Run ``work`` in a transaction that commits on success and rolls back on error."""
        with self._write() as session, session.begin():
            return work(session)

    async def read(self, work: Work[T]) -> T:
        return await _dispatch(self._executor, self.run_read, work)

    async def write(self, work: Work[T]) -> T:
        return await _dispatch(self._writer, self.run_write, work)

    async def dispose(self) -> None:
        self.engine.dispose()
        for executor in (self._executor, self._writer):
            if executor is not None:
                executor.shutdown(wait=False)


async def _dispatch(
    executor: ThreadPoolExecutor | None, runner: Callable[[Work[T]], T], work: Work[T]
) -> T:
    """``runner(work)`` on ``executor``'s threads, or inline when there is none."""
    if executor is None:
        return runner(work)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor, functools.partial(runner, work))
