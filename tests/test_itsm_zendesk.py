"""The Zendesk adapter against a local fake of the Support API."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from handoff.itsm.config import ZendeskConfig
from handoff.itsm.errors import AuthFailed, Forbidden, Rejected, Unavailable
from handoff.itsm.port import AgentComment, StateChange, TicketState
from handoff.itsm.resilience import RetryPolicy
from handoff.itsm.zendesk import Zendesk
from tests.itsm_fake import FakeClock, hand_off
from tests.zendesk_fake import API_TOKEN, EMAIL, ME, FakeZendesk

POLICY = RetryPolicy(timeout=0.3, attempts=4, breaker_failures=5, breaker_reset=30.0)


@pytest.fixture
async def fake() -> AsyncIterator[FakeZendesk]:
    fake = FakeZendesk()
    await fake.start()
    fake.add_user("alex.morgan@example.com", "Alex Morgan")
    fake.add_user("sam.taylor@example.com", "Sam Taylor")
    yield fake
    await fake.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def opened(fake: FakeZendesk, clock: FakeClock) -> AsyncIterator[Any]:
    systems: list[Zendesk] = []

    def make(**changes: Any) -> Zendesk:
        config = ZendeskConfig(url=fake.url, email=EMAIL, api_token=API_TOKEN, retry=POLICY)
        system = Zendesk(dataclasses.replace(config, **changes), timing=clock.timing())
        systems.append(system)
        return system

    yield make
    for system in systems:
        await system.close()


@pytest.fixture
def zendesk(opened: Any) -> Zendesk:
    return opened()  # type: ignore[no-any-return]


async def test_create_opens_a_ticket_for_the_requester_with_a_private_summary(
    fake: FakeZendesk, zendesk: Zendesk
) -> None:
    ref = await zendesk.create(hand_off(), "REQ2000001")

    ticket = fake.tickets[int(ref.id)]
    alex = fake.user_id("alex.morgan@example.com")
    assert (ref.number, ref.requester_id) == (str(ticket["id"]), str(alex))
    assert ref.url == f"{fake.url}/agent/tickets/{ref.id}"
    assert ticket["requester_id"] == alex and ticket["external_id"] == "REQ2000001"
    assert (ticket["subject"], ticket["priority"], ticket["type"]) == (
        hand_off().title,
        "high",
        "incident",
    )
    assert ticket["tags"] == ["deskbot", "vpn"]
    public, private = fake.comments(ref.id)
    assert public["public"] and "my vpn says error 809" in public["body"]
    assert "confident" not in public["body"]
    assert not private["public"] and private["author_id"] == ME
    assert "Why: the bot found no answer" in private["body"]
    assert "[redacted password]" in private["body"]


async def test_an_unknown_requester_becomes_an_end_user(
    fake: FakeZendesk, zendesk: Zendesk
) -> None:
    ref = await zendesk.create(hand_off("dana.whitfield@example.com"), "R1")
    dana = fake.user_id("dana.whitfield@example.com")
    assert fake.tickets[int(ref.id)]["requester_id"] == dana
    assert fake.users[dana]["name"] == "Alex Morgan"  # the name the chat knew


async def test_the_employees_message_is_a_public_comment_in_their_name(
    fake: FakeZendesk, zendesk: Zendesk
) -> None:
    ref = await zendesk.create(hand_off(), "R1")
    await zendesk.comment(ref, "still failing", "Alex Morgan")
    comment = fake.comments(ref.id)[-1]
    assert comment["public"] and comment["body"] == "still failing"
    assert comment["author_id"] == fake.user_id("alex.morgan@example.com")


async def test_polling_relays_agents_public_comments_and_status_only(
    fake: FakeZendesk, zendesk: Zendesk
) -> None:
    ref = await zendesk.create(hand_off(), "R1")
    first = await zendesk.changes(None, [ref])
    assert first.events == ()

    await zendesk.comment(ref, "any news?", "Alex Morgan")  # ours, in the employee's name
    fake.requester_comment(ref.id, "replying to the e-mail")  # the employee's own
    fake.agent_comment(ref.id, "internal: reset the profile", public=False)
    fake.agent_comment(ref.id, "Hi Alex, please try again now.")
    fake.set_status(ref.id, "pending")
    second = await zendesk.changes(first.cursor, [ref])

    comment, state = second.events
    assert isinstance(comment, AgentComment) and isinstance(state, StateChange)
    assert (comment.text, comment.author) == ("Hi Alex, please try again now.", "Beth Anglin")
    assert (state.state, state.label) == (TicketState.ON_HOLD, "pending")

    idle = len(fake.calls)
    assert (await zendesk.changes(second.cursor, [ref])).events == ()
    assert len(fake.calls) == idle + 1  # nothing moved: one show_many, no comment reads

    fake.set_status(ref.id, "solved")
    [solved] = (await zendesk.changes(second.cursor, [ref])).events
    assert isinstance(solved, StateChange) and solved.state is TicketState.RESOLVED


async def test_comments_are_read_across_cursor_pages(fake: FakeZendesk, zendesk: Zendesk) -> None:
    ref = await zendesk.create(hand_off(), "R1")
    for n in range(120):
        fake.agent_comment(ref.id, f"line {n}")
    changes = await zendesk.changes(None, [ref])
    assert [e.text for e in changes.events if isinstance(e, AgentComment)] == [
        f"line {n}" for n in range(120)
    ]
    assert len(fake.calls_to("GET", f"/api/v2/tickets/{ref.id}/comments.json")) == 2


async def test_status_lists_only_the_requesters_tickets_newest_first(
    fake: FakeZendesk, zendesk: Zendesk
) -> None:
    alex = fake.user_id("alex.morgan@example.com")
    sam = fake.user_id("sam.taylor@example.com")
    older = fake.add_ticket(alex, "Printer jam", status="open", assignee_id=1002)
    theirs = fake.add_ticket(sam, "Not yours")
    newer = fake.add_ticket(alex, "New laptop")
    fake.set_status(older["id"], "solved")

    views = await zendesk.requests_of("alex.morgan@example.com")
    assert [(v.number, v.title, v.status, v.assignee) for v in views] == [
        (str(older["id"]), "Printer jam", "resolved", "Beth Anglin"),
        (str(newer["id"]), "New laptop", "new", None),
    ]
    assert await zendesk.requests_of("nobody@example.com") == []
    found = await zendesk.request("alex.morgan@example.com", f"#{newer['id']}")
    assert found is not None and found.title == "New laptop"
    assert await zendesk.request("alex.morgan@example.com", str(theirs["id"])) is None
    assert await zendesk.request("alex.morgan@example.com", "999") is None
    assert await zendesk.request("alex.morgan@example.com", "INC0010001") is None


async def test_a_wrong_token_names_the_account_not_the_token(
    opened: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    zendesk = opened(api_token="not-the-token")
    with pytest.raises(AuthFailed) as caught:
        await zendesk.create(hand_off(), "R1")
    message = str(caught.value)
    assert message == f"Zendesk refused the credentials for user {EMAIL}: Couldn't authenticate you"
    for secret in ("not-the-token", API_TOKEN):
        assert secret not in message + repr(zendesk.config) + caplog.text


async def test_an_end_users_token_is_refused_with_a_reason(
    fake: FakeZendesk, opened: Any
) -> None:
    fake.tokens["alex.morgan@example.com"] = "alex-token"
    zendesk = opened(email="alex.morgan@example.com", api_token="alex-token")
    with pytest.raises(Rejected, match=r"is not an agent \(role end-user\); deskbot needs"):
        await zendesk.create(hand_off(), "R1")


async def test_a_403_names_what_is_missing(fake: FakeZendesk, zendesk: Zendesk) -> None:
    fake.fail_next("POST", "/api/v2/tickets.json", 403)
    with pytest.raises(Forbidden, match="no permission to create tickets for user"):
        await zendesk.create(hand_off(), "R1")


async def test_a_429_storm_is_waited_out(
    fake: FakeZendesk, zendesk: Zendesk, clock: FakeClock
) -> None:
    fake.fail_next("POST", "/api/v2/tickets.json", 429, times=3, headers={"Retry-After": "11"})
    await zendesk.create(hand_off(), "R1")
    assert len(fake.tickets) == 1 and clock.sleeps[:3] == [pytest.approx(11.25)] * 3


async def test_an_outage_then_recovery(
    fake: FakeZendesk, zendesk: Zendesk, clock: FakeClock
) -> None:
    fake.fail_next("GET", "/api/v2/users/search.json", 500, times=5)
    for _ in range(2):
        with pytest.raises(Unavailable):
            await zendesk.requests_of("alex.morgan@example.com")
    calls = len(fake.calls)
    with pytest.raises(Unavailable, match="unavailable"):
        await zendesk.requests_of("alex.morgan@example.com")
    assert len(fake.calls) == calls
    clock.advance(30)
    assert await zendesk.requests_of("alex.morgan@example.com") == []


async def test_a_timeout_after_the_ticket_was_created_leaves_one_ticket_and_one_note(
    fake: FakeZendesk, zendesk: Zendesk
) -> None:
    fake.stall_after("POST", "/api/v2/tickets.json", 0.6)
    ref = await zendesk.create(hand_off(), "REQ2000042")
    assert list(fake.tickets) == [int(ref.id)]
    assert len(fake.comments(ref.id, public=False)) == 1
    again = await zendesk.create(hand_off(), "REQ2000042", retry=True)
    assert again == ref and len(fake.tickets) == 1
    assert len(fake.comments(ref.id, public=False)) == 1


async def test_a_comment_that_timed_out_after_it_was_added_is_not_doubled(
    fake: FakeZendesk, zendesk: Zendesk
) -> None:
    ref = await zendesk.create(hand_off(), "R1")
    fake.stall_after("PUT", f"/api/v2/tickets/{ref.id}.json", 0.6)
    await zendesk.comment(ref, "hello?", "Alex Morgan")
    await zendesk.comment(ref, "hello?", "Alex Morgan", retry=True)
    assert [c["body"] for c in fake.comments(ref.id, public=True)][1:] == ["hello?"]
