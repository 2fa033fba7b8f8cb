"""Drop the `memories` table: created by every database before migrations, never used (the
memories feature will bring its own table in its own migration).

Revision ID: 0002_drop_memories
Revises: 0001_baseline
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_drop_memories"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("memories"):
        op.drop_table("memories")


def downgrade() -> None:
    op.create_table(
        "memories",
        sa.Column("agent_id", sa.String(100), primary_key=True),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("tags", sa.JSON),
        sa.Column("metadata", sa.JSON),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
