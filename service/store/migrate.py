"""``migdocs db upgrade``: apply Alembic migrations programmatically."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect

from service.store.audit import ensure_head
from service.store.db import Database
from signing.db import Base

UNMODELLED = ("search_fts", "ix_search_index_tsv")
"""Database objects the migrations make but SQLAlchemy does not model: the full-text
machinery of :mod:`service.domain.search` (SQLite's FTS5 table and its shadow tables,
PostgreSQL's expression index).  Schema comparisons skip them."""


def include_name(name: str | None, type_: str, _parent: object) -> bool:
    """Alembic ``include_name`` hook: leave :data:`UNMODELLED` objects alone."""
    return not (name and name.startswith(UNMODELLED))


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.set_main_option("sqlalchemy.url", url)
    return config


def upgrade(database: Database) -> None:
    """Bring the schema to the newest revision and seed the rows every install needs.

    A database whose tables were made by :func:`signing.db.create_schema` (the signing
    library used on its own) has no Alembic version yet: it is completed with the missing
    tables and stamped as the newest revision instead of being migrated from scratch.
    """
    with database.engine.begin() as connection:
        config = alembic_config(database.url)
        config.attributes["connection"] = connection
        tables = set(inspect(connection).get_table_names())
        if "alembic_version" not in tables and tables & set(Base.metadata.tables):
            Base.metadata.create_all(connection)
            command.stamp(config, "head")
        else:
            command.upgrade(config, "head")
    with database.transaction() as session:
        ensure_head(session)
