"""exchange between the Parties: peer node, outbox deliveries, incoming documents

Revision ID: 0006_exchange
Revises: 0005_sessions
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import signing.db

revision = "0006_exchange"
down_revision = "0005_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exchange_peers",
        sa.Column("party", sa.String(length=2), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("trust_roots_pem", sa.Text(), nullable=False),
        sa.Column("node_cert_pem", sa.Text(), nullable=False),
        sa.Column("node_cert_sha256", sa.String(length=64), nullable=False),
        sa.Column("added_at", signing.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("party"),
        sa.UniqueConstraint("node_cert_sha256"),
    )
    op.create_table(
        "exchange_deliveries",
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("party", sa.String(length=2), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", signing.db.UTCDateTime(), nullable=False),
        sa.Column("created_at", signing.db.UTCDateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("finished_at", signing.db.UTCDateTime(), nullable=True),
        sa.Column("receipt_sha256", sa.String(length=64), nullable=True),
        sa.Column("received_at", signing.db.UTCDateTime(), nullable=True),
        sa.Column("incoming_number", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"]),
        sa.PrimaryKeyConstraint("document_id"),
    )
    op.create_index(
        "ix_exchange_deliveries_due",
        "exchange_deliveries",
        ["status", "next_attempt_at"],
        unique=False,
    )
    op.create_table(
        "exchange_incoming",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("sender_number", sa.String(length=64), nullable=False),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=False),
        sa.Column("recipient", sa.String(length=32), nullable=False),
        sa.Column("incoming_number", sa.String(length=64), nullable=False),
        sa.Column("received_at", signing.db.UTCDateTime(), nullable=False),
        sa.Column("receipt_sha256", sa.String(length=64), nullable=False),
        sa.Column("indication", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"]),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("document_id"),
        sa.UniqueConstraint("incoming_number"),
        sa.UniqueConstraint("sender_number", "pdf_sha256", name="uq_exchange_incoming_sender_sha"),
    )
    op.create_index(
        "ix_exchange_incoming_recipient_seq",
        "exchange_incoming",
        ["recipient", "seq"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_exchange_incoming_recipient_seq", table_name="exchange_incoming")
    op.drop_table("exchange_incoming")
    op.drop_index("ix_exchange_deliveries_due", table_name="exchange_deliveries")
    op.drop_table("exchange_deliveries")
    op.drop_table("exchange_peers")
