"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

import creatix.accounts.models
import creatix.adsets.models
import creatix.billing.models
import creatix.brands.models
import creatix.jobs.models
import creatix.people.models
import creatix.provenance.models
import creatix.uploads.models
import creatix.usage.models
import creatix.webhooks.models  # noqa: F401  (registers the tables on Base.metadata)
from creatix.kit.db import Base, sync_url
from creatix.kit.migrate import upgrade_database


def test_migrations_at_head_match_the_models(empty_database_url: str) -> None:
    upgrade_database(empty_database_url)
    engine = create_engine(sync_url(empty_database_url))
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert differences == []
