"""blob storage in the database and the render-job queue (issue 15)

Revision ID: 0012_blob_storage
Revises: 0007_issuance_journal
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import signing.db

revision = "0012_blob_storage"
down_revision = "0010_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "blobs",
        sa.Column("key", sa.String(length=210), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("stored_at", signing.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "render_jobs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("authority", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("xml", sa.LargeBinary(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("due_at", signing.db.UTCDateTime(), nullable=False),
        sa.Column("document_id", sa.String(length=36), nullable=True),
        sa.Column("error_status", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", signing.db.UTCDateTime(), nullable=False),
        sa.Column("finished_at", signing.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_render_jobs_status_due", "render_jobs", ["status", "due_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_render_jobs_status_due", table_name="render_jobs")
    op.drop_table("render_jobs")
    op.drop_table("blobs")
