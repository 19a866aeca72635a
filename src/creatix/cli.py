"""The ``creatix`` command: serve, manage keys, migrate. Scripts rely on this contract."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import uvicorn
from rich.console import Console
from rich.table import Table

from creatix import __version__
from creatix.accounts import service as accounts
from creatix.accounts.schemas import AccountInfo, NewKey
from creatix.app import create_app
from creatix.catalog.loader import CatalogError, load_catalog
from creatix.config import Settings
from creatix.kit.db import Database
from creatix.kit.errors import CreatixError
from creatix.kit.logging import configure_logging
from creatix.kit.migrate import upgrade_database
from creatix.runtime import Runtime

app = typer.Typer(no_args_is_help=True, help="Creatix: self-hosted creative generation.")
keys_app = typer.Typer(no_args_is_help=True, help="Create, list and revoke API keys.")
db_app = typer.Typer(no_args_is_help=True, help="Database migrations.")
app.add_typer(keys_app, name="keys")
app.add_typer(db_app, name="db")
console = Console(soft_wrap=True)
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


def _settings(**overrides: Any) -> Settings:
    return Settings(**{key: value for key, value in overrides.items() if value is not None})


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code=2)


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
    uvicorn.run(
        create_app(settings, on_ready=print_banner),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
    )


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
    loaded = load_catalog(settings.catalog)
    if plan is not None and loaded.plan(plan) is None:
        raise _fail(f"unknown plan {plan!r}; plans: {', '.join(p.id for p in loaded.plans)}")

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


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Migrate the database to the newest schema."""
    settings = _settings(data_dir=data_dir, database_url=database_url)
    upgrade_database(settings.resolved_database_url)
    console.print(f"Database at {settings.resolved_database_url} is up to date.")


def main() -> None:
    app()
