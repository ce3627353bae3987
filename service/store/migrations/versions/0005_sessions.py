"""server-side officer sessions and the login throttle (issue 10 item 8)

Revision ID: 0005_sessions
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import signing.db

revision = "0005_sessions"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "officer_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("created_at", signing.db.UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", signing.db.UTCDateTime(), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["username"], ["officers.username"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_officer_sessions_username"), "officer_sessions", ["username"], unique=False
    )
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", signing.db.UTCDateTime(), nullable=False),
        sa.Column("blocked_until", signing.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("login_throttle")
    op.drop_index(op.f("ix_officer_sessions_username"), table_name="officer_sessions")
    op.drop_table("officer_sessions")
