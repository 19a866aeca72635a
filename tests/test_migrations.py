"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

import creatix.accounts.models
import creatix.billing.models
import creatix.jobs.models
import creatix.uploads.models
import creatix.webhooks.models  # noqa: F401  (registers the tables on Base.metadata)
from creatix.kit.db import Base, sync_url
from creatix.kit.migrate import upgrade_database
from support import drop_postgres_database, postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'creatix.db'}"
        return
    url = postgres_database()
    if url is None:
        pytest.skip("no PostgreSQL reachable")
    try:
        yield url
    finally:
        drop_postgres_database(url)


def test_migrations_at_head_match_the_models(database_url: str) -> None:
    upgrade_database(database_url)
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert differences == []
