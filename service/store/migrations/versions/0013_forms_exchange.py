"""exchanged sample forms (Art. 9.3): publications to the peer, versions received from it

Revision ID: 0013_forms_exchange
Revises: 0009_authority_requisites
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import signing.db

revision = "0013_forms_exchange"
down_revision = "0009_authority_requisites"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exchange_form_publications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("document_type", sa.String(length=64), nullable=False),
        sa.Column("authority", sa.String(length=32), nullable=False),
        sa.Column("form_version", sa.String(length=16), nullable=False),
        sa.Column("signer", sa.String(length=200), nullable=False),
        sa.Column("signatory_id", sa.String(length=64), nullable=False),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=False),
        sa.Column("party", sa.String(length=2), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", signing.db.UTCDateTime(), nullable=False),
        sa.Column("created_at", signing.db.UTCDateTime(), nullable=False),
        sa.Column("sent_at", signing.db.UTCDateTime(), nullable=True),
        sa.Column("received_at", signing.db.UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "document_type",
            "authority",
            "form_version",
            "signer",
            name="uq_exchange_form_publication",
        ),
    )
    op.create_index(
        "ix_exchange_form_publications_due",
        "exchange_form_publications",
        ["status", "next_attempt_at"],
        unique=False,
    )
    op.create_table(
        "exchange_received_forms",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("party", sa.String(length=2), nullable=False),
        sa.Column("document_type", sa.String(length=64), nullable=False),
        sa.Column("authority", sa.String(length=32), nullable=False),
        sa.Column("form_version", sa.String(length=16), nullable=False),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=False),
        sa.Column("signatory_id", sa.String(length=64), nullable=False),
        sa.Column("signed_at", signing.db.UTCDateTime(), nullable=False),
        sa.Column("received_at", signing.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pdf_sha256", name="uq_exchange_received_form_sha"),
    )
    op.create_index(
        "ix_exchange_received_forms_form",
        "exchange_received_forms",
        ["document_type", "authority", "form_version"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_exchange_received_forms_form", table_name="exchange_received_forms")
    op.drop_table("exchange_received_forms")
    op.drop_index("ix_exchange_form_publications_due", table_name="exchange_form_publications")
    op.drop_table("exchange_form_publications")
