"""The cockpit: API tokens (only their hashes) and who did a step, on history rows.

Revision ID: 0004_cockpit_tokens_and_actor
Revises: 0003
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_cockpit_tokens_and_actor"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("history") as batch:
        batch.add_column(sa.Column("actor", sa.String(length=255), nullable=True))
    op.create_table(
        "api_tokens",
        sa.Column("name", sa.String(length=255), primary_key=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ux_api_tokens_hash", "api_tokens", ["token_hash"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_api_tokens_hash", table_name="api_tokens")
    op.drop_table("api_tokens")
    with op.batch_alter_table("history") as batch:
        batch.drop_column("actor")
