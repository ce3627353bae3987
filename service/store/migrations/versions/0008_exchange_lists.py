"""exchanged signatory lists (publications to the peer, versions received from it) and
webhooks per API key (with their deliveries)

Revision ID: 0008_exchange_lists
Revises: 0007_issuance_journal
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import signing.db

revision = "0008_exchange_lists"
down_revision = "0007_issuance_journal"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exchange_list_publications",
        sa.Column("authority", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("party", sa.String(length=2), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", signing.db.UTCDateTime(), nullable=False),
        sa.Column("created_at", signing.db.UTCDateTime(), nullable=False),
        sa.Column("sent_at", signing.db.UTCDateTime(), nullable=True),
        sa.Column("received_at", signing.db.UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("authority", "version"),
    )
    op.create_index(
        "ix_exchange_list_publications_due",
        "exchange_list_publications",
        ["status", "next_attempt_at"],
        unique=False,
    )
    op.create_table(
        "exchange_received_lists",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("party", sa.String(length=2), nullable=False),
        sa.Column("authority", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=False),
        sa.Column("generated_at", signing.db.UTCDateTime(), nullable=False),
        sa.Column("received_at", signing.db.UTCDateTime(), nullable=False),
        sa.Column("signatory_id", sa.String(length=64), nullable=False),
        sa.Column("snapshot", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("authority", "version", name="uq_exchange_received_list"),
    )
    op.create_table(
        "exchange_webhooks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("api_key_id", sa.String(length=16), nullable=False),
        sa.Column("authority", sa.String(length=32), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("created_at", signing.db.UTCDateTime(), nullable=False),
        sa.Column("removed_at", signing.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_keys.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_exchange_webhooks_api_key_id", "exchange_webhooks", ["api_key_id"], unique=False
    )
    op.create_index(
        "ix_exchange_webhooks_authority", "exchange_webhooks", ["authority"], unique=False
    )
    op.create_table(
        "exchange_webhook_deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("webhook_id", sa.String(length=36), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", signing.db.UTCDateTime(), nullable=False),
        sa.Column("created_at", signing.db.UTCDateTime(), nullable=False),
        sa.Column("finished_at", signing.db.UTCDateTime(), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["webhook_id"], ["exchange_webhooks.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_exchange_webhook_deliveries_due",
        "exchange_webhook_deliveries",
        ["status", "next_attempt_at"],
        unique=False,
    )
    op.create_index(
        "ix_exchange_webhook_deliveries_webhook_id",
        "exchange_webhook_deliveries",
        ["webhook_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        "ix_exchange_webhook_deliveries_webhook_id", table_name="exchange_webhook_deliveries"
    )
    op.drop_index("ix_exchange_webhook_deliveries_due", table_name="exchange_webhook_deliveries")
    op.drop_table("exchange_webhook_deliveries")
    op.drop_index("ix_exchange_webhooks_authority", table_name="exchange_webhooks")
    op.drop_index("ix_exchange_webhooks_api_key_id", table_name="exchange_webhooks")
    op.drop_table("exchange_webhooks")
    op.drop_table("exchange_received_lists")
    op.drop_index("ix_exchange_list_publications_due", table_name="exchange_list_publications")
    op.drop_table("exchange_list_publications")
