"""The server's model settings: custom models and stored provider API keys (encrypted).

- `custom_models`: models added by name (`/api/llm/custom-models`), their key encrypted.
- `provider_keys`: one encrypted API key per provider (`/api/llm/key`).

Revision ID: 0007_llm_custom_models_keys
Revises: 0006_custom_prompts
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_llm_custom_models_keys"
down_revision = "0006_custom_prompts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "custom_models",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("body", sa.JSON, nullable=False),
        sa.Column("api_key", sa.Text),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "provider_keys",
        sa.Column("provider", sa.String(64), primary_key=True),
        sa.Column("ciphertext", sa.Text, nullable=False),
        sa.Column("hint", sa.String(16)),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("updated_by", sa.String(100)),
    )


def downgrade() -> None:
    op.drop_table("provider_keys")
    op.drop_table("custom_models")
