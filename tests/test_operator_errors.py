"""What an operator sees when a deployment is wrong: `deskbot serve` (and `demo`) run as real
processes, each mistake answered by one line on stderr and a non-zero exit, before the model
loads (nothing else printed: loading it logs), with no traceback and no password. Variants of
one mistake run in-process (CliRunner) to keep the suite quick."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine
from typer.testing import CliRunner

from bot.cli import app
from bot.cli.preflight import Problem, check_database
from bot.db import SchemaState, alembic_config, make_engine, migrate
from bot.settings import Settings
from tests.conftest import empty_pg_database

DESKBOT = Path(sys.executable).parent / "deskbot"


def clean_env(**settings: str) -> dict[str, str]:
    """The process environment without any deskbot, Slack or Teams setting, plus `settings`."""
    prefixes = ("DESKBOT_", "SLACK_", "Microsoft")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    return {**env, "HF_HUB_OFFLINE": "1", **settings}


def deskbot(cwd: Path, *args: str, **settings: str) -> tuple[int, str, str]:
    done = subprocess.run(
        [str(DESKBOT), *args],
        cwd=cwd,
        env=clean_env(**settings),
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stdout, done.stderr


def one_line(cwd: Path, *args: str, **settings: str) -> tuple[int, str]:
    """Run deskbot and check the answer's shape: non-zero exit, quick, exactly one line on
    stderr, nothing on stdout (so no model loaded: that logs), no traceback. Returns the exit
    status and the line."""
    code, stdout, stderr = deskbot(cwd, *args, **settings)
    assert code != 0, (stdout, stderr)
    assert stdout == ""
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr and "Error:" not in stderr
    return code, lines[0]


def said(
    cwd: Path, monkeypatch: pytest.MonkeyPatch, *args: str, **settings: str
) -> tuple[int, str]:
    """The same, in this process."""
    monkeypatch.chdir(cwd)
    for name in os.environ.keys() - clean_env().keys():  # deskbot's, Slack's and Teams'
        monkeypatch.delenv(name)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, list(args))
    lines = result.output.splitlines()
    assert result.exit_code != 0 and len(lines) == 1, result.output
    return result.exit_code, lines[0]


@pytest.fixture
def migrated(tmp_path: Path) -> Path:
    """A folder whose default SQLite database (deskbot.db) is migrated."""
    engine = make_engine(f"sqlite:///{tmp_path / 'deskbot.db'}")
    migrate(engine)
    engine.dispose()
    return tmp_path


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("command_", ["serve", "demo"])
def test_a_port_in_use_is_named_before_anything_loads(migrated: Path, command_: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, line = one_line(migrated, command_, "--port", str(port))
    assert code == 2
    assert line == (
        f"cannot listen on 127.0.0.1:{port}: the port is already in use (another deskbot?); "
        "choose another --port"
    )


def test_an_invalid_port_is_refused(migrated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert one_line(migrated, "serve", "--port", "http") == (
        2,
        "--port must be a number from 1 to 65535, not 'http'",
    )
    for port in ("0", "70000", "-1", "80.5"):
        code, line = said(migrated, monkeypatch, "demo", f"--port={port}")
        assert code == 2 and line.startswith("--port must be a number from 1 to 65535, not ")
        assert port in line


def test_an_address_this_machine_does_not_have(migrated: Path) -> None:
    code, line = one_line(migrated, "serve", "--host", "192.0.2.1")  # TEST-NET-1
    assert code == 2
    assert line.startswith("cannot listen on 192.0.2.1:8080: this machine has no such address")


def test_an_unreachable_database_is_named_without_its_password(tmp_path: Path) -> None:
    url = f"postgresql://deskbot:hunter2@127.0.0.1:{closed_port()}/deskbot"
    code, line = one_line(tmp_path, "serve", DESKBOT_DATABASE_URL=url)
    assert code == 1
    assert line.startswith("cannot reach the database postgresql+psycopg://deskbot:***@127.0.0.1")
    assert "Connection refused" in line and "hunter2" not in line


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql://deskbot:hunter2@db:five/deskbot",
            "DESKBOT_DATABASE_URL is not a valid database URL: ",
        ),
        ("mysql://deskbot@db/deskbot", "DESKBOT_DATABASE_URL must be a sqlite:// or postgresql://"),
    ],
)
def test_a_bad_database_url(tmp_path: Path, url: str, expected: str) -> None:
    code, line = one_line(tmp_path, "demo", DESKBOT_DATABASE_URL=url)
    assert code == 2
    assert line.startswith(expected) and "hunter2" not in line


def test_any_wrong_setting_is_one_line_naming_it(migrated: Path) -> None:
    code, line = one_line(migrated, "serve", DESKBOT_TARGET_PRECISION="high")
    assert code == 2
    assert line.startswith("DESKBOT_TARGET_PRECISION: ")


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (
            {"SLACK_BOT_TOKEN": "xoxb-1"},
            "Slack: SLACK_BOT_TOKEN is set without SLACK_SIGNING_SECRET (events over HTTP) or "
            "SLACK_APP_TOKEN (Socket Mode); set one of them",
        ),
        (
            {"SLACK_SIGNING_SECRET": "s3cret"},
            "Slack: SLACK_SIGNING_SECRET set without SLACK_BOT_TOKEN; set it too",
        ),
        (
            {"MicrosoftAppId": "00000000-0000-0000-0000-000000000001"},
            "Teams: MicrosoftAppId is set without MicrosoftAppPassword; set it too",
        ),
        (
            {
                "MicrosoftAppId": "a",
                "MicrosoftAppPassword": "p",
                "MicrosoftAppType": "SingleTenant",
            },
            "Teams: a SingleTenant app needs MicrosoftAppTenantId",
        ),
        (
            {"MicrosoftAppPassword": "p"},
            "Teams: MicrosoftAppPassword or MicrosoftAppTenantId set without MicrosoftAppId; "
            "set the app id too",
        ),
    ],
    ids=["slack-no-secret", "slack-no-token", "teams-no-password", "teams-no-tenant", "no-id"],
)
def test_a_channel_missing_a_secret(
    migrated: Path, monkeypatch: pytest.MonkeyPatch, settings: dict[str, str], expected: str
) -> None:
    code, line = said(migrated, monkeypatch, "serve", **settings)
    assert (code, line) == (2, expected)
    assert "xoxb-1" not in line and "s3cret" not in line


def test_a_channel_missing_a_secret_as_a_process(migrated: Path) -> None:
    assert one_line(migrated, "serve", SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET=" ") == (
        2,
        "Slack: SLACK_BOT_TOKEN is set without SLACK_SIGNING_SECRET (events over HTTP) or "
        "SLACK_APP_TOKEN (Socket Mode); set one of them",
    )


def test_serve_refuses_a_database_that_does_not_exist_yet(tmp_path: Path) -> None:
    code, line = one_line(tmp_path, "serve")
    assert code == 1
    assert line == (
        "sqlite:///deskbot.db: the database file does not exist; run `deskbot migrate` to create it"
    )
    assert not (tmp_path / "deskbot.db").exists()  # nothing created behind the operator's back


def test_serve_refuses_a_schema_that_is_behind(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'deskbot.db'}")
    with engine.begin() as connection:  # an older version's schema: one branch, first step
        config = alembic_config(engine)
        config.attributes["connection"] = connection
        command.upgrade(config, "bot_0001")
    engine.dispose()
    code, line = one_line(tmp_path, "serve")
    assert code == 1
    assert line.startswith("sqlite:///deskbot.db: schema behind: the database has bot_0001, ")
    assert line.endswith("; run `deskbot migrate`, then start again")


@pytest.mark.postgres
def test_serve_refuses_an_empty_postgresql_database(tmp_path: Path) -> None:
    with empty_pg_database() as url:
        code, line = one_line(tmp_path, "serve", DESKBOT_DATABASE_URL=url)
    assert code == 1
    assert "schema behind: the database has no revision (an empty database)" in line
    assert "run `deskbot migrate`" in line


def test_the_demo_migrates_its_own_fresh_database(tmp_path: Path) -> None:
    settings = Settings(DESKBOT_DATABASE_URL=f"sqlite:///{tmp_path / 'demo.db'}")
    with pytest.raises(Problem, match="does not exist; run `deskbot migrate`"):
        check_database(settings)
    assert check_database(settings, migrate_if_behind=True).state is SchemaState.CURRENT
    assert check_database(settings).state is SchemaState.CURRENT  # serve would now accept it
