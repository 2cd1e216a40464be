"""teams: the agents' channel and the handoff thread of each ticket

Revision ID: teams_0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "teams_0001"
down_revision = None
branch_labels = ("teams",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "teams_agent_channel",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("channel_id", sa.String(400), nullable=False),
        sa.Column("reference", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "teams_desk_threads",
        sa.Column("ticket_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("conversation_id", sa.String(400), nullable=False),
        sa.Column("activity_id", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("conversation_id", name="uq_teams_desk_threads_conversation"),
    )


def downgrade() -> None:
    op.drop_table("teams_desk_threads")
    op.drop_table("teams_agent_channel")
