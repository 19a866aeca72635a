"""``creatix serve --workers N``: N API processes on one port and the engines' worker
processes, started, watched and stopped by one supervising process.

The supervisor does once what N children must not race at: it migrates the database,
creates the data directory's server id, URL-signing key and development C2PA CA, and binds
the port (a port in use is refused here, before any child starts). Then it starts the
children with multiprocessing's ``spawn`` (no inherited threads, connections or locks):

- ``api-1`` … ``api-N``: the HTTP API under uvicorn, without a worker. On Linux each has a
  listening socket of its own, bound with ``SO_REUSEPORT`` by the supervisor, so the kernel
  spreads new connections over them; the supervisor keeps every socket open, so a
  restarted child takes over its socket's backlog and a connection waits rather than being
  refused. Elsewhere all share one socket.
- ``worker-1`` runs every model; when the catalog has models that no local device engine
  (``diffusers``, ``transformers``) serves, ``worker-2`` … ``worker-N`` run those too, so
  CPU engines and media work (decode, watermark, encode, provenance) use every core, while a
  GPU model stays in one process, as ``creatix worker`` does today.

Every child reports ``ready`` (or why it failed) over a pipe. A child that fails before
all are ready stops ``serve`` with its reason; one that dies later is started again (a
dead worker's jobs go back to the queue when their leases expire, as with any crashed
worker). SIGTERM or SIGINT drains: the supervisor closes its copies of the sockets, stops
the API processes (their requests in flight finish, for up to ``drain_seconds``) while the
workers still run, then stops the workers (running jobs finish for ``drain_seconds``, the
rest go back to the queue). Children live in their own process group, so a terminal's
Ctrl-C reaches only the supervisor; on Linux they die with it if it is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType
from typing import Any, Literal

from creatix.catalog.schemas import Catalog
from creatix.config import Settings
from creatix.engines.registry import TAKES_MODELS_DIR

log = logging.getLogger(__name__)

MAX_WORKERS = 8
"""The most API processes ``--workers`` takes (and its default's cap): past eight, one
SQLite file's writers and the per-process caches cost more than another core gives; a larger
site runs several ``serve --no-worker`` nodes behind a balancer instead."""
DEVICE_ENGINE_TYPES = TAKES_MODELS_DIR
"""Engines that hold a device (a GPU): their models run in one worker process only."""
RESTART_BACKOFF = (0.5, 30.0)
"""Base and cap of the delay before starting a child that died again soon after its start."""
STABLE_SECONDS = 30.0
"""A child that lived this long before dying is restarted at once."""

Role = Literal["api", "worker"]


def core_count() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def default_workers() -> int:
    """``--workers`` when not given: one API process per core, at most ``MAX_WORKERS``."""
    return max(1, min(core_count(), MAX_WORKERS))


@dataclass(frozen=True)
class ChildPlan:
    name: str
    role: Role
    slot: int = 0
    """An API process's listening socket."""
    models: tuple[str, ...] | None = None
    """The models a worker process claims; None: every model."""


def device_models(catalog: Catalog) -> set[str]:
    """Models with a route on a device engine (a GPU pipeline, a local language model)."""
    device_engines = {
        name for name, entry in catalog.engines.items() if entry.type in DEVICE_ENGINE_TYPES
    }
    return {
        model.id
        for model in catalog.models
        if any(route.engine in device_engines for route in model.routes())
    }


def plan_children(catalog: Catalog, workers: int, *, run_worker: bool) -> list[ChildPlan]:
    """``workers`` API processes and, unless ``run_worker`` is off, the worker processes."""
    plans = [ChildPlan(f"api-{slot + 1}", "api", slot=slot) for slot in range(workers)]
    if not run_worker:
        return plans
    plans.append(ChildPlan("worker-1", "worker"))
    on_device = device_models(catalog)
    shared = tuple(model.id for model in catalog.models if model.id not in on_device)
    if shared:
        plans += [ChildPlan(f"worker-{n}", "worker", models=shared) for n in range(2, workers + 1)]
    return plans


def processes_note(plans: Sequence[ChildPlan]) -> str:
    """The banner's line on the processes: how many API processes, and what each worker
    process runs."""
    api = sum(1 for plan in plans if plan.role == "api")
    workers = [plan for plan in plans if plan.role == "worker"]
    note = f"{api} API process{'es' if api != 1 else ''} on one port"
    if not workers:
        return note + "; no worker"
    every = [plan.name for plan in workers if plan.models is None]
    shared = [plan.name for plan in workers if plan.models is not None]
    note += f"; {', '.join(every)}: every model"
    if shared:
        note += f"; {', '.join(shared)}: the models on no local device engine"
    return note


class PortInUse(Exception):
    pass


def listening_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` sockets listening on ``host:port`` with ``SO_REUSEPORT`` (one shared socket,
    repeated, where the platform has none); ``PortInUse`` when anything else listens there,
    another server sharing the port included."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    probe = socket.socket(family, kind, proto)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(address)
        bound = probe.getsockname()
    except OSError as exc:
        probe.close()
        raise PortInUse(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    if not reuse_port():
        probe.listen(2048)
        probe.set_inheritable(True)
        return [probe] * count
    probe.close()
    sockets = []
    for _ in range(count):
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(bound)
        sock.listen(2048)
        sock.set_inheritable(True)
        sockets.append(sock)
    return sockets


def reuse_port() -> bool:
    return sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT")


# --- in the children -------------------------------------------------------------------


class Reporter:
    """A child's line to the supervisor: ``ready``, or why it failed to start."""

    def __init__(self, connection: Connection, name: str) -> None:
        self.connection = connection
        self.name = name
        self.sent = False

    def ready(self) -> None:
        self._send("ready", "")

    def failed(self, reason: str) -> None:
        self._send("failed", reason)

    def _send(self, state: str, reason: str) -> None:
        if not self.sent:
            self.sent = True
            with contextlib.suppress(OSError):
                self.connection.send((state, reason))


def describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _die_with_parent(parent: int) -> None:
    """Linux: this process gets SIGKILL when the supervisor dies, however it dies."""
    if sys.platform == "linux":
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(1)


@dataclass(frozen=True)
class Launch:
    """What a child is given: its plan, the settings, an API process's socket, its end of
    the pipe to the supervisor, the supervisor's pid and, for the first, the banner's note."""

    plan: ChildPlan
    settings: Settings
    sock: socket.socket | None
    connection: Connection
    parent: int
    banner: str | None


def _name_process(name: str) -> None:
    """Linux: ``ps -o comm`` and ``top`` show the child as ``cx-api-1``, ``cx-worker-2``."""
    with contextlib.suppress(OSError):
        Path("/proc/self/comm").write_text(f"cx-{name}"[:15])


def child_main(launch: Launch) -> None:
    """A child's life, from ``spawn`` to its exit."""
    plan, settings, sock, banner = launch.plan, launch.settings, launch.sock, launch.banner
    _die_with_parent(launch.parent)
    _name_process(plan.name)
    os.setpgid(0, 0)  # a terminal's Ctrl-C goes to the supervisor only
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from creatix.kit.logging import configure_logging  # noqa: PLC0415 (in the child)

    configure_logging(settings.log_level)
    reporter = Reporter(launch.connection, plan.name)
    try:
        if plan.role == "api":
            assert sock is not None
            _run_api(settings, sock, reporter, banner)
        else:
            asyncio.run(_run_worker(settings, plan.models, reporter))
    except BaseException as exc:
        reporter.failed(describe(exc))
        raise
    if not reporter.sent:
        reporter.failed("stopped before it was ready")
        sys.exit(3)


def _run_api(
    settings: Settings, sock: socket.socket, reporter: Reporter, banner: str | None
) -> None:
    import uvicorn  # noqa: PLC0415

    from creatix.app import create_app  # noqa: PLC0415
    from creatix.runtime import Runtime  # noqa: PLC0415

    def ready(runtime: Runtime) -> None:
        if banner is not None:
            from creatix.cli.serve import print_banner  # noqa: PLC0415

            print_banner(runtime, processes=banner)
        reporter.ready()

    api_only = settings.model_copy(update={"run_worker": False})
    app = create_app(api_only, on_ready=ready, migrate=False)
    lifespan = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def reporting(app: Any) -> AsyncIterator[Any]:
        try:
            async with lifespan(app) as state:
                yield state
        except Exception as exc:
            reporter.failed(describe(exc))
            raise

    app.router.lifespan_context = reporting
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=int(settings.drain_seconds),
    )
    server = uvicorn.Server(config)
    # uvicorn raises the signal it shut down for again when it is done: let that be quiet.
    signal.signal(signal.SIGTERM, lambda *_: None)
    server.run(sockets=[sock])
    if not server.started:
        reporter.failed("the API did not start")
        sys.exit(3)


async def _run_worker(settings: Settings, models: Sequence[str] | None, reporter: Reporter) -> None:
    from creatix.background import BackgroundWork  # noqa: PLC0415
    from creatix.runtime import Runtime  # noqa: PLC0415

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    runtime = Runtime.build(settings)
    try:
        background = BackgroundWork(runtime, worker=True, models=models)
        background.start()
        reporter.ready()
        try:
            await stop.wait()
        finally:
            await background.stop(settings.drain_seconds)
    finally:
        await runtime.close()


# --- in the supervisor -----------------------------------------------------------------


@dataclass
class _Child:
    plan: ChildPlan
    process: BaseProcess
    reports: Connection
    started_at: float
    ready: bool = False
    failures: int = 0


@dataclass
class StartFailure(Exception):
    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name} failed to start: {self.reason}"


@dataclass
class Supervisor:
    settings: Settings
    plans: list[ChildPlan]
    sockets: list[socket.socket]
    on_ready: Callable[[list[ChildPlan]], None] | None = None
    children: dict[str, _Child] = field(default_factory=dict)
    restarts: int = 0

    def __post_init__(self) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._stopping = False
        self._pending: dict[str, float] = {}
        self._reasons: dict[str, str] = {}

    def run(self) -> None:
        """Start every child, supervise them until SIGTERM/SIGINT, then drain them all;
        ``StartFailure`` when one fails before all are ready (the others are stopped)."""
        previous = {
            signum: signal.signal(signum, self._request_stop)
            for signum in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            for index, plan in enumerate(self.plans):
                self._start(plan, banner=processes_note(self.plans) if index == 0 else None)
            self._until_ready()
            if self.on_ready is not None and not self._stopping:
                self.on_ready(self.plans)
            while not self._stopping:
                self._watch(timeout=0.25)
        finally:
            self._drain()
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _request_stop(self, signum: int, frame: FrameType | None) -> None:
        self._stopping = True

    def _start(self, plan: ChildPlan, *, banner: str | None = None) -> None:
        reader, writer = self._context.Pipe(duplex=False)
        sock = self.sockets[plan.slot] if plan.role == "api" else None
        process = self._context.Process(
            target=child_main,
            name=f"creatix {plan.name}",
            args=(Launch(plan, self.settings, sock, writer, os.getpid(), banner),),
            daemon=False,
        )
        process.start()
        writer.close()
        self.children[plan.name] = _Child(plan, process, reader, time.monotonic())

    def _until_ready(self) -> None:
        while not self._stopping and not all(c.ready for c in self.children.values()):
            for child in self._events(timeout=0.25):
                if not child.ready:
                    raise StartFailure(child.plan.name, self._reason(child))

    def _events(self, timeout: float) -> list[_Child]:
        """Read the children's reports; the children that failed or died."""
        watched = [c for c in self.children.values() if c.plan.name not in self._pending]
        handles: list[Any] = []
        for child in watched:
            handles += [child.reports, child.process.sentinel]
        done = set(wait(handles, timeout)) if handles else set()
        if not handles:
            time.sleep(timeout)
        broken = []
        for child in watched:
            if child.reports in done:
                state = self._read(child)
                if state == "ready":
                    child.ready = True
                    if child.failures:
                        log.info("%s is back", child.plan.name)
                elif state == "failed":
                    broken.append(child)
                    continue
            if child.process.sentinel in done and not child.process.is_alive():
                broken.append(child)
        return broken

    def _read(self, child: _Child) -> str | None:
        try:
            state, reason = child.reports.recv()
        except (EOFError, OSError):
            return None
        if state == "failed":
            child.process.join(5)
            self._reasons[child.plan.name] = reason
        return str(state)

    def _reason(self, child: _Child) -> str:
        reason = self._reasons.get(child.plan.name)
        if reason:
            return reason
        child.process.join(5)
        return f"it exited with code {child.process.exitcode} before it was ready"

    def _watch(self, timeout: float) -> None:
        now = time.monotonic()
        for name, due in list(self._pending.items()):
            if now >= due:
                del self._pending[name]
                self._restart(name)
        for child in self._events(timeout):
            if self._stopping or child.plan.name in self._pending:
                continue
            self._schedule_restart(child)

    def _schedule_restart(self, child: _Child) -> None:
        name = child.plan.name
        lived = time.monotonic() - child.started_at
        child.failures = 0 if lived >= STABLE_SECONDS else child.failures + 1
        delay = 0.0
        if child.failures:
            base, cap = RESTART_BACKOFF
            delay = min(cap, base * 2 ** (child.failures - 1))
        why = self._reasons.pop(name, None) or f"exit code {child.process.exitcode}"
        log.error("%s stopped (%s); starting it again in %.1f s", name, why, delay)
        if child.process.is_alive():
            child.process.kill()
        child.process.join(5)
        child.reports.close()
        self._pending[name] = time.monotonic() + delay

    def _restart(self, name: str) -> None:
        old = self.children[name]
        self._start(old.plan)
        self.children[name].failures = old.failures
        self.restarts += 1

    def _drain(self) -> None:
        """Stop the API processes (requests in flight finish), then the workers (running
        jobs finish or go back to the queue); kill what outlives its grace."""
        self._stopping = True
        for sock in {id(s): s for s in self.sockets}.values():
            with contextlib.suppress(OSError):
                sock.close()
        grace = self.settings.drain_seconds + 10
        for role in ("api", "worker"):
            group = [c for c in self.children.values() if c.plan.role == role]
            for child in group:
                if child.process.is_alive():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(child.process.pid or 0, signal.SIGTERM)
            deadline = time.monotonic() + grace
            for child in group:
                child.process.join(max(0.0, deadline - time.monotonic()))
                if child.process.is_alive():
                    log.error("%s did not stop in %.0f s; killing it", child.plan.name, grace)
                    child.process.kill()
                    child.process.join(5)
                child.reports.close()
