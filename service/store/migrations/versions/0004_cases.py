"""cases (Art. 8–10.3) and transfers to third parties (Art. 11.3)

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import signing.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("request_number", sa.String(length=64), nullable=False),
        sa.Column("requesting", sa.String(length=32), nullable=False),
        sa.Column("requested", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("created_at", signing.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", signing.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["documents.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id"),
        sa.UniqueConstraint("request_number"),
    )
    op.create_index(op.f("ix_cases_requested"), "cases", ["requested"], unique=False)
    op.create_index(op.f("ix_cases_requesting"), "cases", ["requesting"], unique=False)
    op.create_table(
        "case_documents",
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"]),
        sa.PrimaryKeyConstraint("document_id"),
    )
    op.create_index(op.f("ix_case_documents_case_id"), "case_documents", ["case_id"], unique=False)
    op.create_table(
        "transfers",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("consent_id", sa.String(length=36), nullable=False),
        sa.Column("third_party", sa.String(length=500), nullable=False),
        sa.Column("authority", sa.String(length=32), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", signing.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["consent_id"], ["documents.id"]),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_transfers_document_id"), "transfers", ["document_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_transfers_document_id"), table_name="transfers")
    op.drop_table("transfers")
    op.drop_index(op.f("ix_case_documents_case_id"), table_name="case_documents")
    op.drop_table("case_documents")
    op.drop_index(op.f("ix_cases_requesting"), table_name="cases")
    op.drop_index(op.f("ix_cases_requested"), table_name="cases")
    op.drop_table("cases")
