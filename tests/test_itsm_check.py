"""`check`: connectivity and permissions of each system, reported as what exactly is wrong."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from handoff.itsm.check import Outcome, check
from handoff.itsm.config import ServiceNowConfig
from handoff.itsm.systems import builtin, connect
from handoff.tickets import TicketStore
from tests.itsm_cases import POLICY
from tests.itsm_fake import FakeClock, Opened, serving
from tests.jira_fake import FakeJira
from tests.servicenow_fake import FakeServiceNow

pytest_plugins = ("tests.itsm_fixtures",)  # fake, opened, system
SERVICENOW = pytest.mark.parametrize("fake", ["servicenow"], indirect=True)


@SERVICENOW
async def test_a_ready_servicenow_reports_every_probe_ok(system: Any) -> None:
    report = await check(system)
    assert report.ok
    assert [(f.what, f.outcome) for f in report.findings] == [
        ("sign in as deskbot.integration", Outcome.OK),
        ("read access to sys_user", Outcome.OK),
        ("read access to incident", Outcome.OK),
        ("read access to sys_journal_field", Outcome.OK),
        ("read access to sc_req_item", Outcome.OK),
    ]
    assert report.lines()[0] == "servicenow: ready"
    assert "user deskbot.integration, time zone UTC" in report.lines()[1]


@SERVICENOW
async def test_a_missing_right_and_a_wrong_time_zone_are_named(
    fake: FakeServiceNow, system: Any
) -> None:
    fake.denied.add(("sys_journal_field", "read"))
    fake.integration["time_zone"] = "Europe/Berlin"
    report = await check(system)
    outcome = {f.what: (f.outcome, f.detail) for f in report.findings}
    assert not report.ok and report.lines()[0] == "servicenow: not ready"
    zone = outcome["sign in as deskbot.integration"]
    assert zone[0] is Outcome.WARNING and "time zone is Europe/Berlin: set it to UTC" in zone[1]
    assert outcome["read access to sys_journal_field"] == (
        Outcome.FAILED,
        "ServiceNow: no read access to sys_journal_field for user deskbot.integration: "
        "User Not Authorized — ACL restricts reading sys_journal_field",
    )
    assert outcome["read access to incident"][0] is Outcome.OK


@SERVICENOW
async def test_wrong_credentials_stop_the_check_at_signing_in(opened: Opened) -> None:
    report = await check(opened(password="nope"))
    first, *rest = report.findings
    assert first.outcome is Outcome.FAILED
    assert first.detail.startswith("ServiceNow refused the credentials for user deskbot.")
    assert {(f.outcome, f.detail) for f in rest} == {
        (Outcome.NOT_TRIED, "not tried: signing in failed")
    }
    assert "nope" not in "\n".join(report.lines())


async def test_an_unreachable_system_is_said_to_be_unreachable() -> None:
    async with serving(FakeServiceNow()) as gone:
        url = gone.url
    system = connect(ServiceNowConfig(url, "u", "p", retry=POLICY), timing=FakeClock().timing())
    report = await check(system)
    await system.close()
    assert report.findings[0].outcome is Outcome.FAILED
    assert report.findings[0].detail.startswith("cannot reach ServiceNow at 127.0.0.1")
    assert report.findings[1].detail == "not tried: ServiceNow is unreachable"


@pytest.mark.parametrize("fake", ["jira"], indirect=True)
async def test_jira_without_the_right_to_create_customers_is_a_warning(
    fake: FakeJira, opened: Opened
) -> None:
    fake.admins.clear()
    report = await check(opened(request_type_id="99"))  # no such request type
    outcome = {f.what: (f.outcome, f.detail) for f in report.findings}
    assert outcome["agent access to service desk 1"] == (Outcome.OK, "IT Support")
    assert outcome["access to request type 99"][0] is Outcome.FAILED
    assert "The request type does not exist" in outcome["access to request type 99"][1]
    customers = outcome["customers of the desk"]
    assert customers[0] is Outcome.WARNING and "cannot be handed over" in customers[1]


@pytest.mark.parametrize("fake", ["zendesk"], indirect=True)
async def test_zendesk_and_builtin_ready(system: Any, sqlite_engine: Engine) -> None:
    report = await check(system)
    assert report.ok and report.findings[0].detail == "deskbot (agent)"

    local = await check(builtin(TicketStore(sqlite_engine)))
    assert local.ok and local.lines() == [
        "builtin: ready",
        "  ok         read access to deskbot's tickets: the tickets table answers",
    ]
