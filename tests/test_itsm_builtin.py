"""deskbot's own tickets behind the ticket-system port, on a real SQLite database."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import Engine

from handoff.itsm.port import AgentComment, StateChange, TicketState
from handoff.itsm.systems import builtin
from handoff.tickets import EventKind, TicketStore
from tests.itsm_fake import hand_off


@pytest.fixture
def store(sqlite_engine: Engine) -> TicketStore:
    return TicketStore(sqlite_engine)


async def test_create_and_comment_go_to_the_store(store: TicketStore) -> None:
    system = builtin(store)
    ref = await system.create(hand_off(), "ignored")
    ticket = store.get(int(ref.id))
    assert ticket is not None and ticket.number == ref.number
    assert (ref.system, ref.requester_id) == ("builtin", "alex.morgan@example.com")

    await system.comment(ref, "still failing", "alex.morgan@example.com")
    await system.comment(ref, "still failing", "alex.morgan@example.com", retry=True)
    messages = [e for e in store.events(ticket.id) if e.kind is EventKind.USER_MESSAGE]
    assert [(e.actor, e.body) for e in messages] == [("alex.morgan@example.com", "still failing")]


async def test_a_retried_create_finds_the_conversations_open_ticket(store: TicketStore) -> None:
    system = builtin(store)
    first = await system.create(hand_off(), "c1")
    again = await system.create(hand_off(), "c1", retry=True)
    other = await system.create(dataclasses.replace(hand_off(), conversation_id="conv-2"), "c2")
    assert again == first and other.id != first.id


async def test_changes_are_agent_messages_and_state_moves_since_the_cursor(
    store: TicketStore,
) -> None:
    system = builtin(store)
    mine = await system.create(hand_off(), "c1")
    unwatched = await system.create(dataclasses.replace(hand_off(), conversation_id="c2"), "c2")
    start = await system.changes(None, [mine])
    assert start.events == ()

    store.claim(int(mine.id), "beth")
    store.add_event(int(mine.id), EventKind.AGENT_MESSAGE, "beth", "Looking now.")
    store.add_event(int(mine.id), EventKind.NOTE, "beth", "internal only")
    store.add_event(int(unwatched.id), EventKind.AGENT_MESSAGE, "beth", "for someone else")
    await system.comment(mine, "thanks", "alex.morgan@example.com")
    store.resolve(int(mine.id), "beth", "reset the VPN profile")
    changes = await system.changes(start.cursor, [mine])

    comment, claimed, resolved = changes.events
    assert isinstance(comment, AgentComment) and comment.text == "Looking now."
    assert isinstance(claimed, StateChange) and claimed.state is TicketState.IN_PROGRESS
    assert isinstance(resolved, StateChange) and resolved.state.ended
    assert (await system.changes(changes.cursor, [mine])).events == ()


async def test_status_is_the_requesters_own_tickets_only(store: TicketStore) -> None:
    system = builtin(store)
    mine = await system.create(hand_off(), "c1")
    theirs = await system.create(hand_off("sam.taylor@example.com"), "c2")
    assert [v.number for v in await system.requests_of("Alex.Morgan@example.com")] == [
        mine.number
    ]
    found = await system.request("alex.morgan@example.com", mine.number.lower())
    assert found is not None and found.status == "new"
    assert await system.request("alex.morgan@example.com", theirs.number) is None
    assert await system.request("alex.morgan@example.com", "REQ9999999") is None


async def test_a_ticket_watched_late_still_gets_what_happened_before(store: TicketStore) -> None:
    system = builtin(store)
    early = await system.create(hand_off(), "c1")
    store.add_event(int(early.id), EventKind.AGENT_MESSAGE, "beth", "before anyone watched")
    late = await system.create(dataclasses.replace(hand_off(), conversation_id="c2"), "c2")
    store.add_event(int(late.id), EventKind.AGENT_MESSAGE, "beth", "on the watched one")
    cursor = (await system.changes(None, [late])).cursor
    changes = await system.changes(cursor, [late, early])
    assert [e.text for e in changes.events if isinstance(e, AgentComment)] == [
        "before anyone watched"
    ]
