"""Alembic environment: each package owns its tables (its own MetaData) and its own branch of
revisions; `upgrade heads` brings all of them up to date."""

from __future__ import annotations

from alembic import context

from bot.schema import all_metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only when run from the alembic command line
    raise RuntimeError("run migrations through bot.db.migrate()")

context.configure(
    connection=connection,
    target_metadata=all_metadata(),
    render_as_batch=True,  # SQLite cannot ALTER most things in place
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
