"""handoff: where each ticket lives in the desk's ITSM, comment ids, the shared poll cursor

Revision ID: handoff_0002
Revises: handoff_0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "handoff_0002"
down_revision = "handoff_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("handoff_tickets") as batch:
        batch.add_column(sa.Column("external_system", sa.String(32), nullable=True))
        batch.add_column(sa.Column("external_id", sa.String(128), nullable=True))
        batch.add_column(sa.Column("external_number", sa.String(64), nullable=True))
        batch.add_column(sa.Column("external_url", sa.Text(), nullable=True))
        batch.add_column(sa.Column("external_requester", sa.String(128), nullable=True))
        batch.create_index("ix_handoff_tickets_external", ["external_system", "status"])
    with op.batch_alter_table("handoff_events") as batch:
        batch.add_column(sa.Column("source_id", sa.String(200), nullable=True))
        batch.create_index("ux_handoff_events_source", ["ticket_id", "source_id"], unique=True)
    op.create_table(
        "handoff_itsm_polls",
        sa.Column("system", sa.String(32), primary_key=True),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("polled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("holder", sa.String(128), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("handoff_itsm_polls")
    with op.batch_alter_table("handoff_events") as batch:
        batch.drop_index("ux_handoff_events_source")
        batch.drop_column("source_id")
    with op.batch_alter_table("handoff_tickets") as batch:
        batch.drop_index("ix_handoff_tickets_external")
        for column in ("external_requester", "external_url", "external_number", "external_id"):
            batch.drop_column(column)
        batch.drop_column("external_system")
