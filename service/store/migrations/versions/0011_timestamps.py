"""timestamp renewals: every archive timestamp added to a stored document (issue 14)

A renewed document gets new bytes (an incremental update); the row keeps the newest
hash and this table the earlier ones, so copies handed out before a renewal are still
recognised as this service's documents.

Revision ID: 0011_timestamps
Revises: 0007_issuance_journal
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import signing.db

revision = "0011_timestamps"
down_revision = "0012_blob_storage"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "timestamp_renewals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("previous_sha256", sa.String(length=64), nullable=False),
        sa.Column("new_sha256", sa.String(length=64), nullable=False),
        sa.Column("previous_tsa_not_after", signing.db.UTCDateTime(), nullable=False),
        sa.Column("renewed_at", signing.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_timestamp_renewals_previous_sha256", "timestamp_renewals", ["previous_sha256"]
    )
    op.create_index("ix_timestamp_renewals_document_id", "timestamp_renewals", ["document_id"])


def downgrade() -> None:
    op.drop_index("ix_timestamp_renewals_document_id", table_name="timestamp_renewals")
    op.drop_index("ix_timestamp_renewals_previous_sha256", table_name="timestamp_renewals")
    op.drop_table("timestamp_renewals")
