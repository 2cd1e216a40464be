"""The faults of issue reports, reproduced with real deskbot processes: kill -9 and SIGTERM in
the middle of a burst of Slack DMs and Teams activities, and the database cut off or stalled
behind a TCP proxy of the test's own. Nothing acknowledged is lost, nothing is doubled, and no
user gets a 5xx. Marked `faults` (about a minute each): `pytest -m faults`; `bench/faults.py`
prints the same counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import empty_pg_database
from tests.fault_world import slack_fault, teams_fault, web_outage

pytestmark = pytest.mark.faults


@pytest.mark.parametrize("how", ["kill", "term"])
async def test_slack_dms_acknowledged_before_a_fault_are_all_answered_once(
    demo_url: str, tmp_path: Path, how: str
) -> None:
    tally = await slack_fault(demo_url, tmp_path, how=how)
    print(tally.line())
    assert tally.acknowledged > 0
    assert tally.notes["answered_before_fault"] < tally.acknowledged  # work was in flight
    assert (tally.lost, tally.duplicated, tally.failed) == (0, 0, 0), tally
    assert tally.saved == tally.answered == tally.sent == 40
    if how == "term":  # the drain finished what was in flight, and exited cleanly
        assert tally.notes["exit_status"] == 0
        assert tally.notes["answered_by_drain"] == tally.acknowledged


async def test_teams_activities_redelivered_after_a_kill_are_saved_and_answered_once(
    demo_url: str, tmp_path: Path
) -> None:
    tally = await teams_fault(demo_url, tmp_path)
    print(tally.line())
    assert tally.notes["answered_before_fault"] == 0  # killed before any response
    assert (tally.lost, tally.duplicated, tally.failed) == (0, 0, 0), tally
    assert tally.saved == tally.answered == tally.sent == 30


@pytest.mark.parametrize("how", ["down", "pause"])
async def test_a_database_outage_costs_no_message_and_no_5xx(tmp_path: Path, how: str) -> None:
    with empty_pg_database() as url:
        tally = await web_outage(url, tmp_path, how=how, seconds=10.0)
    print(tally.line())
    assert tally.kept > 0  # users were told their message was kept
    assert tally.notes["healthz_seconds"] < 1.5
    assert not tally.notes["healthz_says_database_ok"] and tally.notes["readyz_status"] == 503
    assert tally.notes["ready_after"] == 200  # ready again without a restart
    assert (tally.lost, tally.duplicated, tally.failed) == (0, 0, 0), tally
    assert tally.saved == tally.answered == tally.sent == tally.acknowledged
