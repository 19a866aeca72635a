"""``creatix serve`` (the API, and a worker unless told otherwise) and ``creatix worker``."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import signal
from collections.abc import Iterator
from typing import Annotated

import typer
import uvicorn
from rich.table import Table

from creatix import __version__
from creatix.app import create_app
from creatix.background import BackgroundWork
from creatix.catalog.loader import CatalogError, load_catalog
from creatix.catalog.schemas import Catalog
from creatix.cli.common import (
    CatalogFile,
    DatabaseUrl,
    DataDir,
    catalog_of,
    console,
    default_of,
    error,
    fail,
    redacted_database_url,
    settings_from,
)
from creatix.config import Settings
from creatix.kit.logging import configure_logging
from creatix.kit.migrate import upgrade_database
from creatix.kit.shared_counters import CounterHost
from creatix.provenance.credentials import DEVELOPMENT_FOLDER, CredentialsError
from creatix.runtime import Runtime, output_provenance
from creatix.supervisor import (
    MAX_WORKERS,
    ChildPlan,
    PortInUse,
    StartFailure,
    Supervisor,
    default_workers,
    listening_sockets,
    plan_children,
)

log = logging.getLogger(__name__)


def host_header_warning(settings: Settings) -> str | None:
    """Why serving with these settings is unsafe beyond this machine, if it is: off
    loopback, without CREATIX_PUBLIC_URL or CREATIX_TRUSTED_HOSTS, file links follow
    whatever Host header a request carries."""
    if settings.public_url or settings.trusted_hosts or _is_loopback(settings.host):
        return None
    return (
        f"listening on {settings.host} without CREATIX_PUBLIC_URL or CREATIX_TRUSTED_HOSTS: "
        "file links follow each request's Host header, which any client can set. Set "
        "CREATIX_PUBLIC_URL to the address clients use (or CREATIX_TRUSTED_HOSTS to the host "
        "names they may use) before exposing this server."
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve anywhere


def print_banner(runtime: Runtime, *, processes: str | None = None) -> None:
    """What ``serve`` says when it is ready; ``processes``: ``--workers``' processes (the
    banner is printed by the first API process, whose own worker is none)."""
    settings = runtime.settings
    url = f"http://{settings.host}:{settings.port}"
    console.print(f"[bold]Creatix {__version__}[/bold] listening on [cyan]{url}[/cyan]")
    console.print(f"  API docs   {url}/docs")
    console.print(f"  data       {settings.data_dir.resolve()}")
    console.print(f"  database   {redacted_database_url(settings)}", markup=False)
    if processes is not None:
        console.print(f"  processes  {processes}")
    else:
        slots = settings.worker_concurrency
        worker = f"in-process, {slots} slots" if settings.run_worker else "none"
        console.print(f"  worker     {worker}")
    if settings.allow_private_urls:
        console.print("  private URLs allowed (webhooks, image URLs; this server's own files)")
    console.print(f"  C2PA       {signing_note(runtime)}", markup=False)
    table = Table(title="Models", title_justify="left", show_edge=False)
    for column in ("model", "kind", "engine", "status"):
        table.add_column(column)
    for listed in runtime.models():
        status = "available" if listed.engine.available else f"unavailable: {listed.engine.reason}"
        engine = f"{listed.entry.engine} ({listed.engine.type})"
        table.add_row(listed.entry.id, listed.entry.kind, engine, status)
    console.print(table)
    console.print("  make a key  creatix keys create --account NAME --plan paid")


def signing_note(runtime: Runtime) -> str:
    identity = runtime.provenance.identity
    if not identity.development:
        return "outputs signed with CREATIX_C2PA_CERT"
    ca = runtime.settings.data_dir / DEVELOPMENT_FOLDER / "ca.pem"
    return (
        f"outputs signed with a DEVELOPMENT certificate (its CA: {ca}); set "
        "CREATIX_C2PA_CERT and CREATIX_C2PA_KEY for production"
    )


def check_signing_identity(settings: Settings) -> None:
    """Stop here, naming the setting, when the C2PA identity cannot be used: outputs are
    never silently unsigned."""
    try:
        output_provenance(settings).close()
    except CredentialsError as exc:
        raise fail(str(exc)) from exc


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) only listens on this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def for_listener(settings: Settings) -> Settings:
    """``settings`` with ``allow_private_urls`` derived from where ``serve`` listens, unless
    it was configured: a server on a loopback address with no public URL is a developer's,
    whose own file URLs and local webhook receivers are private addresses; anything else
    refuses them. (A reverse proxy in front of a loopback listener should set
    CREATIX_PUBLIC_URL, which keeps them refused.)"""
    if "allow_private_urls" in settings.model_fields_set:
        return settings
    local = is_loopback(settings.host) and settings.public_url is None
    return settings.model_copy(update={"allow_private_urls": local})


def serve(
    host: Annotated[
        str | None,
        typer.Option(
            help="Interface to listen on (env CREATIX_HOST).", show_default=default_of("host")
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(help="Port to listen on (env CREATIX_PORT).", show_default=default_of("port")),
    ] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    catalog: CatalogFile = None,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Serve the API only; run workers elsewhere.")
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            help=f"API processes on the port, 1 to {MAX_WORKERS} (env CREATIX_WORKERS); "
            "with more than 1, the engines run in worker processes of their own. "
            "1: the API and a worker in this one process.",
            show_default=f"the number of cores, at most {MAX_WORKERS}",
        ),
    ] = None,
) -> None:
    """Run the API (and, unless --no-worker, a worker): in this process with --workers 1,
    else in --workers API processes sharing the port and worker processes beside them,
    all supervised by this one (a crashed one is started again; SIGTERM or Ctrl-C drains
    them all).

    On a loopback address (and without CREATIX_PUBLIC_URL) webhooks and image URLs may reach
    private addresses, this server's own file URLs among them, unless
    CREATIX_ALLOW_PRIVATE_URLS says otherwise; on any other address they may not, unless it
    allows them."""
    settings = for_listener(
        settings_from(
            host=host,
            port=port,
            data_dir=data_dir,
            database_url=database_url,
            catalog=catalog,
            run_worker=False if no_worker else None,
            workers=workers,
        )
    )
    processes = api_processes(settings.workers)
    configure_logging(settings.log_level)
    try:
        loaded = load_catalog(settings.catalog)
    except CatalogError as exc:
        raise fail(str(exc)) from exc
    check_signing_identity(settings)
    warning = host_header_warning(settings)
    if warning is not None:
        log.warning(warning)
    if processes > 1:
        _supervise(settings, loaded, processes)
        return
    uvicorn.run(
        create_app(settings, on_ready=print_banner),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.drain_seconds),
    )


def api_processes(workers: int | None) -> int:
    """``--workers`` checked: 1 to ``MAX_WORKERS``, else a refusal naming the option; not
    given: one per core, at most ``MAX_WORKERS``."""
    if workers is None:
        return default_workers()
    if not 1 <= workers <= MAX_WORKERS:
        raise fail(
            f"--workers must be between 1 and {MAX_WORKERS} (got {workers}); "
            "more API processes than that: several servers behind a load balancer"
        )
    return workers


def _supervise(settings: Settings, loaded: Catalog, processes: int) -> None:
    """``serve --workers N``: what N children must not race at, done here once (the
    database migrated, the server id, URL-signing key and development CA made, the port
    bound), then the children, supervised until SIGTERM or Ctrl-C."""
    upgrade_database(settings.resolved_database_url)
    settings = settings.model_copy(
        update={
            "server_id": settings.resolved_server_id(),
            "secret_key": settings.resolved_secret_key(),
        }
    )
    try:
        sockets = listening_sockets(settings.host, settings.port, processes)
    except PortInUse as exc:
        raise error(str(exc)) from exc
    plans = plan_children(loaded, processes, run_worker=settings.run_worker)
    with _shared_counters(settings) as settings:
        supervisor = Supervisor(settings, plans, sockets, on_ready=_all_ready)
        try:
            supervisor.run()
        except StartFailure as exc:
            raise error(str(exc)) from exc


@contextlib.contextmanager
def _shared_counters(settings: Settings) -> Iterator[Settings]:
    """The settings the children get: unless the counters live elsewhere already (Redis), the
    API processes count rate limits and sign-in attempts in this process's counter host."""
    if settings.rate_limiter_uri != "memory://":
        yield settings
        return
    host = CounterHost()
    host.start()
    try:
        yield settings.model_copy(update={"rate_limit_storage": host.uri})
    finally:
        host.close()


def _all_ready(plans: list[ChildPlan]) -> None:
    console.print(
        f"all {len(plans)} processes ready (pid {os.getpid()} supervises them)",
        highlight=False,
    )


def worker(
    models: Annotated[
        str | None,
        typer.Option(help="Comma-separated catalog model ids to run.", show_default="every model"),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Batches run at once (env CREATIX_WORKER_CONCURRENCY); engines with their "
            "own concurrency, such as upstream providers, have their own.",
            show_default=default_of("worker_concurrency"),
        ),
    ] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    catalog: CatalogFile = None,
) -> None:
    """Run a worker (and a webhook deliverer) without the API, e.g. on a GPU host.

    SIGTERM or SIGINT drains it: it stops claiming, lets running jobs finish for up to
    CREATIX_DRAIN_SECONDS, gives the rest back to the queue, and exits."""
    settings = settings_from(
        data_dir=data_dir,
        database_url=database_url,
        catalog=catalog,
        worker_concurrency=concurrency,
    )
    configure_logging(settings.log_level)
    loaded = catalog_of(settings)
    chosen = [model.strip() for model in models.split(",") if model.strip()] if models else None
    unknown = [model for model in chosen or [] if loaded.model(model) is None]
    if unknown:
        raise fail(f"unknown model(s) {', '.join(unknown)}")
    check_signing_identity(settings)
    upgrade_database(settings.resolved_database_url)
    asyncio.run(_work(settings, chosen))


async def _work(settings: Settings, models: list[str] | None) -> None:
    runtime = Runtime.build(settings)
    background = BackgroundWork(runtime, worker=True, models=models)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    background.start()
    console.print(
        f"creatix worker {background.worker.id if background.worker else ''} running "
        f"{', '.join(models) if models else 'every model'}",
        highlight=False,
    )
    console.print(f"C2PA: {signing_note(runtime)}", markup=False, highlight=False)
    try:
        await stop.wait()
    finally:
        await background.stop(settings.drain_seconds)
        await runtime.close()
