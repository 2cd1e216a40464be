"""Console accounts and `deskbot user ...`: argon2id hashes, roles, disabling, the CLI with a
prompted password, and the demo accounts `make run` prints."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from bot.cli import app
from bot.cli.users import user_app
from bot.console.accounts import AccountError, AccountStore, Role, demo_accounts
from bot.console.audit import AuditLog
from bot.console.sessions import SessionStore
from bot.console.tables import accounts_table, audit_table
from bot.db import make_engine, migrate

FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """The CLI sets up logging for the process (handlers, the redacting record factory);
    later tests must find it as it was."""
    root = logging.getLogger()
    factory, level, handlers = logging.getLogRecordFactory(), root.level, list(root.handlers)
    yield
    logging.setLogRecordFactory(factory)
    root.setLevel(level)
    root.handlers[:] = handlers


def test_passwords_are_argon2id_hashes_and_verify(sqlite_engine: Engine) -> None:
    store = AccountStore(sqlite_engine, hasher=FAST)
    account = store.add("Dana", Role.AGENT, "a long enough secret", full_name="Dana Whitfield")
    assert account.name == "dana" and account.display == "Dana Whitfield"
    with sqlite_engine.connect() as conn:
        stored = conn.execute(select(accounts_table.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and "a long enough secret" not in stored
    verified = store.verify("DANA", "a long enough secret")
    assert verified is not None and verified.id == account.id
    assert store.verify("dana", "a long enough secreT") is None
    assert store.verify("nobody", "a long enough secret") is None
    assert store.by_name("dana").signed_in_at is not None  # type: ignore[union-attr]


def test_weak_hashes_are_upgraded_at_sign_in(sqlite_engine: Engine) -> None:
    AccountStore(sqlite_engine, hasher=FAST).add("dana", Role.AGENT, "a long enough secret")
    strong = AccountStore(sqlite_engine)
    assert strong.verify("dana", "a long enough secret") is not None
    with sqlite_engine.connect() as conn:
        stored = conn.execute(select(accounts_table.c.password_hash)).scalar_one()
    assert not strong.hasher.check_needs_rehash(stored)


def test_account_rules(sqlite_engine: Engine) -> None:
    store = AccountStore(sqlite_engine, hasher=FAST)
    store.add("dana", Role.AGENT, "a long enough secret")
    with pytest.raises(AccountError, match="already exists"):
        store.add("DANA", Role.ADMIN, "a long enough secret")
    with pytest.raises(AccountError, match="at least 12"):
        store.add("sam", Role.AGENT, "short")
    with pytest.raises(AccountError, match="lower-case"):
        store.add("sam smith", Role.AGENT, "a long enough secret")
    store.set_disabled("dana", True)
    assert store.verify("dana", "a long enough secret") is None
    with pytest.raises(AccountError, match="no account"):
        store.set_disabled("ghost", True)


def test_owner_matching(sqlite_engine: Engine) -> None:
    store = AccountStore(sqlite_engine, hasher=FAST)
    priya = store.add("priya", Role.KNOWLEDGE_OWNER, "a long enough secret",
                      full_name="Priya Natarajan", email="Priya.Natarajan@example.com")  # fmt: skip
    assert priya.owns("Priya Natarajan <priya.natarajan@example.com>")
    assert priya.owns("priya natarajan")
    assert not priya.owns("Network Team <network@example.com>")
    assert priya.owner_label == "Priya Natarajan <priya.natarajan@example.com>"


@pytest.mark.usefixtures("restored_logging")
def test_cli_add_list_disable_enable(sqlite_url: str, sqlite_engine: Engine) -> None:
    assert user_app.registered_commands  # importing bot.cli registers `user`
    runner = CliRunner()
    env = {"DESKBOT_DATABASE_URL": sqlite_url}
    added = runner.invoke(
        app,
        ["user", "add", "dana", "--role", "agent", "--full-name", "Dana Whitfield"],
        input="a long enough secret\na long enough secret\n",
        env=env,
    )
    assert added.exit_code == 0, added.output
    assert "added dana (agent)" in added.output
    assert "a long enough secret" not in added.output
    mismatch = runner.invoke(
        app, ["user", "add", "sam", "--role", "admin"], input="one password!!\nanother one!!\n"
        "a long enough secret\na long enough secret\n", env=env,
    )  # fmt: skip
    assert mismatch.exit_code == 0 and "do not match" in mismatch.output.lower()
    short = runner.invoke(
        app, ["user", "add", "kim", "--role", "agent"], input="short\nshort\n", env=env
    )
    assert short.exit_code == 1 and "at least 12" in short.output
    bad_role = runner.invoke(app, ["user", "add", "kim", "--role", "root"], env=env)
    assert bad_role.exit_code != 0

    store = AccountStore(sqlite_engine)
    token, _ = SessionStore(sqlite_engine).start(store.by_name("dana").id)  # type: ignore[union-attr]
    listed = runner.invoke(app, ["user", "list"], env=env)
    assert listed.exit_code == 0
    assert (
        "dana" in listed.output
        and "Dana Whitfield" in listed.output
        and "$argon2" not in (listed.output)
    )
    disabled = runner.invoke(app, ["user", "disable", "dana"], env=env)
    assert disabled.exit_code == 0 and "1 session(s) ended" in disabled.output
    assert SessionStore(sqlite_engine).current(token) is None
    assert store.by_name("dana").disabled  # type: ignore[union-attr]
    assert runner.invoke(app, ["user", "enable", "dana"], env=env).exit_code == 0
    assert not store.by_name("dana").disabled  # type: ignore[union-attr]
    assert runner.invoke(app, ["user", "disable", "ghost"], env=env).exit_code == 1


def test_demo_accounts_keep_their_random_passwords_across_runs(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    store = AccountStore(sqlite_engine, hasher=FAST)
    first = demo_accounts(store)
    assert [(n, r) for n, r, _ in first] == [
        ("demo-agent", "agent"),
        ("demo-owner", "knowledge_owner"),
    ]
    assert first[0][2] != first[1][2] and len(first[0][2]) >= 12
    store.set_disabled("demo-agent", True)
    second = demo_accounts(store)  # a restart: the same passwords, the account enabled again
    assert second == first
    assert store.verify("demo-agent", first[0][2]) is not None
    # another database gets passwords of its own: never a shared default
    other = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    migrate(other)
    try:
        elsewhere = demo_accounts(AccountStore(other, hasher=FAST))
    finally:
        other.dispose()
    assert elsewhere[0][2] != first[0][2]
    owner = store.by_name("demo-owner")
    assert owner is not None and owner.owns("Priya Natarajan <priya.natarajan@example.com>")


def test_the_audit_log_is_append_only(sqlite_engine: Engine) -> None:
    log = AuditLog(sqlite_engine)
    log.record("dana", "viewed", "REQ2000001", {"n": 1}, "127.0.0.1")
    assert not hasattr(log, "delete") and not hasattr(log, "update")
    for statement in ("UPDATE console_audit SET actor = 'x'", "DELETE FROM console_audit"):
        with pytest.raises(DBAPIError, match="append-only"), sqlite_engine.begin() as conn:
            conn.execute(text(statement))
    with sqlite_engine.connect() as conn:
        assert conn.execute(select(audit_table.c.actor)).scalars().all() == ["dana"]
    (entry,) = log.entries(actor="dana")
    assert entry.action == "viewed" and entry.detail == {"n": 1}


@pytest.mark.postgres
def test_the_audit_log_is_append_only_on_postgres(pg_engine: Engine) -> None:
    AuditLog(pg_engine).record("dana", "viewed", "REQ2000001")
    for statement in ("UPDATE console_audit SET actor = 'x'", "DELETE FROM console_audit"):
        with pytest.raises(DBAPIError, match="append-only"), pg_engine.begin() as conn:
            conn.execute(text(statement))
    assert [e.actor for e in AuditLog(pg_engine).entries()] == ["dana"]
