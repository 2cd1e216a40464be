"""The desk relay: what agents do with a handed-off conversation, from whichever desk they
work in (Slack, Teams, the console). Claim, reply, note, hand back, resolve: each changes the
ticket, tells the employee in their channel, and tells the other desks.

`origin` names the desk an agent acted in, so that desk does not echo its own action.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from bot.dialogue import wording
from bot.dialogue.conversations import Conversation
from bot.dialogue.messages import Reply
from bot.dialogue.outbound import PULL_CHANNELS, notify_desks, queue_replies
from bot.dialogue.services import Services
from bot.redaction import redact
from bot.seams import DeskEvent
from flows.types import FlowState
from handoff.tickets import EventKind, Ticket


class Relay:
    def __init__(self, services: Services) -> None:
        self.s = services

    def _deliver(
        self, conn: Connection, conversation: Conversation, replies: Sequence[Reply], role: str
    ) -> None:
        """Put replies in the transcript, and push them to channels that do not poll."""
        self.s.conversations.add_messages(
            conn, conversation.id, [(role, r.text, {"reply": r.to_dict()}) for r in replies]
        )
        channel = conversation.channel
        if channel not in PULL_CHANNELS:
            queue_replies(self.s.outbox, channel, conversation.reference, replies, conn)

    def _ticket(self, ticket_id: int) -> Ticket:
        """A ticket just changed, so it exists (unless deleted since, which is an error)."""
        ticket = self.s.tickets.get(ticket_id)
        if ticket is None:
            raise LookupError(f"ticket {ticket_id} is gone")
        return ticket

    def _conversation_of(self, ticket: Ticket) -> Conversation | None:
        return self.s.conversations.get(ticket.conversation_id) if ticket.conversation_id else None

    async def claim(self, ticket_id: int, agent: str, origin: str = "") -> bool:
        """Claim a ticket; the user is told a named person is now answering. One winner.
        `origin` names the desk the agent acted in, so it does not echo its own action."""
        return await asyncio.to_thread(self._claim, ticket_id, agent, origin)

    def _claim(self, ticket_id: int, agent: str, origin: str) -> bool:
        if not self.s.tickets.claim(ticket_id, agent):
            return False
        ticket = self._ticket(ticket_id)
        conversation = self._conversation_of(ticket)
        with self.s.conversations.engine.begin() as conn:
            if conversation is not None:
                self.s.conversations.save(
                    conn,
                    replace(conversation, mode="human", agent_name=agent, ticket_id=ticket.id),
                    checked=False,
                )
                self._deliver(
                    conn,
                    conversation,
                    [Reply(wording.AGENT_JOINED.format(agent=agent), "handover")],
                    "system",
                )
            extra = {"agent": agent, "origin": origin}
            notify_desks(self.s, conn, ticket, DeskEvent.CLAIMED, extra)
        return True

    async def reply(
        self, ticket_id: int, agent: str, text: str, origin: str = "", *, source: str = ""
    ) -> bool:
        """An agent's message to the user (redacted like everything else). `source` is the
        desk's own id for the message (an ITSM comment's): one already relayed is dropped."""
        return await asyncio.to_thread(
            self._reply, ticket_id, agent, redact(text).text, origin, source
        )

    def _reply(self, ticket_id: int, agent: str, text: str, origin: str, source: str) -> bool:
        ticket = self.s.tickets.get(ticket_id)
        if ticket is None or not ticket.open or not text.strip():
            return False
        conversation = self._conversation_of(ticket)
        try:
            return self._relay_reply(ticket, conversation, agent, text, origin, source)
        except IntegrityError:
            if source:
                return False  # another replica relayed this very message a moment ago
            raise

    def _relay_reply(
        self,
        ticket: Ticket,
        conversation: Conversation | None,
        agent: str,
        text: str,
        origin: str,
        source: str,
    ) -> bool:
        with self.s.conversations.engine.begin() as conn:
            if source and self.s.tickets.has_source(conn, ticket.id, source):
                return False
            self.s.tickets.add_event(
                ticket.id, EventKind.AGENT_MESSAGE, agent, text, conn, source=source or None
            )
            if conversation is not None:
                self._deliver(
                    conn,
                    conversation,
                    [Reply(text, "agent", automated=False, author=agent)],
                    "agent",
                )
            extra = {"agent": agent, "text": text, "origin": origin}
            notify_desks(self.s, conn, ticket, DeskEvent.AGENT_MESSAGE, extra)
        return True

    async def note(self, ticket_id: int, agent: str, text: str) -> bool:
        """An internal note: on the ticket only, never shown to the user."""

        def write() -> bool:
            if self.s.tickets.get(ticket_id) is None:
                return False
            self.s.tickets.add_event(ticket_id, EventKind.NOTE, agent, redact(text).text)
            return True

        return await asyncio.to_thread(write)

    async def resolve(
        self,
        ticket_id: int,
        agent: str,
        resolution: str,
        origin: str = "",
        *,
        outcome: str = "resolved",
    ) -> bool:
        """Close the ticket and hand the user back to the assistant, asking if it is solved.
        `outcome` is how the user is told it ended ("resolved", "closed", "canceled")."""
        return await asyncio.to_thread(
            self._close, ticket_id, agent, redact(resolution).text, True, origin, outcome
        )

    async def hand_back(self, ticket_id: int, agent: str, origin: str = "") -> bool:
        """Return the user to the assistant without closing the ticket."""
        return await asyncio.to_thread(self._close, ticket_id, agent, "", False, origin)

    async def tell(self, ticket_id: int, text: str) -> bool:
        """A notice from the assistant to the ticket's employee about where their request is
        (it reached the desk's ticket system, or will once that is back)."""

        def write() -> bool:
            ticket = self.s.tickets.get(ticket_id)
            conversation = self._conversation_of(ticket) if ticket is not None else None
            if conversation is None:
                return False
            with self.s.conversations.engine.begin() as conn:
                self._deliver(conn, conversation, [Reply(text, "notice")], "system")
            return True

        return await asyncio.to_thread(write)

    def _close(
        self,
        ticket_id: int,
        agent: str,
        resolution: str,
        resolve: bool,
        origin: str,
        outcome: str = "resolved",
    ) -> bool:
        done = (
            self.s.tickets.resolve(ticket_id, agent, resolution)
            if resolve
            else self.s.tickets.hand_back(ticket_id, agent)
        )
        if not done:
            return False
        ticket = self._ticket(ticket_id)
        conversation = self._conversation_of(ticket)
        with self.s.conversations.engine.begin() as conn:
            if conversation is not None:
                fields = {
                    "agent": agent,
                    "number": ticket.public_number,
                    "assistant": wording.ASSISTANT,
                    "outcome": outcome,
                }
                if resolve:
                    text = wording.RESOLVED.format(**fields)
                    if resolution.strip():
                        text += "\n" + wording.RESOLUTION_NOTE.format(resolution=resolution.strip())
                    back = Reply(text, "handback", buttons=(wording.SOLVED, wording.NOT_SOLVED))
                else:
                    back = Reply(
                        wording.HANDED_BACK.format(**fields),
                        "handback",
                        buttons=(wording.TALK_TO_PERSON,),
                    )
                # a fresh start with the assistant: earlier questions belong to the ticket
                self.s.conversations.save(
                    conn,
                    replace(
                        conversation, mode="bot", agent_name=None, flow_state=FlowState().to_dict()
                    ),
                    checked=False,
                )
                self._deliver(conn, conversation, [back], "system")
            event = DeskEvent.RESOLVED if resolve else DeskEvent.HANDED_BACK
            notify_desks(self.s, conn, ticket, event, {"agent": agent})
        return True
