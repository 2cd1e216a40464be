"""The three external ticket systems as test cases: each one's fake, the employees the tests
talk about, its configuration, and where to look in the fake. The fixtures built on these are
in `tests.itsm_fixtures`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from handoff.itsm.config import JiraConfig, ServiceNowConfig, ZendeskConfig
from handoff.itsm.port import TicketRef
from handoff.itsm.resilience import RetryPolicy
from handoff.itsm.systems import SystemConfig
from tests import jira_fake, servicenow_fake, zendesk_fake
from tests.itsm_fake import FakeSystem

# Short timeouts keep "a timeout after a write" tests quick; the breaker as in production.
POLICY = RetryPolicy(timeout=0.3, attempts=4, breaker_failures=5, breaker_reset=30.0)


@dataclass(frozen=True)
class Case:
    name: str
    fake: type[FakeSystem]
    setup: Callable[[Any], None]  # employees and agents the tests talk about
    config: Callable[[Any], SystemConfig]
    create_path: str  # where a ticket is created
    lookup_path: str  # the first call of `requests_of`: the employee's lookup
    tickets: Callable[[Any], list[str]]  # the ids of every ticket in the fake
    notes: Callable[[Any, TicketRef], int]  # how many agent-only notes a ticket has
    user: str  # who the adapter signs in as, as messages name it
    secret_field: str


def _servicenow(fake: servicenow_fake.FakeServiceNow) -> None:
    fake.add_user("alex.morgan@example.com", "alex.morgan", "Alex Morgan")
    fake.add_user("sam.taylor@example.com", "sam.taylor", "Sam Taylor")
    fake.add_user("beth.anglin@example.com", "beth.anglin", "Beth Anglin")


def _jira(fake: jira_fake.FakeJira) -> None:
    fake.add_account("alex.morgan@example.com", "Alex Morgan", customer=True)
    fake.add_account("sam.taylor@example.com", "Sam Taylor", customer=True)


def _zendesk(fake: zendesk_fake.FakeZendesk) -> None:
    fake.add_user("alex.morgan@example.com", "Alex Morgan")
    fake.add_user("sam.taylor@example.com", "Sam Taylor")


CASES = {
    "servicenow": Case(
        "servicenow",
        servicenow_fake.FakeServiceNow,
        _servicenow,
        lambda f: ServiceNowConfig(
            f.url, servicenow_fake.USER, servicenow_fake.PASSWORD, retry=POLICY
        ),
        "/api/now/table/incident",
        "/api/now/table/sys_user",
        lambda f: [r["sys_id"] for r in f.tables["incident"]],
        lambda f, ref: len(f.journal(ref.number, "work_notes")),
        servicenow_fake.USER,
        "password",
    ),
    "jira": Case(
        "jira",
        jira_fake.FakeJira,
        _jira,
        lambda f: JiraConfig(
            f.url,
            jira_fake.EMAIL,
            jira_fake.API_TOKEN,
            jira_fake.DESK,
            jira_fake.REQUEST_TYPE,
            retry=POLICY,
        ),
        "/rest/servicedeskapi/request",
        "/rest/servicedeskapi/servicedesk",
        lambda f: [r["issueKey"] for r in f.requests],
        lambda f, ref: len(f.comments(ref.id, public=False)),
        jira_fake.EMAIL,
        "api_token",
    ),
    "zendesk": Case(
        "zendesk",
        zendesk_fake.FakeZendesk,
        _zendesk,
        lambda f: ZendeskConfig(f.url, zendesk_fake.EMAIL, zendesk_fake.API_TOKEN, retry=POLICY),
        "/api/v2/tickets.json",
        "/api/v2/users/search.json",
        lambda f: [str(i) for i in f.tickets],
        lambda f, ref: len(f.comments(ref.id, public=False)),
        zendesk_fake.EMAIL,
        "api_token",
    ),
}
NAMES = sorted(CASES)


def case_of(fake: FakeSystem) -> Case:
    return next(c for c in CASES.values() if isinstance(fake, c.fake))
