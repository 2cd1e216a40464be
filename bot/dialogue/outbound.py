"""What leaves the dialogue core through the durable outbox: replies for channels whose
clients do not read the transcript themselves, and ticket events for the agents' desks. Both
are written in the transaction of the change that caused them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Connection

from bot.dialogue.messages import Reply
from bot.dialogue.services import Services
from bot.seams import DeskEvent
from handoff.outbox import Outbox, OutboxMessage
from handoff.tickets import Ticket

# Channels that read new messages from the transcript themselves (web chat and terminal
# poll); the others get them pushed through the outbox.
PULL_CHANNELS = frozenset({"web", "terminal"})


def queue_replies(
    outbox: Outbox,
    channel: str,
    reference: Mapping[str, Any],
    replies: Sequence[Reply],
    conn: Connection | None = None,
) -> None:
    """Replies for a channel that does not poll; its outbox sender reads them with
    `replies_of`."""
    outbox.add(channel, dict(reference), {"replies": [r.to_dict() for r in replies]}, conn)


def replies_of(message: OutboxMessage) -> list[Reply]:
    return [Reply.from_dict(r) for r in message.payload.get("replies", ())]


def notify_desks(
    services: Services,
    conn: Connection,
    ticket: Ticket,
    event: DeskEvent,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """Tell every listening desk about a ticket event, in the caller's transaction."""
    payload = {"event": event.value, **(extra or {})}
    for destination in services.desks.listening():
        services.outbox.add(destination, {"ticket_id": ticket.id}, payload, conn)
