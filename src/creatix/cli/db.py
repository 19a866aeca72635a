"""``creatix db``: database migrations."""

from __future__ import annotations

import json

import typer

from creatix.cli.common import (
    AsJson,
    DatabaseUrl,
    DataDir,
    console,
    redacted_database_url,
    settings_from,
)
from creatix.kit.migrate import upgrade_database

app = typer.Typer(no_args_is_help=True, help="Database migrations.")


@app.command("upgrade")
def db_upgrade(
    as_json: AsJson = False, data_dir: DataDir = None, database_url: DatabaseUrl = None
) -> None:
    """Migrate the database to the newest schema."""
    settings = settings_from(data_dir=data_dir, database_url=database_url)
    upgrade_database(settings.resolved_database_url)
    database = redacted_database_url(settings)
    if as_json:
        print(json.dumps({"database": database, "up_to_date": True}))
        return
    console.print(f"Database at {database} is up to date.", highlight=False, markup=False)
