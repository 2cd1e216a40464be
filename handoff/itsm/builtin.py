"""The built-in ticket system: deskbot's own tickets table, behind the same port.

The default (`DESKBOT_TICKETS=builtin`): no credentials, and agents work in the console,
Slack or Teams as before. Store calls are blocking SQL, so they run in a worker thread.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

from handoff.itsm.port import (
    AgentComment,
    Change,
    Changes,
    Probe,
    StateChange,
    TicketRef,
    TicketState,
    ordered,
)
from handoff.tickets import Event, EventKind, NewTicket, RequestView, Ticket, TicketStore

# What an agent's action on a built-in ticket means for the employee.
_STATES = {
    EventKind.CLAIMED: TicketState.IN_PROGRESS,
    EventKind.HANDED_BACK: TicketState.ON_HOLD,
    EventKind.RESOLVED: TicketState.RESOLVED,
}


class Builtin:
    name = "builtin"

    def __init__(self, store: TicketStore) -> None:
        self.store = store

    async def create(
        self, ticket: NewTicket, correlation_id: str, *, retry: bool = False
    ) -> TicketRef:
        """The store is transactional, so nothing is uncertain; on `retry` the conversation's
        open ticket (there is at most one) is the earlier attempt's."""
        if retry and ticket.conversation_id:
            conversation = ticket.conversation_id
            found = await asyncio.to_thread(self.store.open_for_conversation, conversation)
            if found is not None:
                return self._ref(found)
        return self._ref(await asyncio.to_thread(self.store.create, ticket))

    async def comment(
        self, ticket: TicketRef, text: str, author: str, *, retry: bool = False
    ) -> None:
        ticket_id = int(ticket.id)
        if retry:
            events = await asyncio.to_thread(self.store.events, ticket_id)
            mine = [e for e in events if e.kind is EventKind.USER_MESSAGE]
            if mine and mine[-1].body == text and mine[-1].actor == author:
                return
        await asyncio.to_thread(
            self.store.add_event, ticket_id, EventKind.USER_MESSAGE, author, text
        )

    async def changes(self, cursor: str | None, watching: Sequence[TicketRef]) -> Changes:
        """The cursor keeps the last event id per ticket, so a ticket watched later still
        gets what happened to it before."""
        seen: dict[str, int] = json.loads(cursor) if cursor else {}
        last = {t.id: int(seen.get(t.id, 0)) for t in watching}
        ids = [int(t) for t in last]
        oldest = min(last.values(), default=0)
        events = await asyncio.to_thread(self.store.events_since, oldest, ids)
        fresh = [e for e in events if e.id > last[str(e.ticket_id)]]
        for event in fresh:
            last[str(event.ticket_id)] = event.id
        out = [change for e in fresh if (change := _change(e)) is not None]
        comments = [c for c in out if isinstance(c, AgentComment)]
        states = [c for c in out if isinstance(c, StateChange)]
        return Changes(ordered(comments, states), json.dumps(last, sort_keys=True))

    async def requests_of(self, email: str, limit: int = 10) -> list[RequestView]:
        views = await asyncio.to_thread(self.store.requests_of, email)
        return views[:limit]

    async def request(self, email: str, number: str) -> RequestView | None:
        ticket = await asyncio.to_thread(self.store.by_number, number)
        if ticket is None or ticket.requester.lower() != email.lower():
            return None
        return RequestView(
            ticket.number, ticket.title, ticket.status.value, ticket.updated_at, ticket.claimed_by
        )

    def probes(self) -> Sequence[Probe]:
        async def tables() -> str:
            await asyncio.to_thread(self.store.queue, limit=1)
            return "the tickets table answers"

        return [Probe("read access to deskbot's tickets", tables)]

    async def close(self) -> None:
        return None

    def _ref(self, ticket: Ticket) -> TicketRef:
        return TicketRef(self.name, str(ticket.id), ticket.number, "", ticket.requester)


def _change(event: Event) -> Change | None:
    ticket_id = str(event.ticket_id)
    if event.kind is EventKind.AGENT_MESSAGE:
        return AgentComment(ticket_id, str(event.id), event.actor or "", event.body, event.at)
    state = _STATES.get(event.kind)
    if state is None:  # created, the employee's messages, internal notes: not for relaying
        return None
    return StateChange(ticket_id, state, event.kind.value, event.at)
