"""bot: a version counter on conversations, so replicas never overwrite each other's turn

Revision ID: bot_0002
Revises: bot_0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "bot_0002"
down_revision = "bot_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "bot_conversations",
        sa.Column("version", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    with op.batch_alter_table("bot_conversations") as batch:
        batch.drop_column("version")
