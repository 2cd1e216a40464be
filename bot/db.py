"""Database engine and schema migrations (Alembic), for SQLite and PostgreSQL."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
# The PostgreSQL advisory lock every deskbot process takes to migrate: any fixed 64-bit number
# works as long as all versions agree on it ("deskbot" in ASCII).
MIGRATION_LOCK = 0x6465736B626F74


def normalize_url(url: str) -> str:
    """Use psycopg 3 for plain postgresql:// URLs."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, *, timeout: float = 5.0, statement_timeout: float = 15.0) -> Engine:
    """An engine that fails fast when the database is away: on PostgreSQL `timeout` seconds to
    connect and to wait for a pooled connection, `statement_timeout` for each statement (the
    migration lifts it for itself)."""
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    connect_args = {
        "connect_timeout": max(1, round(timeout)),
        "options": f"-c statement_timeout={round(statement_timeout * 1000)}",
    }
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
        pool_timeout=timeout,
        connect_args=connect_args,
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers work while a writer commits; the busy timeout waits out short locks.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


class SchemaState(StrEnum):
    CURRENT = "current"
    BEHIND = "behind"  # migrations of this version are not applied yet
    AHEAD = "ahead"  # a newer version migrated the database (e.g. after an image rollback)


@dataclass(frozen=True)
class SchemaStatus:
    """Where the database's schema stands against the migrations this code ships."""

    state: SchemaState
    database: tuple[str, ...]  # revisions recorded in the database
    code: tuple[str, ...]  # the newest revision of each branch this code ships
    unknown: tuple[str, ...] = ()  # database revisions this code does not know

    def describe(self) -> str:
        found = ", ".join(self.database) or "no revision (an empty database)"
        expected = ", ".join(self.code)
        if self.state is SchemaState.CURRENT:
            return f"schema current ({expected})"
        if self.state is SchemaState.BEHIND:
            return f"schema behind: the database has {found}, this version needs {expected}"
        return (
            f"schema ahead: the database has {', '.join(self.unknown)}, which this version does "
            f"not know (it ships {expected}); a newer version migrated it"
        )


@dataclass(frozen=True)
class Migration:
    """What one `migrate` did."""

    before: SchemaStatus
    after: SchemaStatus
    waited: bool  # another process was migrating: this one waited for it to finish

    @property
    def applied(self) -> tuple[str, ...]:
        """The branch heads that moved (empty when there was nothing to do)."""
        return tuple(r for r in self.after.database if r not in self.before.database)


def migrate(engine: Engine) -> Migration:
    """Bring the schema to the newest revision of every package's branch.

    Safe when several processes run it at once: on PostgreSQL each takes a transaction-level
    advisory lock first, on SQLite an immediate (write) transaction; the first migrates and
    commits, the others then find the schema current and do nothing. A database that a newer
    version migrated (ahead) is left as it is.
    """
    config = alembic_config(engine)
    with engine.connect() as connection:
        waited = _lock_for_migration(connection)
        before = _status(connection)
        after = before
        if before.state is SchemaState.BEHIND:
            config.attributes["connection"] = connection
            command.upgrade(config, "heads")
            after = _status(connection)
        connection.commit()
    return Migration(before, after, waited)


def schema_status(engine: Engine) -> SchemaStatus:
    """Compare the revisions recorded in the database with those this code ships."""
    with engine.connect() as connection:
        return _status(connection)


def _lock_for_migration(connection: Connection) -> bool:
    """Serialize migrations; True when another process held the lock and this one waited.
    The lock ends with the transaction, so a migrator that dies never leaves it held."""
    if connection.dialect.name == "postgresql":
        # the migration and the wait for the lock may take longer than a turn's statements
        connection.execute(text("SET LOCAL statement_timeout = 0"))
        key = {"key": MIGRATION_LOCK}
        if connection.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), key).scalar():
            return False
        log.info("another process is migrating the database: waiting for it")
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), key)
        return True
    if connection.dialect.name == "sqlite":
        # Take the write lock before reading the version table (waits out busy_timeout), so
        # two processes never both decide to create the same tables.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    return False


@functools.cache
def _shipped() -> tuple[tuple[str, ...], frozenset[str]]:
    """The newest revision of each branch, and every revision this code ships (read once: the
    readiness probe asks often)."""
    script = ScriptDirectory(str(MIGRATIONS))
    known = frozenset(revision.revision for revision in script.walk_revisions())
    return tuple(sorted(script.get_heads())), known


def _status(connection: Connection) -> SchemaStatus:
    code, known = _shipped()
    database = tuple(sorted(MigrationContext.configure(connection).get_current_heads()))
    unknown = tuple(r for r in database if r not in known)
    if unknown:
        state = SchemaState.AHEAD
    elif database == code:
        state = SchemaState.CURRENT
    else:
        state = SchemaState.BEHIND
    return SchemaStatus(state, database, code, unknown)


def aware(value: datetime) -> datetime:
    """A stored time, timezone-aware: SQLite hands back naive datetimes (all stored in UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
