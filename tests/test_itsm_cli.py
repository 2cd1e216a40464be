"""`deskbot itsm check` through Typer's runner against ServiceNow's fake: what it prints, how it
exits, and that no password ever shows."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from bot.cli import app
from tests.itsm_deskbot import system_settings
from tests.servicenow_fake import PASSWORD, USER, FakeServiceNow

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DESKBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    return tmp_path


async def check(monkeypatch: pytest.MonkeyPatch, **env: str) -> Result:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # the command runs its own event loop; the fake answers on this one
    return await asyncio.to_thread(runner.invoke, app, ["itsm", "check"])


async def test_check_reports_each_right_and_exits_by_the_outcome(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeServiceNow()
    await fake.start()
    try:
        settings = {"DESKBOT_TICKETS": "servicenow", **system_settings("servicenow", fake)}
        ok = await check(monkeypatch, **settings)
        assert ok.exit_code == 0, ok.output
        assert ok.output.splitlines()[0] == "servicenow: ready"
        assert f"ok         sign in as {USER}: user {USER}, time zone UTC" in ok.output

        fake.denied.add(("sys_journal_field", "read"))
        denied = await check(monkeypatch, **settings)
        assert denied.exit_code == 1
        assert "failed     read access to sys_journal_field: ServiceNow: no read access" in (
            denied.output
        )

        wrong = await check(monkeypatch, **{**settings, "DESKBOT_SERVICENOW_PASSWORD": "Guess-99"})
        assert wrong.exit_code == 1
        assert f"ServiceNow refused the credentials for user {USER}" in wrong.output
        assert "not tried  read access to incident" in wrong.output
        for shown in (ok, denied, wrong):
            assert PASSWORD not in shown.output and "Guess-99" not in shown.output
    finally:
        await fake.close()


async def test_incomplete_settings_are_named_without_their_values(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = await check(
        monkeypatch, DESKBOT_TICKETS="servicenow", DESKBOT_SERVICENOW_PASSWORD="Secret-Pw-1"
    )
    assert result.exit_code == 2
    assert "needs DESKBOT_SERVICENOW_URL, DESKBOT_SERVICENOW_USER" in result.output
    assert "Secret-Pw-1" not in result.output


async def test_the_builtin_system_is_checked_on_the_database(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    result = await check(monkeypatch)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "builtin: ready"
