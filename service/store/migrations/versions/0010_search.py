"""search index of documents and officers' visits (issue 13)

``search_index`` holds, per document, the normalised words an officer searches by
(surnames in Cyrillic and Latin, passport numbers, the upstream documentId, the
registration number).  The full-text machinery is the database's own and is not
modelled in SQLAlchemy (see :data:`service.store.migrate.UNMODELLED`):

- PostgreSQL: a GIN index on ``to_tsvector('simple', terms)``;
- SQLite: an FTS5 table ``search_fts`` over ``search_index`` (external content), kept in
  step by triggers.

Existing documents are indexed lazily by :func:`service.domain.search.backfill` (their
XML is in storage, out of a migration's reach).

Revision ID: 0010_search
Revises: 0007_issuance_journal
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import signing.db

revision = "0010_search"
down_revision = "0008_exchange_lists"
branch_labels = None
depends_on = None

SQLITE_FTS = (
    "CREATE VIRTUAL TABLE search_fts USING fts5("
    "terms, content='search_index', content_rowid='rowid', tokenize='unicode61')",
    "CREATE TRIGGER search_index_ai AFTER INSERT ON search_index BEGIN "
    "INSERT INTO search_fts(rowid, terms) VALUES (new.rowid, new.terms); END",
    "CREATE TRIGGER search_index_ad AFTER DELETE ON search_index BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, terms) VALUES ('delete', old.rowid, old.terms); "
    "END",
    "CREATE TRIGGER search_index_au AFTER UPDATE ON search_index BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, terms) VALUES ('delete', old.rowid, old.terms); "
    "INSERT INTO search_fts(rowid, terms) VALUES (new.rowid, new.terms); END",
)


def upgrade() -> None:
    op.create_table(
        "search_index",
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("persons", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"]),
        sa.PrimaryKeyConstraint("document_id"),
    )
    op.create_table(
        "officer_visits",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("previous_at", signing.db.UTCDateTime(), nullable=True),
        sa.Column("current_at", signing.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["username"], ["officers.username"]),
        sa.PrimaryKeyConstraint("username"),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            "CREATE INDEX ix_search_index_tsv ON search_index "
            "USING gin (to_tsvector('simple', terms))"
        )
    elif dialect == "sqlite":
        for statement in SQLITE_FTS:
            op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("search_index_ai", "search_index_ad", "search_index_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS search_fts")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_search_index_tsv")
    op.drop_table("officer_visits")
    op.drop_table("search_index")
