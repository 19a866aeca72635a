"""What every command group shares: the console, the common options, settings from flags,
refusals and errors, and running a piece of work against the database."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy import make_url

from creatix.catalog.loader import CatalogError, load_catalog
from creatix.catalog.schemas import Catalog
from creatix.config import Settings
from creatix.kit.db import Database
from creatix.kit.errors import CreatixError
from creatix.kit.migrate import upgrade_database

console = Console(soft_wrap=True)
notes = Console(stderr=True, soft_wrap=True, highlight=False)
"""What a command says beside its answer (stderr), so that --json keeps stdout one document."""
T = TypeVar("T")


def default_of(setting: str) -> str:
    """A setting's default, as ``--help`` shows it."""
    return str(Settings.model_fields[setting].default)


DataDir = Annotated[
    Path | None,
    typer.Option(
        help="Where the database and files live (env CREATIX_DATA_DIR); its parent must exist.",
        show_default=default_of("data_dir"),
    ),
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        help="sqlite:///… or postgresql://… (env CREATIX_DATABASE_URL).",
        show_default="sqlite:///DATA_DIR/creatix.db",
    ),
]
CatalogFile = Annotated[
    Path | None,
    typer.Option(
        "--catalog",
        help="A catalog YAML (env CREATIX_CATALOG).",
        show_default="the shipped catalog",
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of text.")]
AccountName = Annotated[str, typer.Argument(help="The account's name.")]


def settings_from(**overrides: Any) -> Settings:
    """Settings from the environment, with the flags that were given on top; refused when
    the data directory's parent does not exist (a typo would otherwise start an empty
    world there, whose keys answer 401 everywhere else)."""
    settings = Settings(**{key: value for key, value in overrides.items() if value is not None})
    parent = settings.data_dir.absolute().parent
    if not parent.is_dir():
        source = "--data-dir" if overrides.get("data_dir") is not None else "CREATIX_DATA_DIR"
        raise fail(
            escape(f"{source} {settings.data_dir}: its parent directory {parent} does not exist")
        )
    return settings


def redacted_database_url(settings: Settings) -> str:
    """The database URL for output: without its password, the default SQLite file's path
    absolute."""
    if settings.database_url is None:
        return f"sqlite:///{settings.data_dir.absolute() / 'creatix.db'}"
    return make_url(settings.database_url).render_as_string(hide_password=True)


def say_where(settings: Settings) -> None:
    """One line on stderr naming the data directory and database a change was made in."""
    notes.print(
        f"data dir {settings.data_dir.absolute()}, database {redacted_database_url(settings)}",
        markup=False,
    )


def fail(message: str) -> typer.Exit:
    """A refusal: ``error: …`` and exit 2."""
    console.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code=2)


def error(message: str) -> typer.Exit:
    """A command that could not do its work (not a refusal): ``error: …`` and exit 1."""
    console.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    return typer.Exit(code=1)


def catalog_of(settings: Settings) -> Catalog:
    try:
        return load_catalog(settings.catalog)
    except CatalogError as exc:
        raise fail(str(exc)) from exc


def check_plan(loaded: Catalog, plan: str) -> str:
    if loaded.plan(plan) is None:
        raise fail(f"unknown plan {plan!r}; plans: {', '.join(p.id for p in loaded.plans)}")
    return plan


def with_db(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """Migrate the database, then run ``work`` on it; a ``CreatixError`` is a refusal."""
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
        raise fail(exc.message) from exc
