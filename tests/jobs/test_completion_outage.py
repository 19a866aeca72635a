"""A worker whose database goes away while it works: a finished job survives a blip, a lease
lost during an outage leaves no stored file behind, and the loops log one line when the
database goes and one when it is back.

On PostgreSQL (skipped when none is reachable) the worker reaches its database through a TCP
proxy on loopback that the test cuts (every connection closed, new ones refused) and
restores: a real outage from the worker's side, touching nothing else on the shared server.
On SQLite the worker's ``Database`` raises ``OperationalError`` on every transaction while
the test says it is down. Either way the test itself reads the database directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from creatix.accounts import service as accounts
from creatix.accounts.schemas import Principal
from creatix.billing import service as billing
from creatix.billing.models import LedgerEntry
from creatix.jobs.specs import ImageSpec, Job, JobStatus
from creatix.jobs.sweeper import OrphanSweeper
from creatix.kit.clock import utcnow
from creatix.kit.db import Database
from creatix.kit.ids import new_id
from creatix.kit.migrate import upgrade_database
from creatix.runtime import Runtime
from creatix.storage.base import ObjectNotFound
from creatix.storage.local import LocalStorage
from creatix.uploads.models import UploadRow
from support import drop_postgres_database, free_port, make_settings, postgres_database

T = TypeVar("T")
MODEL = "z-image-turbo"  # the preview engine, 100 credits an image
PRICE = 100
GRANT = 1000
DEADLINE = 60.0


# -- making the database go away -------------------------------------------------------------


class CuttableProxy:
    """A TCP proxy on a loopback port in front of ``target``, on an event loop of its own
    thread. ``cut`` aborts every connection through it and stops listening, so that new
    connections are refused; ``restore`` listens on the same port again."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    def start(self) -> CuttableProxy:
        self._thread.start()
        self.restore()
        return self

    def restore(self) -> None:
        self._run(self._listen())

    def cut(self) -> None:
        self._run(self._cut())

    def close(self) -> None:
        self._run(self._shut_down())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def _run(self, work: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout=10)

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in self._open:
            writer.transport.abort()
        self._open.clear()

    async def _shut_down(self) -> None:
        await self._cut()
        relays = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in relays:
            task.cancel()
        await asyncio.gather(*relays, return_exceptions=True)

    async def _relay(self, client_in: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
        if self._server is None:  # accepted just as it was cut
            client.transport.abort()
            return
        try:
            server_in, server = await asyncio.open_connection(*self.target)
        except OSError:
            client.transport.abort()
            return
        self._open |= {client, server}
        await asyncio.gather(
            _pipe(client_in, server), _pipe(server_in, client), return_exceptions=True
        )
        for writer in (client, server):
            self._open.discard(writer)
            writer.transport.abort()


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    while data := await source.read(65536):
        sink.write(data)
        await sink.drain()


@dataclass
class Backend:
    """The database of one test: the URL the test reads it by, the URL the worker under
    test reaches it by, and the switch that takes it away from that worker."""

    name: str
    url: str
    worker_url: str
    proxy: CuttableProxy | None = None
    down: bool = False
    refused: int = 0
    """How many of the worker's database calls failed while it was down."""

    def watch(self, db: Database) -> None:
        """Make ``db`` (the worker's) fail while the database is down (on PostgreSQL the
        proxy does that) and count its failures."""
        if self.proxy is not None:
            event.listen(db.engine, "handle_error", self._count)
            return
        for name in ("run_read", "run_write"):
            setattr(db, name, self._unless_down(getattr(db, name)))

    def _count(self, _: object) -> None:
        if self.down:
            self.refused += 1

    def _unless_down(self, run: Callable[[Any], T]) -> Callable[[Any], T]:
        def guarded(work: Any) -> T:
            if self.down:
                self.refused += 1
                raise OperationalError("BEGIN", {}, ConnectionRefusedError("database down"))
            return run(work)

        return guarded

    def cut(self) -> None:
        self.down = True
        if self.proxy is not None:
            self.proxy.cut()

    def restore(self) -> None:
        self.down = False
        if self.proxy is not None:
            self.proxy.restore()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'outage.db'}"
        upgrade_database(url)
        yield Backend("sqlite", url, url)
        return
    url = postgres_database()
    if url is None:
        pytest.skip("no PostgreSQL reachable")
    upgrade_database(url)
    host_port = url.split("@", 1)[1].split("/", 1)[0]
    host, _, port = host_port.partition(":")
    proxy = CuttableProxy(host, int(port or 5432)).start()
    worker_url = url.replace(f"@{host_port}/", f"@127.0.0.1:{proxy.port}/")
    try:
        yield Backend("postgresql", url, worker_url, proxy)
    finally:
        proxy.close()
        drop_postgres_database(url)


# -- the cast ----------------------------------------------------------------------------------


def runtime_on(
    backend: Backend, tmp_path: Path, *, worker_side: bool, lease: float, slots: int = 1
) -> Runtime:
    """A runtime on the backend: the worker's (through the switch) or the test's own."""
    settings = make_settings(
        tmp_path / "data",
        database_url=backend.worker_url if worker_side else backend.url,
        lease_seconds=lease,
        worker_concurrency=slots,
    )
    runtime = Runtime.build(settings)
    if worker_side:
        backend.watch(runtime.db)
    return runtime


@dataclass
class EngineCalls:
    """Counts calls of a runtime's preview engine; ``after_call`` runs when one returns
    (with the engine's work done, before anything is stored), ``during`` runs while one is
    in flight, given the engine's progress callback, before the real engine runs."""

    count: int = 0
    after_call: Callable[[int], None] | None = None
    during: Callable[[Any], Awaitable[None]] | None = None


def cut_after_first_call(backend: Backend) -> Callable[[int], None]:
    def cut(call: int) -> None:
        if call == 1:
            backend.cut()

    return cut


def count_engine_calls(runtime: Runtime, calls: EngineCalls) -> EngineCalls:
    engine = runtime.engines.engine("preview")
    original = engine.generate  # type: ignore[attr-defined]

    async def generate(model: str, specs: Any, images: Any, progress: Any, params: Any) -> Any:
        calls.count += 1
        if calls.during is not None:
            await calls.during(progress)
        made = await original(model, specs, images, progress, params)
        if calls.after_call is not None:
            calls.after_call(calls.count)
        return made

    engine.generate = generate  # type: ignore[attr-defined]
    return calls


def stored_keys(runtime: Runtime) -> list[str]:
    """Every key the runtime's storage was asked to put."""
    keys: list[str] = []
    storage = runtime.storage
    original = storage.put

    async def put(key: str, data: bytes, content_type: str) -> None:
        keys.append(key)
        await original(key, data, content_type)

    storage.put = put  # type: ignore[method-assign]
    return keys


async def funded(runtime: Runtime) -> Principal:
    name = f"acct-{new_id('t')[-8:]}"
    info = await accounts.ensure_account(runtime.db, name, "paid", "free")
    await billing.grant(runtime.db, name, GRANT, None)
    return Principal(account_id=info.id, account_name=name, plan="paid", key_id="key_t")


async def until(check: Callable[[], Awaitable[bool] | bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while True:
        outcome = check()
        if not isinstance(outcome, bool):
            outcome = await outcome
        if outcome:
            return
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def finished(runtime: Runtime, job_id: str) -> Job:
    job: Job | None = None

    async def ended() -> bool:
        nonlocal job
        job = await runtime.jobs.get(job_id)
        return job.status.is_terminal

    await until(ended, "the job to end")
    assert job is not None
    return job


@contextlib.asynccontextmanager
async def running(*tasks: Awaitable[None]) -> AsyncIterator[None]:
    started = [asyncio.ensure_future(task) for task in tasks]
    try:
        yield
    finally:
        for task in started:
            task.cancel()
        results = await asyncio.gather(*started, return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                raise result


async def ledger_of(runtime: Runtime, job_id: str) -> list[str]:
    def read(session: Session) -> list[str]:
        kinds = session.execute(select(LedgerEntry.kind).where(LedgerEntry.job_id == job_id))
        return sorted(kinds.scalars())

    return await runtime.db.read(read)


async def balance(runtime: Runtime, principal: Principal) -> int:
    return (await billing.statement(runtime.db, principal.account_name)).balance


def lines(caplog: pytest.LogCaptureFixture, what: str, state: str) -> int:
    return sum(1 for r in caplog.records if r.getMessage().startswith(f"{what}: {state}"))


SPEC = ImageSpec(prompt="a lighthouse at dusk", width=512, height=512, n=1, seed=3)


# -- the tests ---------------------------------------------------------------------------------


async def test_a_finished_job_survives_a_database_blip(
    backend: Backend, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    admin = runtime_on(backend, tmp_path, worker_side=False, lease=8)
    side = runtime_on(backend, tmp_path, worker_side=True, lease=8)
    worker = side.worker()
    # The engine finishes, and the database goes away before the worker records the job.
    calls = count_engine_calls(side, EngineCalls(after_call=cut_after_first_call(backend)))
    principal = await funded(admin)
    try:
        async with running(worker.run()):
            job = await admin.jobs.intake.submit_image(principal, MODEL, SPEC)
            await until(lambda: backend.refused >= 3, "three refused database calls")
            backend.restore()
            done = await finished(admin, job.id)
            # The commit is visible to the test before the worker's coroutine resumes to log
            # its recovery (the write ran on the SQLite writer thread): wait for that too.
            await until(lambda: not worker.outages["record"].down, "the worker to log recovery")
    finally:
        await side.close()

    assert calls.count == 1, "the engine ran once: its work was recorded, not redone"
    assert done.status is JobStatus.SUCCEEDED
    assert done.attempts == 1
    [asset] = done.assets
    assert await admin.storage.get(asset.storage_key)
    assert await ledger_of(admin, job.id) == ["charge", "refund", "reserve"]
    assert await balance(admin, principal) == GRANT - PRICE
    assert lines(caplog, "recording job results", "unavailable") == 1
    assert lines(caplog, "recording job results", "recovered") == 1
    await admin.close()


async def test_a_lease_lost_during_an_outage_leaves_no_stored_file(
    backend: Backend, tmp_path: Path
) -> None:
    admin = runtime_on(backend, tmp_path, worker_side=False, lease=3)
    side = runtime_on(backend, tmp_path, worker_side=True, lease=3)
    worker = side.worker()
    other = admin.worker()  # a second worker, which still reaches the database
    calls = count_engine_calls(side, EngineCalls(after_call=cut_after_first_call(backend)))
    other_calls = count_engine_calls(admin, EngineCalls())
    stored = stored_keys(side)
    principal = await funded(admin)
    try:
        async with running(worker.run()):
            job = await admin.jobs.intake.submit_image(principal, MODEL, SPEC)
            await until(lambda: backend.refused >= 1, "a refused database call")
            # The outage outlasts the lease: the other worker requeues the job and runs it.
            async with running(other.run()):
                done = await finished(admin, job.id)
            assert stored
            for key in stored:  # still there while the database cannot say whose they are
                assert await admin.storage.get(key)
            backend.restore()
            await until(lambda: not worker._inflight, "the first worker to give the job up")
    finally:
        await side.close()

    assert calls.count == 1
    assert other_calls.count == 1, "run again only because the lease was really lost"
    assert done.status is JobStatus.SUCCEEDED
    assert done.attempts == 2
    [asset] = done.assets
    assert asset.storage_key not in stored
    assert await admin.storage.get(asset.storage_key)
    for key in stored:
        with pytest.raises(ObjectNotFound):
            await admin.storage.get(key)
    assert await ledger_of(admin, job.id) == ["charge", "refund", "reserve"]
    assert await balance(admin, principal) == GRANT - PRICE
    await admin.close()


async def test_each_loop_logs_an_outage_once_and_its_recovery_once(
    backend: Backend, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    admin = runtime_on(backend, tmp_path, worker_side=False, lease=6)
    # Two slots: one for the job the engine holds, one free, so the claimer keeps claiming.
    side = runtime_on(backend, tmp_path, worker_side=True, lease=6, slots=2)
    worker = side.worker()
    sweeper = OrphanSweeper(side.db, side.storage, grace_seconds=600, interval_seconds=0.2)
    await keep_an_old_named_file(admin, side)  # so that every sweep asks the database
    engine_running = asyncio.Event()
    release = asyncio.Event()

    async def report_until_released(progress: Any) -> None:
        engine_running.set()
        step = 0
        while not release.is_set():
            step += 1
            progress(min(0.9, step / 1000))
            await asyncio.sleep(0.05)

    count_engine_calls(side, EngineCalls(during=report_until_released))
    principal = await funded(admin)
    loops = {
        "claim": "claiming jobs",
        "heartbeat": "renewing leases",
        "requeue": "requeueing expired leases",
        "progress": "recording progress",
    }
    outages = {**{name: worker.outages[name] for name in loops}, "sweep": sweeper.outage}
    try:
        async with running(worker.run(), sweeper.run()):
            job = await admin.jobs.intake.submit_image(principal, MODEL, SPEC)
            await asyncio.wait_for(engine_running.wait(), DEADLINE)
            backend.cut()
            await until(
                lambda: all(outage.failures >= 3 for outage in outages.values()),
                "three failed rounds of every loop",
            )
            backend.restore()
            await until(
                lambda: not any(outage.down for outage in outages.values()),
                "every loop to recover",
            )
            release.set()
            done = await finished(admin, job.id)
    finally:
        await side.close()

    assert done.status is JobStatus.SUCCEEDED
    for what in [*loops.values(), "sweeping orphaned outputs"]:
        assert lines(caplog, what, "unavailable") == 1, what
        assert lines(caplog, what, "recovered") == 1, what
    tracebacks = [r.getMessage() for r in caplog.records if r.exc_info]
    assert tracebacks == [], "a database outage is not a traceback per round"
    await admin.close()


async def keep_an_old_named_file(admin: Runtime, side: Runtime) -> None:
    """An old output an upload row names: the sweeper finds it each time and asks about it."""
    key = f"images/acct/{new_id('upl')}.png"
    await side.storage.put(key, b"png", "image/png")
    assert isinstance(side.storage, LocalStorage)
    old = time.time() - 7200
    os.utime(side.storage.path_of(key), (old, old))
    info = await accounts.ensure_account(admin.db, "uploader", "paid", "free")

    def add(session: Session) -> None:
        session.add(
            UploadRow(
                id=new_id("upl"),
                account_id=info.id,
                path=key,
                mime_type="image/png",
                size_bytes=3,
                width=1,
                height=1,
                created_at=utcnow(),
            )
        )

    await admin.db.write(add)


async def test_a_completion_whose_answer_was_lost_keeps_its_files(
    backend: Backend, tmp_path: Path
) -> None:
    """The connection dies after the completion committed, before the worker heard so: its
    retry is refused (the job is no longer running), and the worker must find its own
    outputs recorded rather than delete them from under a finished job."""
    admin = runtime_on(backend, tmp_path, worker_side=False, lease=8)
    side = runtime_on(backend, tmp_path, worker_side=True, lease=8)
    worker = side.worker()
    calls = count_engine_calls(side, EngineCalls())
    lost_answers = lose_the_answer_of_the_first_completion(side.db)
    principal = await funded(admin)
    try:
        async with running(worker.run()):
            job = await admin.jobs.intake.submit_image(principal, MODEL, SPEC)
            done = await finished(admin, job.id)
            await until(lambda: not worker._inflight, "the worker to settle the batch")
    finally:
        await side.close()

    assert lost_answers == [job.id]
    assert calls.count == 1
    assert done.status is JobStatus.SUCCEEDED
    [asset] = done.assets
    assert await admin.storage.get(asset.storage_key), "the recorded file is still there"
    assert await ledger_of(admin, job.id) == ["charge", "refund", "reserve"]
    await admin.close()


def lose_the_answer_of_the_first_completion(db: Database) -> list[str]:
    """Make the first completion's transaction commit and then fail as a dropped connection
    would; the ids of the jobs whose answer was lost."""
    lost: list[str] = []
    commit = db.run_write

    def run_write(work: Callable[[Session], T]) -> T:
        result = commit(work)
        if not lost and "JobLifecycle._complete." in work.__qualname__:
            [job] = result  # type: ignore[misc]  # the one job this completion ended
            lost.append(getattr(job, "id", "?"))
            raise OperationalError("COMMIT", {}, ConnectionResetError("connection lost"))
        return result

    db.run_write = run_write  # type: ignore[method-assign]
    return lost


async def test_outputs_stored_before_a_storage_error_are_deleted(
    backend: Backend, tmp_path: Path
) -> None:
    """The second of a job's two images fails to store: the first is deleted at once, and
    the job's retry stores and records two of its own."""
    admin = runtime_on(backend, tmp_path, worker_side=False, lease=8)
    side = runtime_on(backend, tmp_path, worker_side=True, lease=8)
    worker = side.worker()
    storage = side.storage
    assert isinstance(storage, LocalStorage)
    put = storage.put
    puts: list[str] = []

    async def second_put_fails(key: str, data: bytes, content_type: str) -> None:
        puts.append(key)
        if len(puts) == 2:
            raise OSError("no space left on device")
        await put(key, data, content_type)

    storage.put = second_put_fails  # type: ignore[method-assign]
    principal = await funded(admin)
    try:
        async with running(worker.run()):
            spec = SPEC.model_copy(update={"n": 2})
            job = await admin.jobs.intake.submit_image(principal, MODEL, spec)
            done = await finished(admin, job.id)
    finally:
        await side.close()

    assert done.status is JobStatus.SUCCEEDED
    assert done.attempts == 2
    recorded = sorted(asset.storage_key for asset in done.assets)
    assert len(recorded) == 2
    on_disk = sorted(
        path.relative_to(storage.root).as_posix()
        for path in (storage.root / "images").rglob("*")
        if path.is_file()
    )
    assert on_disk == recorded, "nothing but the recorded images is left"
    await admin.close()
