"""bot: the inbox, where every acknowledged event is written before it is processed

Revision ID: durable_0001
Revises: bot_0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "durable_0001"
down_revision = "bot_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bot_inbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("message", sa.JSON(), nullable=False),
        sa.Column("replies", sa.JSON(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("channel", "key", name="uq_bot_inbox_key"),
    )
    op.create_index("ix_bot_inbox_due", "bot_inbox", ["state", "lease_until"])


def downgrade() -> None:
    op.drop_index("ix_bot_inbox_due", table_name="bot_inbox")
    op.drop_table("bot_inbox")
