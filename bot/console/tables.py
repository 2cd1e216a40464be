"""Tables owned by the console: accounts, server-side sessions, failed sign-in counts, the audit
log, and the fixes knowledge owners made to gaps (to tell later whether the gap closed)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

accounts_table = Table(
    "console_accounts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),  # sign-in name, lower case
    Column("full_name", Text, nullable=True),
    Column("email", String(320), nullable=True),
    Column("role", String(32), nullable=False),
    Column("password_hash", Text, nullable=False),  # argon2id, never the password
    Column("disabled", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("signed_in_at", DateTime(timezone=True), nullable=True),
)

# The cookie holds a random token; only its SHA-256 is stored, so reading this table does not
# give anyone a live session.
sessions_table = Table(
    "console_sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("account_id", Integer, nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("seen_at", DateTime(timezone=True), nullable=False),
    Index("ix_console_sessions_account", "account_id"),
)

# Failed sign-ins counted per key ("name:...", "address:...", "pair:..."), one row each, in
# a window that starts with the key's first failure: counted with one atomic upsert, so
# concurrent attempts on any replica cannot all slip under the limit.
sign_in_counts_table = Table(
    "console_sign_in_counts",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("window_start", DateTime(timezone=True), nullable=False),
    Column("failures", Integer, nullable=False),
    Index("ix_console_sign_in_counts_window", "window_start"),
)

# Append-only: the application only inserts; the migration adds triggers that refuse UPDATE
# and DELETE on both SQLite and PostgreSQL.
audit_table = Table(
    "console_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("target", String(200), nullable=False),
    Column("detail", Text, nullable=False),
    Column("address", String(64), nullable=False),
    Index("ix_console_audit_at", "at"),
)

fixes_table = Table(
    "console_fixes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("kind", String(16), nullable=False),  # "linked", "drafted"
    Column("article_id", String(128), nullable=False),
    Column("questions", JSON, nullable=False),  # the cluster's distinct questions
    Column("gap_ids", JSON, nullable=False),
    Column("before_count", Integer, nullable=False),  # similar gaps in the window before
    Column("before_days", Integer, nullable=False),
)
