"""hardening: sign-in failure counts (atomic, per name, address and both), signed-out chats

Revision ID: hardening_0001
Revises: console_0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "hardening_0001"
down_revision = "console_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # the log of every attempt gives way to counts that can be taken atomically
    op.drop_index("ix_console_sign_ins_name", "console_sign_ins")
    op.drop_index("ix_console_sign_ins_address", "console_sign_ins")
    op.drop_table("console_sign_ins")
    op.create_table(
        "console_sign_in_counts",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
    )
    op.create_index("ix_console_sign_in_counts_window", "console_sign_in_counts", ["window_start"])
    op.create_table(
        "web_signed_out",
        sa.Column("sid", sa.String(64), primary_key=True),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_web_signed_out_until", "web_signed_out", ["until"])


def downgrade() -> None:
    op.drop_index("ix_web_signed_out_until", "web_signed_out")
    op.drop_table("web_signed_out")
    op.drop_index("ix_console_sign_in_counts_window", "console_sign_in_counts")
    op.drop_table("console_sign_in_counts")
    op.create_table(
        "console_sign_ins",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_console_sign_ins_name", "console_sign_ins", ["name", "at"])
    op.create_index("ix_console_sign_ins_address", "console_sign_ins", ["address", "at"])
