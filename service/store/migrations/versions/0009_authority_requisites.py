"""registry: letterhead requisites of an authority, role, act and contacts of a signatory

Issue 12: the letterhead (state-language name, postal address, phone, e-mail) and the
signer of the list of Art. 9.3 come from the versioned registry; each signatory carries
role, authorising act and contacts.  All columns are nullable: versions recorded before
have none.

Revision ID: 0009_authority_requisites
Revises: 0007_issuance_journal
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_authority_requisites"
down_revision = "0011_timestamps"
branch_labels = None
depends_on = None

AUTHORITY_COLUMNS = (
    ("name_state", 500),
    ("address_ru", 500),
    ("phone", 100),
    ("email", 200),
    ("list_signatory_id", 100),
)
SIGNATORY_COLUMNS = (("role", 32), ("act_ru", 300), ("phone", 100), ("email", 200))


def upgrade() -> None:
    with op.batch_alter_table("authority_versions") as batch:
        for name, length in AUTHORITY_COLUMNS:
            batch.add_column(sa.Column(name, sa.String(length=length), nullable=True))
    with op.batch_alter_table("signatory_versions") as batch:
        for name, length in SIGNATORY_COLUMNS:
            batch.add_column(sa.Column(name, sa.String(length=length), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("signatory_versions") as batch:
        for name, _ in reversed(SIGNATORY_COLUMNS):
            batch.drop_column(name)
    with op.batch_alter_table("authority_versions") as batch:
        for name, _ in reversed(AUTHORITY_COLUMNS):
            batch.drop_column(name)
