"""handoff: per-key pacing shared by every replica (the next free slot of each Slack channel)

Revision ID: ops_0001
Revises: handoff_0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ops_0001"
down_revision = "handoff_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "handoff_pacing",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("free_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("handoff_pacing")
