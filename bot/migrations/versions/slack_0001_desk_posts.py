"""slack: where each request was posted in the agent channel

Revision ID: slack_0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "slack_0001"
down_revision = None
branch_labels = ("slack",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slack_desk_posts",
        sa.Column("ticket_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("ts", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("channel", "ts", name="uq_slack_desk_posts_message"),
    )


def downgrade() -> None:
    op.drop_table("slack_desk_posts")
