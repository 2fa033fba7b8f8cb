"""Workspaces and per-key preferences (the model picker's recents and favorites).

Revision ID: 0005_workspaces_preferences
Revises: 0004_memories_search_context
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_workspaces_preferences"
down_revision = "0004_memories_search_context"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workspaces",
        sa.Column("agent_id", sa.String(100), primary_key=True),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("path", sa.String(1000), nullable=False),
        sa.Column("name", sa.String(200)),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("last_active_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("agent_id", "path", name="uq_workspaces_path"),
    )
    op.create_table(
        "preferences",
        sa.Column("agent_id", sa.String(100), primary_key=True),
        sa.Column("owner", sa.String(100), primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("preferences")
    op.drop_table("workspaces")
