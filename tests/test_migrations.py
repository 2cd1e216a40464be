"""`deskbot migrate` and the schema status that `serve` and `/readyz` read: behind, current and
ahead on SQLite and PostgreSQL, and four real processes migrating one fresh PostgreSQL database
at once."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from bot.cli import app
from bot.db import (
    MIGRATION_LOCK,
    MIGRATIONS,
    SchemaState,
    alembic_config,
    make_engine,
    migrate,
    schema_status,
)
from tests.conftest import ON_POSTGRES, empty_pg_database

DESKBOT = Path(sys.executable).parent / "deskbot"
FUTURE = "zz_future_0001"


@pytest.fixture(params=ON_POSTGRES)
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database (nothing migrated) on each engine."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
        yield engine
        engine.dispose()
        return
    with empty_pg_database() as url:
        engine = make_engine(url)
        yield engine
        engine.dispose()


def code_heads() -> tuple[str, ...]:
    return tuple(sorted(ScriptDirectory(str(MIGRATIONS)).get_heads()))


def test_an_empty_database_is_behind_until_migrated(fresh: Engine) -> None:
    heads = code_heads()
    empty = schema_status(fresh)
    assert (empty.state, empty.database, empty.code) == (SchemaState.BEHIND, (), heads)
    assert "an empty database" in empty.describe()

    done = migrate(fresh)
    assert done.before == empty
    assert done.applied == heads
    assert done.after.state is SchemaState.CURRENT and done.after.database == heads
    assert schema_status(fresh) == done.after

    again = migrate(fresh)
    assert again.applied == () and again.before.state is SchemaState.CURRENT


def test_a_database_missing_migrations_is_behind_and_names_what_it_has(fresh: Engine) -> None:
    with fresh.begin() as connection:  # only the first revision of one branch
        config = alembic_config(fresh)
        config.attributes["connection"] = connection
        command.upgrade(config, "bot_0001")
    status = schema_status(fresh)
    assert status.state is SchemaState.BEHIND
    assert status.database == ("bot_0001",)
    assert "the database has bot_0001, this version needs" in status.describe()

    done = migrate(fresh)
    assert done.before == status
    assert done.after.state is SchemaState.CURRENT
    assert "bot_0001" not in done.after.database  # its branch moved on to its head


def test_a_database_a_newer_version_migrated_is_ahead_and_left_alone(fresh: Engine) -> None:
    migrate(fresh)
    with fresh.begin() as connection:
        connection.execute(text("INSERT INTO alembic_version VALUES (:v)"), {"v": FUTURE})
    status = schema_status(fresh)
    assert status.state is SchemaState.AHEAD
    assert status.unknown == (FUTURE,) and FUTURE in status.database
    assert FUTURE in status.describe() and "newer version" in status.describe()

    done = migrate(fresh)  # an older image's migration job must not fail or touch it
    assert done.before == status and done.after == status and done.applied == ()
    with fresh.connect() as connection:
        rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
        assert FUTURE in set(rows)


def run_migrate(url: str, cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "DESKBOT_DATABASE_URL": url}
    return subprocess.Popen(
        [str(DESKBOT), "migrate"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def waiting_for_lock(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                text(
                    "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
                    " WHERE l.locktype = 'advisory' AND NOT l.granted"
                    " AND d.datname = current_database()"
                )
            ).scalar_one()
        )


@pytest.mark.postgres
def test_four_processes_migrating_one_fresh_database_at_once(tmp_path: Path) -> None:
    with empty_pg_database() as url:
        engine = make_engine(url)
        try:
            # Hold the migration lock until all four are queued on it, so they really contend.
            with engine.connect() as holder:
                holder.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
                processes = [run_migrate(url, tmp_path) for _ in range(4)]
                deadline = time.monotonic() + 60
                while waiting_for_lock(engine) < 4:
                    assert all(p.poll() is None for p in processes), "a migrator exited early"
                    assert time.monotonic() < deadline, "the migrators never queued on the lock"
                    time.sleep(0.05)
                holder.rollback()  # releases the lock: one migrates, three find it done
            results = [p.communicate(timeout=120) for p in processes]
            assert [p.returncode for p in processes] == [0, 0, 0, 0], results
            outputs = [stdout for stdout, _ in results]
            assert all("waited for it to finish" in o for o in outputs)
            assert sum("migrated from an empty database" in o for o in outputs) == 1
            assert sum("nothing to do, already at" in o for o in outputs) == 3
            status = schema_status(engine)
            assert status.state is SchemaState.CURRENT
            with engine.connect() as connection:  # one row per branch head, none repeated
                rows = connection.execute(text("SELECT version_num FROM alembic_version"))
                assert sorted(rows.scalars()) == list(status.code)
        finally:
            engine.dispose()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_migrate_names_an_unreachable_database_without_its_password(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"postgresql://deskbot:hunter2@127.0.0.1:{closed_port()}/deskbot"
    monkeypatch.setenv("DESKBOT_DATABASE_URL", url)
    result = CliRunner().invoke(app, ["migrate"])
    assert result.exit_code == 1
    assert "cannot reach the database postgresql+psycopg://deskbot:***@127.0.0.1" in result.output
    assert "hunter2" not in result.output and "Traceback" not in result.output


def test_migrate_rejects_a_malformed_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DESKBOT_DATABASE_URL", "postgresql://deskbot@db:five/deskbot")
    result = CliRunner().invoke(app, ["migrate"])
    assert result.exit_code == 2
    assert "DESKBOT_DATABASE_URL is not a valid database URL" in result.output
