"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from service.store.db import Database
from service.store.migrate import include_name, upgrade
from signing.db import Base


def test_migrations_match_the_models(database_url: str) -> None:
    database = Database(database_url)
    try:
        upgrade(database)
        upgrade(database)  # idempotent
        with database.engine.connect() as connection:
            diff = compare_metadata(
                MigrationContext.configure(connection, opts={"include_name": include_name}),
                Base.metadata,
            )
        assert diff == []
    finally:
        database.dispose()
