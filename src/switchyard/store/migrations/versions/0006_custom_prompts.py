"""Custom prompts and stored files.

- `custom_prompts`: the prompts made with POST /api/prompts/custom, per agent, by name.
- `blobs`: files kept for an agent (a custom prompt's attached resource), read back as
  `blob:<id>` resources.

Revision ID: 0006_custom_prompts
Revises: 0005_workspaces_preferences
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_custom_prompts"
down_revision = "0005_workspaces_preferences"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "custom_prompts",
        sa.Column("agent_id", sa.String(100), primary_key=True),
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("title", sa.String(200)),
        sa.Column("description", sa.Text),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("arguments", sa.JSON),
        sa.Column("resource_uri", sa.String(100)),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "blobs",
        sa.Column("agent_id", sa.String(100), primary_key=True),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("mime_type", sa.String(200), nullable=False),
        sa.Column("original_name", sa.String(255)),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("blobs")
    op.drop_table("custom_prompts")
