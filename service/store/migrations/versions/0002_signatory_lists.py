"""signatory lists (Art. 9.3, 9.4): generated versions of the list of authorised signatories

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import signing.db

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signatory_lists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("authority", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("registry_sha256", sa.String(length=64), nullable=False),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=False),
        sa.Column("pdf_size", sa.Integer(), nullable=False),
        sa.Column("storage_key", sa.String(length=200), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("signatory_id", sa.String(length=100), nullable=True),
        sa.Column("signatory_name", sa.String(length=300), nullable=True),
        sa.Column("generated_at", signing.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("authority", "version", name="uq_signatory_lists_authority_version"),
    )
    op.create_index(
        op.f("ix_signatory_lists_authority"), "signatory_lists", ["authority"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_signatory_lists_authority"), table_name="signatory_lists")
    op.drop_table("signatory_lists")
