"""The Zendesk adapter against a local fake of the Support API."""

from __future__ import annotations

import pytest

from handoff.itsm.errors import Forbidden, Rejected
from handoff.itsm.port import AgentComment, StateChange, TicketState
from handoff.itsm.zendesk import Zendesk
from tests.itsm_fake import Opened, hand_off
from tests.zendesk_fake import ME, FakeZendesk

pytest_plugins = ("tests.itsm_fixtures",)  # fake, opened, system
SYSTEM = "zendesk"


@pytest.fixture
def zendesk(system: Zendesk) -> Zendesk:
    return system


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


async def test_an_end_users_token_is_refused_with_a_reason(
    fake: FakeZendesk, opened: Opened
) -> None:
    fake.tokens["alex.morgan@example.com"] = "alex-token"
    zendesk = opened(email="alex.morgan@example.com", api_token="alex-token")
    with pytest.raises(Rejected, match=r"is not an agent \(role end-user\); deskbot needs"):
        await zendesk.create(hand_off(), "R1")


async def test_a_403_names_what_is_missing(fake: FakeZendesk, zendesk: Zendesk) -> None:
    fake.fail_next("POST", "/api/v2/tickets.json", 403)
    with pytest.raises(Forbidden, match="no permission to create tickets for user"):
        await zendesk.create(hand_off(), "R1")


async def test_a_comment_that_timed_out_after_it_was_added_is_not_doubled(
    fake: FakeZendesk, zendesk: Zendesk
) -> None:
    ref = await zendesk.create(hand_off(), "R1")
    fake.stall_after("PUT", f"/api/v2/tickets/{ref.id}.json", 0.6)
    await zendesk.comment(ref, "hello?", "Alex Morgan")
    await zendesk.comment(ref, "hello?", "Alex Morgan", retry=True)
    assert [c["body"] for c in fake.comments(ref.id, public=True)][1:] == ["hello?"]
