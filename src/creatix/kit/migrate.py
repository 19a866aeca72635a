"""Alembic, driven from code: the embedded server and ``creatix db upgrade`` both call this."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import make_url

from creatix.kit.db import sync_url


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", "creatix:migrations")
    config.set_main_option(
        "sqlalchemy.url", sync_url(database_url).render_as_string(hide_password=False)
    )
    return config


def upgrade_database(database_url: str, revision: str = "head") -> None:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(database_url), revision)
