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

from creatix.catalog.loader import CatalogError, load_catalog
from creatix.catalog.schemas import Catalog
from creatix.config import Settings
from creatix.kit.db import Database
from creatix.kit.errors import CreatixError
from creatix.kit.migrate import upgrade_database

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
AccountName = Annotated[str, typer.Argument(help="The account's name.")]


def settings_from(**overrides: Any) -> Settings:
    """Settings from the environment, with the flags that were given on top."""
    return Settings(**{key: value for key, value in overrides.items() if value is not None})


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
