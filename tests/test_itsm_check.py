"""`check`: connectivity and permissions of each system, reported as what exactly is wrong."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Engine

from handoff.itsm.check import Outcome, check
from handoff.itsm.config import JiraConfig, ServiceNowConfig, ZendeskConfig
from handoff.itsm.resilience import RetryPolicy
from handoff.itsm.systems import builtin, connect
from handoff.tickets import TicketStore
from tests import jira_fake, servicenow_fake, zendesk_fake
from tests.itsm_fake import FakeClock
from tests.jira_fake import FakeJira
from tests.servicenow_fake import FakeServiceNow
from tests.zendesk_fake import FakeZendesk

POLICY = RetryPolicy(timeout=0.5, attempts=2)


@pytest.fixture
async def snow() -> AsyncIterator[FakeServiceNow]:
    fake = FakeServiceNow()
    await fake.start()
    yield fake
    await fake.close()


def snow_config(fake: FakeServiceNow, password: str = servicenow_fake.PASSWORD) -> ServiceNowConfig:
    return ServiceNowConfig(
        url=fake.url, user=servicenow_fake.USER, password=password, retry=POLICY
    )


async def test_a_ready_servicenow_reports_every_probe_ok(snow: FakeServiceNow) -> None:
    system = connect(snow_config(snow), timing=FakeClock().timing())
    report = await check(system)
    await system.close()
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


async def test_a_missing_right_and_a_wrong_time_zone_are_named(snow: FakeServiceNow) -> None:
    snow.denied.add(("sys_journal_field", "read"))
    snow.integration["time_zone"] = "Europe/Berlin"
    system = connect(snow_config(snow), timing=FakeClock().timing())
    report = await check(system)
    await system.close()
    outcome = {f.what: (f.outcome, f.detail) for f in report.findings}
    assert not report.ok and report.lines()[0] == "servicenow: not ready"
    zone = outcome["sign in as deskbot.integration"]
    assert zone[0] is Outcome.WARNING and "time zone is Europe/Berlin: set it to UTC" in zone[1]
    journal = outcome["read access to sys_journal_field"]
    assert journal == (
        Outcome.FAILED,
        "ServiceNow: no read access to sys_journal_field for user deskbot.integration: "
        "User Not Authorized — ACL restricts reading sys_journal_field",
    )
    assert outcome["read access to incident"][0] is Outcome.OK


async def test_wrong_credentials_stop_the_check_at_signing_in(snow: FakeServiceNow) -> None:
    system = connect(snow_config(snow, password="nope"), timing=FakeClock().timing())
    report = await check(system)
    await system.close()
    first, *rest = report.findings
    assert first.outcome is Outcome.FAILED
    assert first.detail.startswith("ServiceNow refused the credentials for user deskbot.")
    assert {(f.outcome, f.detail) for f in rest} == {
        (Outcome.NOT_TRIED, "not tried: signing in failed")
    }
    assert "nope" not in "\n".join(report.lines())


async def test_an_unreachable_system_is_said_to_be_unreachable() -> None:
    fake = FakeServiceNow()
    await fake.start()
    url = fake.url
    await fake.close()  # nothing listens there any more
    config = ServiceNowConfig(url=url, user="u", password="p", retry=POLICY)
    system = connect(config, timing=FakeClock().timing())
    report = await check(system)
    await system.close()
    assert report.findings[0].outcome is Outcome.FAILED
    assert report.findings[0].detail.startswith("cannot reach ServiceNow at 127.0.0.1")
    assert report.findings[1].detail == "not tried: ServiceNow is unreachable"


async def test_jira_without_the_right_to_create_customers_is_a_warning() -> None:
    fake = FakeJira()
    await fake.start()
    fake.admins.clear()
    config = JiraConfig(
        url=fake.url,
        email=jira_fake.EMAIL,
        api_token=jira_fake.API_TOKEN,
        service_desk_id=jira_fake.DESK,
        request_type_id="99",  # no such request type
        retry=POLICY,
    )
    system = connect(config, timing=FakeClock().timing())
    report = await check(system)
    await system.close()
    await fake.close()
    outcome = {f.what: (f.outcome, f.detail) for f in report.findings}
    assert outcome["agent access to service desk 1"] == (Outcome.OK, "IT Support")
    assert outcome["access to request type 99"][0] is Outcome.FAILED
    assert "The request type does not exist" in outcome["access to request type 99"][1]
    customers = outcome["customers of the desk"]
    assert customers[0] is Outcome.WARNING and "cannot be handed over" in customers[1]


async def test_zendesk_and_builtin_ready(sqlite_engine: Engine) -> None:
    fake = FakeZendesk()
    await fake.start()
    config = ZendeskConfig(
        url=fake.url, email=zendesk_fake.EMAIL, api_token=zendesk_fake.API_TOKEN, retry=POLICY
    )
    system = connect(config, timing=FakeClock().timing())
    report = await check(system)
    await system.close()
    await fake.close()
    assert report.ok and report.findings[0].detail == "deskbot (agent)"

    local = await check(builtin(TicketStore(sqlite_engine)))
    assert local.ok and local.lines() == [
        "builtin: ready",
        "  ok         read access to deskbot's tickets: the tickets table answers",
    ]
