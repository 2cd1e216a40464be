"""console: accounts, sessions, sign-in attempts, audit log (append-only), gap fixes

Revision ID: console_0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "console_0001"
down_revision = None
branch_labels = ("console",)
depends_on = None

SQLITE_TRIGGERS = (
    """CREATE TRIGGER console_audit_no_update BEFORE UPDATE ON console_audit
       BEGIN SELECT RAISE(ABORT, 'console_audit is append-only'); END""",
    """CREATE TRIGGER console_audit_no_delete BEFORE DELETE ON console_audit
       BEGIN SELECT RAISE(ABORT, 'console_audit is append-only'); END""",
)
POSTGRES_TRIGGERS = (
    """CREATE FUNCTION console_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'console_audit is append-only'; END $$""",
    """CREATE TRIGGER console_audit_no_change BEFORE UPDATE OR DELETE ON console_audit
       FOR EACH ROW EXECUTE FUNCTION console_audit_append_only()""",
)


def upgrade() -> None:
    op.create_table(
        "console_accounts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("full_name", sa.Text(), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signed_in_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_console_sessions_account", "console_sessions", ["account_id"])
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
    op.create_table(
        "console_audit",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
    )
    op.create_index("ix_console_audit_at", "console_audit", ["at"])
    op.create_table(
        "console_fixes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("article_id", sa.String(128), nullable=False),
        sa.Column("questions", sa.JSON(), nullable=False),
        sa.Column("gap_ids", sa.JSON(), nullable=False),
        sa.Column("before_count", sa.Integer(), nullable=False),
        sa.Column("before_days", sa.Integer(), nullable=False),
    )
    dialect = op.get_bind().dialect.name
    for statement in POSTGRES_TRIGGERS if dialect == "postgresql" else SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS console_audit_no_change ON console_audit")
        op.execute("DROP FUNCTION IF EXISTS console_audit_append_only()")
    for table in (
        "console_fixes",
        "console_audit",
        "console_sign_ins",
        "console_sessions",
        "console_accounts",
    ):
        op.drop_table(table)
