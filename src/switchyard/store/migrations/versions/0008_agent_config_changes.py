"""Agent configuration changes applied over HTTP, replayed by every replica.

- `agent_config_changes`: one row per change (`POST /api/agent/config`, `/api/agents/install`,
  `uninstall`, `switch`, `custom/create`), its `seq` the configuration version.

Revision ID: 0008_agent_config_changes
Revises: 0007_llm_custom_models_keys
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_agent_config_changes"
down_revision = "0007_llm_custom_models_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_config_changes",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("agent_id", sa.String(100), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("text", sa.Text),
        sa.Column("sha", sa.String(64)),
        sa.Column("replaced_sha", sa.String(64)),
        sa.Column("meta", sa.JSON),
        sa.Column("replica", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_agent_config_changes_agent", "agent_config_changes", ["agent_id", "seq"])


def downgrade() -> None:
    op.drop_index("ix_agent_config_changes_agent", table_name="agent_config_changes")
    op.drop_table("agent_config_changes")
