"""Test support: a real Creatix server on a loopback port, and keys for it."""

from __future__ import annotations

import asyncio
import atexit
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine, event

from creatix.accounts import service as accounts
from creatix.app import create_app
from creatix.billing import service as billing
from creatix.config import Settings
from creatix.runtime import Runtime

T = TypeVar("T")


class LiveServer:
    """The real app under uvicorn, in a thread with its own event loop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.runtime: Runtime | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        config = uvicorn.Config(
            create_app(settings, on_ready=self._ready),
            host="127.0.0.1",
            port=0,
            log_config=None,
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def _ready(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._loop = asyncio.get_running_loop()

    def start(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.settings.port = port  # links made outside a request (webhooks) use it
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the server's loop, e.g. a service call sharing its database."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=60)

    def key(self, plan: str = "paid", account: str | None = None) -> str:
        """A fresh key on a fresh account (unless one is named), on the given plan."""
        assert self.runtime is not None
        name = account or f"acct-{uuid.uuid4().hex[:10]}"
        db = self.runtime.db
        self.call(accounts.ensure_account(db, name, plan, "free"))
        return self.call(accounts.create_key(db, name)).secret

    def funded_account(self, credits: int = 0, plan: str = "paid") -> tuple[str, str]:
        """A fresh account on ``plan`` with ``credits`` granted, and a key: (name, secret)."""
        name = f"acct-{uuid.uuid4().hex[:10]}"
        secret = self.key(plan=plan, account=name)
        if credits:
            assert self.runtime is not None
            self.call(billing.grant(self.runtime.db, name, credits, None))
        return name, secret

    def balance(self, account: str) -> int:
        assert self.runtime is not None
        return self.call(billing.statement(self.runtime.db, account)).balance

    def ledger_kinds(self, account: str) -> list[str]:
        """The kinds of the account's ledger entries, sorted."""
        assert self.runtime is not None
        statement = self.call(billing.statement(self.runtime.db, account, limit=100))
        return sorted(entry.kind for entry in statement.entries)

    def client(self, secret: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kwargs)


TEST_BACKEND = os.environ.get("CREATIX_TEST_BACKEND", "sqlite")
"""``postgresql`` runs every server the tests start on a throwaway PostgreSQL database."""
_databases: list[str] = []
sqlite_only = pytest.mark.skipif(
    TEST_BACKEND != "sqlite", reason="works on the embedded SQLite file itself"
)


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    if TEST_BACKEND == "postgresql" and "database_url" not in overrides:
        overrides["database_url"] = _throwaway_database()
    return Settings(
        data_dir=data_dir,
        secret_key="test-secret",
        poll_interval_seconds=0.2,
        **overrides,
    )


def _throwaway_database() -> str:
    url = postgres_database()
    if url is None:
        raise RuntimeError("CREATIX_TEST_BACKEND=postgresql but no PostgreSQL is reachable")
    if not _databases:
        atexit.register(lambda: [drop_postgres_database(url) for url in _databases])
    _databases.append(url)
    return url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def creatix_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "creatix", *args]


class ServerProcess:
    """``creatix serve`` as a real subprocess, for tests that kill it."""

    def __init__(self, data_dir: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = args
        # One process (the API and its worker), as these tests were written for, unless
        # the args say --workers.
        self.env = {
            **os.environ,
            "CREATIX_SECRET_KEY": "test-secret",
            "CREATIX_WORKERS": "1",
            **(env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / f"server-{self.port}.log"

    def start(self) -> ServerProcess:
        command = creatix_command(
            "serve", "--port", str(self.port), "--data-dir", str(self.data_dir), *self.args
        )
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(command, env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"creatix serve exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError("creatix serve did not become healthy")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


POSTGRES_ADMIN_URL = os.environ.get(
    "CREATIX_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)


def postgres_database() -> str | None:
    """A new, empty PostgreSQL database for this test session, or None when none is reachable."""
    try:
        import psycopg
    except ImportError:
        return None
    name = f"creatix_test_{uuid.uuid4().hex[:12]}"
    admin = POSTGRES_ADMIN_URL
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error:
        return None
    base, _, _ = admin.rpartition("/")
    return f"{base}/{name}"


def postgres_reachable() -> bool:
    try:
        import psycopg
    except ImportError:
        return False
    try:
        psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3).close()
    except psycopg.Error:
        return False
    return True


@contextmanager
def lined_up_before(engines: Sequence[Engine], table: str, parties: int) -> Iterator[None]:
    """Hold the first ``parties`` statements that write ``table`` (``UPDATE table ...``) on
    ``engines`` until all of them are there, then let them go together.

    Every read their transactions make before that write then happens before any of them
    writes: the interleaving that breaks a read-then-write, made certain rather than left to
    the scheduler. A single conditional ``UPDATE`` reads nothing first, so the right code is
    only lined up. Use it where the transactions run at once (PostgreSQL): on SQLite,
    ``BEGIN IMMEDIATE`` lets only one writer in, and the others would never arrive.
    """
    barrier = threading.Barrier(parties, timeout=60)
    arrived = 0
    lock = threading.Lock()
    prefix = f"UPDATE {table} "

    def hold(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        nonlocal arrived
        if not statement.lstrip().startswith(prefix):
            return
        with lock:
            if arrived == parties:
                return
            arrived += 1
        barrier.wait()

    for engine in engines:
        event.listen(engine, "before_cursor_execute", hold)
    try:
        yield
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", hold)
    assert arrived == parties, f"{arrived} of {parties} writes of {table} were lined up"


def drop_postgres_database(url: str) -> None:
    import psycopg

    name = url.rpartition("/")[2]
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_database_reachable(url: str, reachable: bool) -> None:
    """Cut a throwaway database off (its sessions killed, new ones refused), or let it back:
    a real outage, as a process using it sees one."""
    import psycopg

    name = url.rpartition("/")[2]
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(reachable).lower()}')
        if not reachable:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )


def rate_limited(response: httpx.Response) -> bool:
    """A 429 for the key's requests per minute (not, say, a used-up quota)."""
    return (
        response.status_code == 429
        and response.json().get("error", {}).get("code") == "rate_limit_exceeded"
    )


def poll_within_rate_limit(
    client: httpx.Client, url: str, done: Callable[[httpx.Response], bool], timeout: float
) -> httpx.Response:
    """GET ``url`` until ``done`` says so, the pause between polls growing from 0.05 s to 1 s.
    Polls count against the key's rate limit (60 a minute on the free plan): on that 429 it
    waits the Retry-After it names, and does not count that wait in ``timeout``."""
    deadline = time.monotonic() + timeout
    pause = 0.05
    while True:
        response = client.get(url)
        if rate_limited(response):
            wait = int(response.headers["Retry-After"])
            deadline += wait
            time.sleep(wait)
            continue
        if done(response):
            return response
        assert time.monotonic() < deadline, response.text
        time.sleep(pause)
        pause = min(1.0, pause * 1.5)
