"""The Jira Service Management adapter against a local fake of the service desk API."""

from __future__ import annotations

import pytest

from handoff.itsm.errors import Forbidden
from handoff.itsm.jira import Jira
from handoff.itsm.port import AgentComment, StateChange, TicketState
from tests.itsm_fake import Opened, hand_off
from tests.jira_fake import BETH, EMAIL, FakeJira

pytest_plugins = ("tests.itsm_fixtures",)  # fake, opened, system
SYSTEM = "jira"


@pytest.fixture
def jira(system: Jira) -> Jira:
    return system


# -- creating ------------------------------------------------------------------------------------


async def test_create_raises_the_request_for_the_customer_with_an_internal_summary(
    fake: FakeJira, jira: Jira
) -> None:
    ref = await jira.create(hand_off(), "REQ2000001")

    request = fake.request(ref.id)
    alex = fake.account("alex.morgan@example.com")
    assert (ref.number, ref.requester_id) == (request["issueKey"], alex["accountId"])
    assert ref.url == f"{fake.url}/browse/{ref.number}"
    assert request["reporter"]["accountId"] == alex["accountId"]
    fields = {f["fieldId"]: f["value"] for f in request["requestFieldValues"]}
    assert fields["summary"] == hand_off().title
    assert "my vpn says error 809 since this morning" in fields["description"]
    assert fields["description"].endswith("deskbot reference: REQ2000001")
    assert "confident" not in fields["description"]
    [note] = fake.comments(ref.id)
    assert note["public"] is False and note["author"]["emailAddress"] == EMAIL
    assert "Why: the bot found no answer" in note["body"] and "[redacted password]" in note["body"]
    assert not [c for c in fake.calls if c.path == "/rest/servicedeskapi/customer"]


async def test_the_category_picks_the_request_type(fake: FakeJira, opened: Opened) -> None:
    jira = opened(request_types={"security_incident": "11"})
    ref = await jira.create(hand_off(category="security_incident"), "R1")
    assert fake.request(ref.id)["requestTypeId"] == "11"


async def test_an_employee_unknown_to_jira_becomes_a_customer_of_the_desk(
    fake: FakeJira, jira: Jira
) -> None:
    ref = await jira.create(hand_off("dana.whitfield@example.com"), "R1")

    dana = fake.account("dana.whitfield@example.com")
    assert fake.request(ref.id)["reporter"]["accountId"] == dana["accountId"]
    assert dana["accountId"] in fake.customers
    [made] = fake.calls_to("POST", "/rest/servicedeskapi/customer")
    assert made.body == {"email": "dana.whitfield@example.com", "displayName": "Alex Morgan"}


async def test_an_atlassian_account_that_is_not_yet_a_customer_is_added_to_the_desk(
    fake: FakeJira, jira: Jira
) -> None:
    chris = fake.add_account("chris.okafor@example.com", "Chris Okafor")  # not a customer
    ref = await jira.create(hand_off("chris.okafor@example.com"), "R1")
    assert fake.request(ref.id)["reporter"]["accountId"] == chris["accountId"]
    assert len(fake.accounts) == 5  # no second account for the same address


async def test_without_the_right_to_create_customers_the_error_says_what_to_do(
    fake: FakeJira, jira: Jira
) -> None:
    fake.admins.clear()
    with pytest.raises(Forbidden) as caught:
        await jira.create(hand_off("dana.whitfield@example.com"), "R1")
    message = str(caught.value)
    assert "dana.whitfield@example.com is not a customer of service desk 1" in message
    assert f"user {EMAIL} may not create customers" in message
    assert "Jira administrator" in message and not caught.value.retryable
    assert fake.requests == []


# -- comments and polling ------------------------------------------------------------------------


async def test_the_employees_message_is_a_public_comment(fake: FakeJira, jira: Jira) -> None:
    ref = await jira.create(hand_off(), "R1")
    await jira.comment(ref, "still failing", "Alex Morgan")
    [comment] = fake.comments(ref.id, public=True)
    assert comment["body"] == "Alex Morgan wrote in chat:\nstill failing"


async def test_polling_relays_agents_public_comments_and_status_but_nothing_else(
    fake: FakeJira, jira: Jira
) -> None:
    ref = await jira.create(hand_off(), "R1")
    first = await jira.changes(None, [ref])
    assert first.events == ()

    await jira.comment(ref, "any news?", "Alex Morgan")  # ours
    fake.customer_comment(ref.id, "adding a screenshot from the portal")  # the employee's own
    fake.agent_comment(ref.id, "internal: check the VPN profile", public=False)
    fake.agent_comment(ref.id, "Hi Alex, could you try again now?")
    fake.transition(ref.id, "Waiting for customer", "INDETERMINATE")
    second = await jira.changes(first.cursor, [ref])

    comment, state = second.events
    assert isinstance(comment, AgentComment) and isinstance(state, StateChange)
    assert (comment.text, comment.author) == ("Hi Alex, could you try again now?", "Beth Anglin")
    assert (state.state, state.label) == (TicketState.ON_HOLD, "Waiting for customer")
    assert (await jira.changes(second.cursor, [ref])).events == ()

    fake.transition(ref.id, "Resolved", "DONE")
    [done] = (await jira.changes(second.cursor, [ref])).events
    assert isinstance(done, StateChange) and done.state is TicketState.RESOLVED


async def test_many_comments_are_read_across_pages_once(fake: FakeJira, jira: Jira) -> None:
    ref = await jira.create(hand_off(), "R1")
    fake.max_page = 2
    for n in range(5):
        fake.agent_comment(ref.id, f"step {n}")
    first = await jira.changes(None, [ref])
    fake.agent_comment(ref.id, "step 5")
    second = await jira.changes(first.cursor, [ref])
    assert [e.text for e in first.events if isinstance(e, AgentComment)] == [
        f"step {n}" for n in range(5)
    ]
    assert [e.text for e in second.events if isinstance(e, AgentComment)] == ["step 5"]


# -- status --------------------------------------------------------------------------------------


async def test_status_lists_only_the_employees_requests_by_latest_activity(
    fake: FakeJira, jira: Jira
) -> None:
    alex = fake.account("alex.morgan@example.com")["accountId"]
    sam = fake.account("sam.taylor@example.com")["accountId"]
    older = fake.add_request(alex, "Printer jam")
    theirs = fake.add_request(sam, "Not yours")
    newer = fake.add_request(alex, "New laptop")
    fake.transition(older["issueKey"], "Resolved", "DONE")  # most recent activity

    views = await jira.requests_of("alex.morgan@example.com")
    assert [(v.number, v.title, v.status) for v in views] == [
        (older["issueKey"], "Printer jam", "resolved"),
        (newer["issueKey"], "New laptop", "new"),
    ]
    assert await jira.requests_of("nobody@example.com") == []
    found = await jira.request("alex.morgan@example.com", newer["issueKey"].lower())
    assert found is not None and found.title == "New laptop"
    assert await jira.request("alex.morgan@example.com", theirs["issueKey"]) is None
    assert await jira.request("alex.morgan@example.com", "IT-999") is None
    assert await jira.request("alex.morgan@example.com", "REQ2000001") is None


# -- refusals, limits, outages -------------------------------------------------------------------


async def test_a_timeout_after_the_internal_note_was_written_does_not_double_it(
    fake: FakeJira, jira: Jira
) -> None:
    fake.stall_after("POST", "/rest/servicedeskapi/request/IT-1/comment", 0.6)
    ref = await jira.create(hand_off(), "R1")
    assert ref.id == "IT-1" and len(fake.comments(ref.id, public=False)) == 1
    fake.stall_after("POST", "/rest/servicedeskapi/request/IT-1/comment", 0.6)
    await jira.comment(ref, "hello?", "Alex Morgan")
    assert len(fake.comments(ref.id, public=True)) == 1
    assert BETH not in {c["author"]["accountId"] for c in fake.comments(ref.id)}
