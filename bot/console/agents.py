"""The agents' side: the queue of handed-off conversations and one conversation's view, where
an agent claims it (one winner, through the relay), replies to the employee in their own
channel, adds internal notes, resolves or hands back to the assistant."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web

from bot.console.context import ORIGIN, account_of, audit, console_of
from bot.console.render import fragment, page, person, refusal
from bot.db import aware
from bot.dialogue.conversations import StoredMessage
from flows.intents import Reason
from handoff.tickets import OPEN, Event, EventKind, Priority, QueueFilter, Status, Ticket

MAX_TEXT = 4000
STATUS_FILTERS = {
    "open": OPEN,
    "new": (Status.NEW,),
    "claimed": (Status.CLAIMED,),
    "waiting": (Status.WAITING,),
    "resolved": (Status.RESOLVED,),
}
CHANNELS = ("web", "slack", "teams", "terminal", "portal")
EVENT_LINES = {
    EventKind.NOTE: "note",
    EventKind.USER_MESSAGE: "user",
    EventKind.AGENT_MESSAGE: "agent",
}


@dataclass(frozen=True)
class Line:
    """One line of the transcript as an agent sees it (already redacted when stored)."""

    at: datetime
    role: str  # "user", "bot", "agent", "system", "note"
    who: str
    text: str


def _when(value: object, default: datetime) -> datetime:
    """A transcript time (ISO text, stored by the core); timezone-aware for sorting."""
    try:
        at = datetime.fromisoformat(str(value))
    except ValueError:
        return default
    return aware(at)


# -- the queue --------------------------------------------------------------------------------


def queue_filter(request: web.Request, agent: str) -> tuple[QueueFilter, dict[str, str]]:
    """Filters from the query string; unknown values are ignored, never echoed."""
    q = request.query
    chosen = {
        "status": q.get("status", "open"),
        "priority": q.get("priority", ""),
        "reason": q.get("reason", ""),
        "channel": q.get("channel", ""),
    }
    if chosen["status"] not in (*STATUS_FILTERS, "mine"):
        chosen["status"] = "open"
    if chosen["priority"] not in {p.value for p in Priority}:
        chosen["priority"] = ""
    if chosen["reason"] not in {r.value for r in Reason}:
        chosen["reason"] = ""
    if chosen["channel"] not in CHANNELS:
        chosen["channel"] = ""
    mine = chosen["status"] == "mine"
    where = QueueFilter(
        statuses=(Status.CLAIMED,) if mine else STATUS_FILTERS[chosen["status"]],
        priority=chosen["priority"] or None,
        reason=chosen["reason"] or None,
        channel=chosen["channel"] or None,
        claimed_by=agent if mine else None,
    )
    return where, chosen


async def _queue(request: web.Request) -> tuple[list[Ticket], dict[str, str]]:
    console = console_of(request)
    where, chosen = queue_filter(request, account_of(request).display)
    tickets = await asyncio.to_thread(console.services.tickets.queue, where)
    return tickets, chosen


async def queue_page(request: web.Request) -> web.StreamResponse:
    tickets, chosen = await _queue(request)
    return page(
        request,
        "queue.html",
        tickets=tickets,
        chosen=chosen,
        statuses=(*STATUS_FILTERS, "mine"),
        priorities=[p.value for p in Priority],
        reasons=[r.value for r in Reason],
        channels=CHANNELS,
        now=datetime.now(UTC),
        query=request.query_string,
    )


async def queue_rows(request: web.Request) -> web.StreamResponse:
    """The queue's rows alone, for the page's live refresh."""
    tickets, _ = await _queue(request)
    return fragment("_queue_rows.html", tickets=tickets, now=datetime.now(UTC))


# -- one conversation -------------------------------------------------------------------------


def transcript(ticket: Ticket, messages: list[StoredMessage], events: list[Event]) -> list[Line]:
    """The conversation as the employee saw it, with the desk's internal notes in place."""
    requester = person(ticket.requester, ticket.requester_name)
    lines: list[Line] = []
    if messages:
        for m in messages:
            reply = m.data.get("reply") or {}
            who = {
                "user": requester,
                "bot": "deskbot (automated)",
                "agent": f"{reply.get('author') or 'Agent'} (service desk)",
                "system": "deskbot (automated)",
            }.get(m.role, m.role)
            lines.append(Line(m.at, m.role, who, m.text))
        kept = {EventKind.NOTE}
    else:
        for row in ticket.transcript:
            at = _when(row.get("at"), ticket.created_at)
            role = str(row.get("role", "user"))
            who = requester if role == "user" else "deskbot (automated)"
            lines.append(Line(at, role, who, str(row.get("text", ""))))
        kept = set(EVENT_LINES)
    for e in events:
        if e.kind in kept:
            role = EVENT_LINES[e.kind]
            who = {"note": f"{e.actor} (internal note)", "user": requester}.get(
                role, f"{e.actor} (service desk)"
            )
            lines.append(Line(e.at, role, who, e.body))
    return sorted(lines, key=lambda line: line.at)


async def _ticket(request: web.Request) -> Ticket:
    console = console_of(request)
    ticket = await asyncio.to_thread(
        console.services.tickets.get, int(request.match_info["ticket_id"])
    )
    if ticket is None:
        raise refusal(request, 404, "There is no such request.")
    return ticket


async def _lines(request: web.Request, ticket: Ticket) -> list[Line]:
    services = console_of(request).services
    messages: list[StoredMessage] = []
    if ticket.conversation_id:
        messages = await asyncio.to_thread(services.conversations.messages, ticket.conversation_id)
    events = await asyncio.to_thread(services.tickets.events, ticket.id)
    return transcript(ticket, messages, events)


async def ticket_page(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    ticket = await _ticket(request)
    knowledge = console.services.knowledge
    title = {a.id: a.title for a in knowledge.articles()}
    await audit(request, "viewed", ticket.number)
    return page(
        request,
        "ticket.html",
        ticket=ticket,
        lines=await _lines(request, ticket),
        offered=[(a, title.get(a, a), c) for a, c in ticket.offered],
        feedback=[(a, title.get(a, a), h) for a, h in ticket.feedback],
        mine=ticket.claimed_by == account_of(request).display,
        claimable=ticket.status in (Status.NEW, Status.WAITING),
        now=datetime.now(UTC),
    )


async def ticket_transcript(request: web.Request) -> web.StreamResponse:
    ticket = await _ticket(request)
    return fragment("_transcript.html", lines=await _lines(request, ticket))


def _back(ticket: Ticket, done: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"/console/tickets/{ticket.id}?done={done}")


async def _text(request: web.Request, field: str) -> str:
    form = await request.post()
    value = form.get(field, "")
    text = value.strip() if isinstance(value, str) else ""
    if len(text) > MAX_TEXT:
        raise refusal(request, 400, f"At most {MAX_TEXT} characters.")
    return text


def _mine(request: web.Request, ticket: Ticket) -> bool:
    return ticket.status is Status.CLAIMED and ticket.claimed_by == account_of(request).display


async def claim(request: web.Request) -> web.StreamResponse:
    ticket = await _ticket(request)
    agent = account_of(request).display
    won = await console_of(request).relay.claim(ticket.id, agent, ORIGIN)
    await audit(request, "claimed" if won else "claim_lost", ticket.number)
    raise _back(ticket, "claimed" if won else "claim_lost")


async def reply(request: web.Request) -> web.StreamResponse:
    ticket = await _ticket(request)
    text = await _text(request, "text")
    if not _mine(request, ticket):
        raise _back(ticket, "not_yours" if ticket.open else "closed")
    if not text:
        raise _back(ticket, "empty")
    sent = await console_of(request).relay.reply(
        ticket.id, account_of(request).display, text, ORIGIN
    )
    await audit(request, "replied", ticket.number, {"characters": len(text)})
    raise _back(ticket, "replied" if sent else "closed")


async def note(request: web.Request) -> web.StreamResponse:
    ticket = await _ticket(request)
    text = await _text(request, "text")
    if not text:
        raise _back(ticket, "empty")
    await console_of(request).relay.note(ticket.id, account_of(request).display, text)
    await audit(request, "noted", ticket.number, {"characters": len(text)})
    raise _back(ticket, "noted")


async def resolve(request: web.Request) -> web.StreamResponse:
    ticket = await _ticket(request)
    resolution = await _text(request, "resolution")
    if not _mine(request, ticket):
        raise _back(ticket, "not_yours" if ticket.open else "closed")
    done = await console_of(request).relay.resolve(
        ticket.id, account_of(request).display, resolution, ORIGIN
    )
    await audit(request, "resolved", ticket.number)
    raise _back(ticket, "resolved" if done else "closed")


async def hand_back(request: web.Request) -> web.StreamResponse:
    ticket = await _ticket(request)
    if not _mine(request, ticket):
        raise _back(ticket, "not_yours" if ticket.open else "closed")
    if not ticket.conversation_id:  # raised outside the chat: no assistant to return to
        raise _back(ticket, "no_conversation")
    done = await console_of(request).relay.hand_back(ticket.id, account_of(request).display, ORIGIN)
    await audit(request, "handed_back", ticket.number)
    raise _back(ticket, "handed_back" if done else "closed")
