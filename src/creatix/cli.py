"""The ``creatix`` command: serve, manage keys, accounts and credits, list and pull models,
migrate.

Scripts rely on this contract: every command exits 2 with ``error: …`` when it is refused,
and with ``--json`` prints exactly one JSON document on stdout.
"""

from __future__ import annotations

import asyncio
import difflib
import ipaddress
import json
import logging
import signal
from collections.abc import Awaitable, Callable, Collection
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import uvicorn
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from creatix import __version__
from creatix.accounts import service as accounts
from creatix.accounts.schemas import AccountInfo, NewKey
from creatix.app import create_app
from creatix.background import BackgroundWork
from creatix.billing import service as billing
from creatix.billing.schemas import CreditStatement
from creatix.catalog.loader import CatalogError, load_catalog
from creatix.catalog.schemas import Catalog, ModelEntry, Route
from creatix.config import Settings
from creatix.engines.base import PullError, PullsWeights
from creatix.engines.registry import TAKES_MODELS_DIR, Engine, EngineRegistry
from creatix.kit.db import Database
from creatix.kit.errors import CreatixError, Unavailable
from creatix.kit.logging import configure_logging
from creatix.kit.migrate import upgrade_database
from creatix.runtime import Runtime, engine_context
from creatix.webhooks import service as webhooks
from creatix.webhooks.schemas import DeliveryInfo

app = typer.Typer(no_args_is_help=True, help="Creatix: self-hosted creative generation.")
keys_app = typer.Typer(no_args_is_help=True, help="Create, list and revoke API keys.")
accounts_app = typer.Typer(no_args_is_help=True, help="Create, list and change accounts.")
credits_app = typer.Typer(no_args_is_help=True, help="Grant credits and show balances.")
db_app = typer.Typer(no_args_is_help=True, help="Database migrations.")
webhooks_app = typer.Typer(no_args_is_help=True, help="Webhook signing secrets and delivery logs.")
models_app = typer.Typer(
    no_args_is_help=True, help="List the catalog's models and pull their weights."
)
app.add_typer(keys_app, name="keys")
app.add_typer(accounts_app, name="accounts")
app.add_typer(credits_app, name="credits")
app.add_typer(db_app, name="db")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(models_app, name="models")
console = Console(soft_wrap=True)
log = logging.getLogger(__name__)
T = TypeVar("T")

DataDir = Annotated[
    Path | None, typer.Option(help="Where the database and files live [env CREATIX_DATA_DIR].")
]
DatabaseUrl = Annotated[
    str | None, typer.Option(help="sqlite:///… or postgresql://… [env CREATIX_DATABASE_URL].")
]
CatalogFile = Annotated[
    Path | None, typer.Option("--catalog", help="A catalog YAML [env CREATIX_CATALOG].")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
AccountName = Annotated[str, typer.Argument(help="The account's name.")]


def _settings(**overrides: Any) -> Settings:
    return Settings(**{key: value for key, value in overrides.items() if value is not None})


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code=2)


def _catalog(settings: Settings) -> Catalog:
    try:
        return load_catalog(settings.catalog)
    except CatalogError as exc:
        raise _fail(str(exc)) from exc


def _check_plan(loaded: Catalog, plan: str) -> str:
    if loaded.plan(plan) is None:
        raise _fail(f"unknown plan {plan!r}; plans: {', '.join(p.id for p in loaded.plans)}")
    return plan


def _with_db(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    upgrade_database(settings.resolved_database_url)

    async def run() -> T:
        db = Database(settings.resolved_database_url)
        try:
            return await work(db)
        finally:
            await db.dispose()

    try:
        return asyncio.run(run())
    except CreatixError as exc:
        raise _fail(exc.message) from exc


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


def print_banner(runtime: Runtime) -> None:
    settings = runtime.settings
    url = f"http://{settings.host}:{settings.port}"
    console.print(f"[bold]Creatix {__version__}[/bold] listening on [cyan]{url}[/cyan]")
    console.print(f"  API docs   {url}/docs")
    console.print(f"  data       {settings.data_dir.resolve()}")
    console.print(f"  database   {settings.resolved_database_url}")
    worker = f"in-process, {settings.worker_concurrency} slots" if settings.run_worker else "none"
    console.print(f"  worker     {worker}")
    table = Table(title="Models", title_justify="left", show_edge=False)
    for column in ("model", "kind", "engine", "status"):
        table.add_column(column)
    for listed in runtime.models():
        status = "available" if listed.engine.available else f"unavailable: {listed.engine.reason}"
        engine = f"{listed.entry.engine} ({listed.engine.type})"
        table.add_row(listed.entry.id, listed.entry.kind, engine, status)
    console.print(table)
    console.print("  make a key  creatix keys create --account NAME --plan free")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    catalog: CatalogFile = None,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Serve the API only; run workers elsewhere.")
    ] = False,
) -> None:
    """Run the API (and, unless --no-worker, a worker) in this process."""
    settings = _settings(
        host=host,
        port=port,
        data_dir=data_dir,
        database_url=database_url,
        catalog=catalog,
        run_worker=False if no_worker else None,
    )
    configure_logging(settings.log_level)
    try:
        load_catalog(settings.catalog)
    except CatalogError as exc:
        raise _fail(str(exc)) from exc
    warning = host_header_warning(settings)
    if warning is not None:
        log.warning(warning)
    uvicorn.run(
        create_app(settings, on_ready=print_banner),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.drain_seconds),
    )


@app.command()
def worker(
    models: Annotated[
        str | None,
        typer.Option(help="Comma-separated catalog model ids to run (default: every model)."),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Batches run at once (engines with their own "
            "concurrency, such as upstream providers, have their own).",
        ),
    ] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    catalog: CatalogFile = None,
) -> None:
    """Run a worker (and a webhook deliverer) without the API, e.g. on a GPU host.

    SIGTERM or SIGINT drains it: it stops claiming, lets running jobs finish for up to
    CREATIX_DRAIN_SECONDS, gives the rest back to the queue, and exits."""
    settings = _settings(
        data_dir=data_dir,
        database_url=database_url,
        catalog=catalog,
        worker_concurrency=concurrency,
    )
    configure_logging(settings.log_level)
    loaded = _catalog(settings)
    chosen = [model.strip() for model in models.split(",") if model.strip()] if models else None
    unknown = [model for model in chosen or [] if loaded.model(model) is None]
    if unknown:
        raise _fail(f"unknown model(s) {', '.join(unknown)}")
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
    try:
        await stop.wait()
    finally:
        await background.stop(settings.drain_seconds)
        await runtime.close()


@keys_app.command("create")
def keys_create(
    account: Annotated[str, typer.Option(help="The account; created if it does not exist.")],
    plan: Annotated[
        str | None, typer.Option(help="Put the account on this plan (free, paid, unlimited).")
    ] = None,
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    catalog: CatalogFile = None,
) -> None:
    """Create a key; its secret is printed this once and stored only hashed."""
    settings = _settings(data_dir=data_dir, database_url=database_url, catalog=catalog)
    loaded = _catalog(settings)
    if plan is not None:
        _check_plan(loaded, plan)

    async def work(db: Database) -> tuple[AccountInfo, NewKey]:
        info = await accounts.ensure_account(db, account, plan, loaded.default_plan)
        return info, await accounts.create_key(db, account)

    info, key = _with_db(settings, work)
    if as_json:
        print(json.dumps({**key.model_dump(mode="json"), "plan": info.plan}))
        return
    console.print(f"Created key [bold]{key.key_id}[/bold] for {info.name} (plan {info.plan}).")
    console.print("Store the secret now; it is not shown again:")
    console.print(f"  [green]{key.secret}[/green]", highlight=False)


@keys_app.command("list")
def keys_list(
    account: Annotated[str | None, typer.Option(help="Only this account's keys.")] = None,
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """List keys (never their secrets)."""
    settings = _settings(data_dir=data_dir, database_url=database_url)
    keys = _with_db(settings, lambda db: accounts.list_keys(db, account))
    if as_json:
        print(json.dumps([key.model_dump(mode="json") for key in keys]))
        return
    table = Table("key id", "account", "starts with", "created", "revoked")
    for key in keys:
        revoked = f"{key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else ""
        table.add_row(
            key.key_id,
            key.account,
            key.display_prefix + "…",
            f"{key.created_at:%Y-%m-%d %H:%M}",
            revoked,
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key id, as `keys list` shows it.")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke a key; requests with it get 401 from now on."""
    settings = _settings(data_dir=data_dir, database_url=database_url)
    _with_db(settings, lambda db: accounts.revoke_key(db, key_id))
    console.print(f"Revoked {key_id}.")


def _print_account(verb: str, info: AccountInfo, as_json: bool) -> None:
    if as_json:
        print(json.dumps(info.model_dump(mode="json")))
        return
    unlimited = ", unlimited (not charged credits)" if info.unlimited else ""
    console.print(
        f"{verb} account [bold]{escape(info.name)}[/bold] ({info.id}): plan {info.plan}{unlimited}."
    )


@accounts_app.command("create")
def accounts_create(
    name: Annotated[str, typer.Argument(help="A name not yet taken.")],
    plan: Annotated[
        str | None, typer.Option(help="The plan; the catalog's default plan if not given.")
    ] = None,
    unlimited: Annotated[
        bool, typer.Option("--unlimited", help="Do not charge its generations credits.")
    ] = False,
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    catalog: CatalogFile = None,
) -> None:
    """Create an account; refused if the name is taken."""
    settings = _settings(data_dir=data_dir, database_url=database_url, catalog=catalog)
    loaded = _catalog(settings)
    chosen = loaded.default_plan if plan is None else _check_plan(loaded, plan)
    info = _with_db(
        settings, lambda db: accounts.create_account(db, name, chosen, unlimited=unlimited)
    )
    _print_account("Created", info, as_json)


@accounts_app.command("list")
def accounts_list(
    as_json: AsJson = False, data_dir: DataDir = None, database_url: DatabaseUrl = None
) -> None:
    """List accounts by name."""
    settings = _settings(data_dir=data_dir, database_url=database_url)
    infos = _with_db(settings, accounts.list_accounts)
    if as_json:
        print(json.dumps([info.model_dump(mode="json") for info in infos]))
        return
    table = Table("name", "id", "plan", "unlimited", "created")
    for info in infos:
        table.add_row(
            escape(info.name),
            info.id,
            info.plan,
            "yes" if info.unlimited else "no",
            f"{info.created_at:%Y-%m-%d %H:%M}",
        )
    console.print(table)


@accounts_app.command("set-plan")
def accounts_set_plan(
    account: AccountName,
    plan: Annotated[str, typer.Argument(help="A plan from the catalog.")],
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    catalog: CatalogFile = None,
) -> None:
    """Move an account to another plan."""
    settings = _settings(data_dir=data_dir, database_url=database_url, catalog=catalog)
    _check_plan(_catalog(settings), plan)
    info = _with_db(settings, lambda db: accounts.update_account(db, account, plan=plan))
    _print_account("Updated", info, as_json)


@accounts_app.command("set-unlimited")
def accounts_set_unlimited(
    account: AccountName,
    off: Annotated[
        bool, typer.Option("--off", help="Clear the mark: charge credits again.")
    ] = False,
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Mark an account unlimited: its generations are not charged credits."""
    settings = _settings(data_dir=data_dir, database_url=database_url)
    info = _with_db(settings, lambda db: accounts.update_account(db, account, unlimited=not off))
    _print_account("Updated", info, as_json)


def _print_entries(statement: CreditStatement) -> None:
    table = Table("when", "kind", "amount", "job", "note")
    for entry in statement.entries:
        table.add_row(
            f"{entry.created_at:%Y-%m-%d %H:%M:%S}",
            entry.kind,
            f"{entry.amount:+d}",
            entry.job_id or "",
            escape(entry.note or ""),
        )
    console.print(table)


@credits_app.command("grant")
def credits_grant(
    account: AccountName,
    amount: Annotated[int, typer.Argument(min=1, help="Credits to add, a positive integer.")],
    note: Annotated[str | None, typer.Option(help="Why, kept in the ledger.")] = None,
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Add credits to an account's balance."""
    settings = _settings(data_dir=data_dir, database_url=database_url)
    statement = _with_db(settings, lambda db: billing.grant(db, account, amount, note))
    if as_json:
        print(json.dumps(statement.model_dump(mode="json")))
        return
    console.print(
        f"Granted {amount} credits to [bold]{escape(statement.account)}[/bold]; "
        f"balance now {statement.balance}."
    )


@credits_app.command("show")
def credits_show(
    account: AccountName,
    limit: Annotated[int, typer.Option(min=1, help="How many ledger entries, newest first.")] = 20,
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """An account's balance, lifetime totals and latest ledger entries."""
    settings = _settings(data_dir=data_dir, database_url=database_url)
    statement = _with_db(settings, lambda db: billing.statement(db, account, limit))
    if as_json:
        print(json.dumps(statement.model_dump(mode="json")))
        return
    console.print(f"[bold]{escape(statement.account)}[/bold]", highlight=False)
    console.print(f"  balance             {statement.balance}")
    console.print(f"  lifetime purchased  {statement.lifetime_purchased}")
    console.print(f"  lifetime used       {statement.lifetime_used}")
    console.print(f"  unlimited           {'yes' if statement.unlimited else 'no'}")
    _print_entries(statement)


@webhooks_app.command("secret")
def webhooks_secret(
    account: AccountName,
    rotate: Annotated[
        bool, typer.Option("--rotate", help="Replace it; the old secret stops verifying.")
    ] = False,
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Show the account's webhook signing secret (made on first use)."""
    settings = _settings(data_dir=data_dir, database_url=database_url)
    found = _with_db(settings, lambda db: webhooks.account_secret(db, account, rotate=rotate))
    if as_json:
        print(json.dumps(found.model_dump(mode="json")))
        return
    verb = "New signing secret" if rotate else "Signing secret"
    console.print(f"{verb} for [bold]{escape(found.account)}[/bold]:")
    console.print(f"  [green]{found.secret}[/green]", highlight=False)


def _print_delivery(delivery: DeliveryInfo) -> None:
    due = f", next attempt {delivery.next_attempt_at:%Y-%m-%d %H:%M:%S}"
    attempts = f"{delivery.attempts} attempt{'' if delivery.attempts == 1 else 's'}"
    console.print(
        f"[bold]{delivery.id}[/bold] {delivery.event_type} → {escape(delivery.url)}: "
        f"{delivery.status} after {attempts}{due if delivery.next_attempt_at else ''}",
        highlight=False,
    )
    table = Table("#", "when (UTC)", "result", "duration")
    for number, attempt in enumerate(delivery.attempt_log, start=1):
        result = str(attempt.status_code) if attempt.status_code is not None else ""
        table.add_row(
            str(number),
            f"{attempt.attempted_at:%Y-%m-%d %H:%M:%S}",
            escape(result or attempt.error or ""),
            f"{attempt.duration_ms} ms",
        )
    console.print(table)


@webhooks_app.command("deliveries")
def webhooks_deliveries(
    job_id: Annotated[str, typer.Argument(help="The job's id.")],
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """List a job's webhook deliveries and every attempt at them."""
    settings = _settings(data_dir=data_dir, database_url=database_url)
    deliveries = _with_db(settings, lambda db: webhooks.deliveries_of(db, job_id))
    if as_json:
        print(json.dumps([delivery.model_dump(mode="json") for delivery in deliveries]))
        return
    if not deliveries:
        console.print(f"Job {job_id} has no webhook deliveries.", highlight=False)
    for delivery in deliveries:
        _print_delivery(delivery)


WEIGHTS_MISSING = "missing"
WEIGHTS_PRESENT = "present"
WEIGHTS_UNKNOWN = "unknown"


def _error(message: str) -> typer.Exit:
    """A command that could not do its work (not a refusal): ``error: …`` and exit 1."""
    console.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    return typer.Exit(code=1)


def _engines(
    settings: Settings, loaded: Catalog, only: Collection[str] | None = None
) -> EngineRegistry:
    """The catalog's engines (or only the instances ``only``) started as ``serve`` starts
    them; an engine that fails to start is reported in the output, not as a logged traceback."""
    logging.getLogger("creatix.engines.registry").setLevel(logging.CRITICAL)
    engines = {
        instance: entry
        for instance, entry in loaded.engines.items()
        if only is None or instance in only
    }
    return EngineRegistry(engines, engine_context(settings))


def _running(registry: EngineRegistry, instance: str) -> Engine | None:
    try:
        return registry.engine(instance)
    except Unavailable:
        return None


def _weights(registry: EngineRegistry, route: Route) -> str | None:
    """present / missing for an engine that keeps weights (unknown when it did not start);
    None for an engine that has none."""
    engine = _running(registry, route.engine)
    if engine is None:
        kind = registry.status(route.engine).type
        return WEIGHTS_UNKNOWN if kind in TAKES_MODELS_DIR else None
    if not isinstance(engine, PullsWeights):
        return None
    problem = engine.unavailable_reason(route.engine_model)
    return WEIGHTS_PRESENT if problem is None else WEIGHTS_MISSING


def _listed_model(registry: EngineRegistry, entry: ModelEntry) -> dict[str, Any]:
    """A model as ``models list`` shows it: the route a new job would take (the primary one
    when none can), its weights, and whether the model can be served now."""
    status = registry.model_status(entry)
    routes = entry.routes()
    route = next((r for r in routes if r.engine == status.instance), routes[0])
    return {
        "id": entry.id,
        "kind": entry.kind.value,
        "engine": route.engine,
        "engine_type": status.type,
        "engine_model": route.engine_model,
        "weights": _weights(registry, route),
        "available": status.available,
        "reason": status.reason,
    }


@models_app.command("list")
def models_list(
    as_json: AsJson = False, data_dir: DataDir = None, catalog: CatalogFile = None
) -> None:
    """The catalog's models: engine, weights, and whether each can be served now (and why not)."""
    settings = _settings(data_dir=data_dir, catalog=catalog)
    loaded = _catalog(settings)
    registry = _engines(settings, loaded)
    try:
        rows = [_listed_model(registry, entry) for entry in loaded.models]
    finally:
        asyncio.run(registry.close())
    if as_json:
        print(json.dumps(rows))
        return
    table = Table()
    for column in ("model", "kind", "engine", "engine model", "weights", "available", "reason"):
        # Ids and paths are long words: folded onto more lines, never cut short.
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            escape(row["id"]),
            row["kind"],
            escape(f"{row['engine']} ({row['engine_type']})"),
            escape(row["engine_model"]),
            row["weights"] or "—",
            "yes" if row["available"] else "[red]no[/red]",
            escape(row["reason"] or ""),
        )
    console.print(table)
    console.print(f"  model cache  {settings.models_dir.resolve()}", highlight=False)
    if any(row["weights"] == WEIGHTS_MISSING for row in rows):
        flag = f" --catalog {catalog}" if catalog else ""
        console.print(f"  fetch missing weights  creatix models pull MODEL{flag}", highlight=False)


def _pullable(registry: EngineRegistry, entry: ModelEntry) -> list[tuple[Route, PullsWeights]]:
    """The model's routes whose engines keep weights, with those engines; exit 1 when none
    does (or the one that would is not running)."""
    found: list[tuple[Route, PullsWeights]] = []
    down: list[str] = []
    for route in entry.routes():
        engine = _running(registry, route.engine)
        status = registry.status(route.engine)
        if isinstance(engine, PullsWeights):
            found.append((route, engine))
        elif engine is None and status.type in TAKES_MODELS_DIR:
            down.append(
                f"engine {route.engine!r} ({status.type}) is not available: {status.reason}"
            )
    if found:
        return found
    if down:
        raise _error("; ".join(down))
    status = registry.status(entry.engine)
    raise _error(
        f"model {entry.id!r} runs on engine {entry.engine!r} ({status.type}), "
        "which has no weights to pull."
    )


@models_app.command("pull")
def models_pull(
    model: Annotated[str, typer.Argument(help="A catalog model id, as `models list` shows it.")],
    as_json: AsJson = False,
    data_dir: DataDir = None,
    catalog: CatalogFile = None,
) -> None:
    """Download a model's weights into the model cache (DATA_DIR/models) ahead of serving.

    Its engine_model must be a Hugging Face hub id (org/name); HF_TOKEN is used for gated and
    private repositories, HF_ENDPOINT names another hub.
    """
    settings = _settings(data_dir=data_dir, catalog=catalog)
    loaded = _catalog(settings)
    entry = loaded.model(model)
    if entry is None:
        close = difflib.get_close_matches(model, [m.id for m in loaded.models], n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise _fail(
            f"unknown model {model!r}{hint}; `creatix models list` shows the catalog's models"
        )
    registry = _engines(settings, loaded, only={route.engine for route in entry.routes()})
    pulled: list[dict[str, str]] = []
    try:
        for route, engine in _pullable(registry, entry):
            if not as_json:
                console.print(
                    f"Pulling {escape(route.engine_model)} for {escape(entry.id)}…",
                    highlight=False,
                )
            try:
                path = engine.pull(route.engine_model)
            except PullError as exc:
                raise _error(str(exc)) from exc
            pulled.append(
                {"engine": route.engine, "engine_model": route.engine_model, "path": str(path)}
            )
            if not as_json:
                console.print(
                    f"Weights of {escape(route.engine_model)} are at {escape(str(path))}.",
                    highlight=False,
                )
        status = registry.model_status(entry)
    finally:
        asyncio.run(registry.close())
    if as_json:
        body = {
            "model": entry.id,
            "pulled": pulled,
            "available": status.available,
            "reason": status.reason,
        }
        print(json.dumps(body))
        raise typer.Exit(code=0 if status.available else 1)
    if not status.available:
        raise _error(f"{entry.id} is still unavailable: {status.reason}")
    console.print(f"{escape(entry.id)} is available: creatix serve serves it.", highlight=False)


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Migrate the database to the newest schema."""
    settings = _settings(data_dir=data_dir, database_url=database_url)
    upgrade_database(settings.resolved_database_url)
    console.print(f"Database at {settings.resolved_database_url} is up to date.")


def main() -> None:
    app()
