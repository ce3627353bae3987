"""issuance journal: numbers reserved, issued or void (issue 10 item 5)

Documents stored before the journal existed get an ``issued`` row each.

Revision ID: 0007_issuance_journal
Revises: 0006_exchange
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import signing.db

revision = "0007_issuance_journal"
down_revision = "0006_exchange"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "issuances",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("registration_number", sa.String(length=64), nullable=False),
        sa.Column("authority", sa.String(length=32), nullable=False),
        sa.Column("reg_year", sa.Integer(), nullable=False),
        sa.Column("reg_seq", sa.Integer(), nullable=False),
        sa.Column("upstream_id", sa.String(length=36), nullable=False),
        sa.Column("upstream_claim", sa.String(length=36), nullable=True),
        sa.Column("xml_sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("worker", sa.String(length=200), nullable=False),
        sa.Column("started_at", signing.db.UTCDateTime(), nullable=False),
        sa.Column("finished_at", signing.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("authority", "reg_year", "reg_seq", name="uq_issuances_number"),
        sa.UniqueConstraint("authority", "upstream_claim", name="uq_issuances_claim"),
        sa.UniqueConstraint("registration_number"),
    )
    op.create_index(
        "ix_issuances_status_started", "issuances", ["status", "started_at"], unique=False
    )
    op.execute(
        "INSERT INTO issuances (id, registration_number, authority, reg_year, reg_seq, "
        "upstream_id, upstream_claim, xml_sha256, status, reason, worker, started_at, "
        "finished_at) SELECT id, registration_number, sender, reg_year, reg_seq, upstream_id, "
        "upstream_id, xml_sha256, 'issued', NULL, 'migration 0005', created_at, created_at "
        "FROM documents"
    )


def downgrade() -> None:
    op.drop_index("ix_issuances_status_started", table_name="issuances")
    op.drop_table("issuances")
