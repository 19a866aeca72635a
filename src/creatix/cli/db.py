"""``creatix db``: database migrations."""

from __future__ import annotations

import typer

from creatix.cli.common import DatabaseUrl, DataDir, console, settings_from
from creatix.kit.migrate import upgrade_database

app = typer.Typer(no_args_is_help=True, help="Database migrations.")


@app.command("upgrade")
def db_upgrade(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Migrate the database to the newest schema."""
    settings = settings_from(data_dir=data_dir, database_url=database_url)
    upgrade_database(settings.resolved_database_url)
    console.print(f"Database at {settings.resolved_database_url} is up to date.")
