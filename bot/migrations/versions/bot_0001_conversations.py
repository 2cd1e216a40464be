"""bot: conversations, transcripts, decision audit, delivery de-duplication

Revision ID: bot_0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "bot_0001"
down_revision = None
branch_labels = ("bot",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bot_conversations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("external_key", sa.String(400), nullable=False),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("requester", sa.String(320), nullable=False),
        sa.Column("requester_name", sa.Text(), nullable=True),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("disclosed", sa.Boolean(), nullable=False),
        sa.Column("flow_state", sa.JSON(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("agent_name", sa.Text(), nullable=True),
        sa.Column("reference", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("channel", "external_key", name="uq_bot_conversations_key"),
    )
    op.create_table(
        "bot_messages",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
    )
    op.create_index("ix_bot_messages_conversation", "bot_messages", ["conversation_id", "id"])
    op.create_table(
        "bot_decisions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("conversation_id", sa.String(36), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("intent", sa.String(32), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("article_id", sa.String(128), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("candidates", sa.JSON(), nullable=False),
        sa.Column("route", sa.String(16), nullable=False),
        sa.Column("category", sa.String(64), nullable=True),
        sa.Column("question", sa.Text(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
    )
    op.create_index("ix_bot_decisions_at", "bot_decisions", ["at"])
    op.create_index("ix_bot_decisions_conversation", "bot_decisions", ["conversation_id"])
    op.create_table(
        "bot_deliveries",
        sa.Column("channel", sa.String(32), primary_key=True),
        sa.Column("delivery_id", sa.String(200), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "bot_secrets",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "bot_secrets",
        "bot_deliveries",
        "bot_decisions",
        "bot_messages",
        "bot_conversations",
    ):
        op.drop_table(table)
