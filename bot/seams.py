"""The two extension points of deskbot's edge, declared in one place.

A **Channel** is where employees talk to deskbot (Slack, Teams, the web chat); a **Desk** is
where agents receive hand-offs and answer them (the Slack agents' channel, the Teams agents'
channel, the console, the desk's ITSM). The composition root (bot.wiring) builds both from
Settings, mounts the channels and registers the desks and the outbox senders. Neither ever
changes `Services`: a new channel or desk is a class that satisfies its Protocol, and one
registration in the composition root.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Protocol

from aiohttp import web

from handoff.outbox import OutboxMessage, Sender

log = logging.getLogger(__name__)


class Channel(Protocol):
    """Where employees talk to deskbot.

    A channel only converts: its platform's events become `IncomingMessage`s for
    `Turns.handle` (`channel` is the channel's `name`, `message_id` the platform's delivery id
    so that retries are answered once, `reference` whatever reaches the user later), and the
    `Reply`s that come back are rendered in the platform's terms. The conversation's state is
    the core's, never the channel's. Replies that do not come from the user's own turn (a
    person's words, a hand-back, a late answer) are pushed through the outbox to the sender the
    composition root registers under `name`, except for channels whose clients read the
    transcript themselves (`bot.dialogue.outbound.PULL_CHANNELS`). The terminal chat makes the
    same conversions outside the server, so it has nothing to mount.
    """

    @property
    def name(self) -> str:
        """`IncomingMessage.channel` of its messages: "slack", "teams", "web"."""
        ...

    def mount(self, app: web.Application) -> None:
        """Add the channel's routes to the server, and work that lives as long as the server
        (`app.cleanup_ctx`)."""
        ...


class DeskEvent(StrEnum):
    """What happened to a ticket, as desks hear of it. The values are stored in queued outbox
    rows (`payload["event"]`): renaming one would strand the rows already queued."""

    OPENED = "opened"
    USER_MESSAGE = "user_message"  # payload: text
    AGENT_MESSAGE = "agent_message"  # payload: agent, text, origin
    CLAIMED = "claimed"  # payload: agent, origin
    RESOLVED = "resolved"  # payload: agent
    HANDED_BACK = "handed_back"  # payload: agent


class Desk(Protocol):
    """Where agents receive hand-offs and answer them.

    While a desk is `listening`, every ticket event is queued for it in the outbox, in the
    transaction of the change, and `deliver` gets it at least once; it raises to have it tried
    again later (the platform is down, the post is not there yet). What agents do at the desk
    goes to the relay (`bot.dialogue.relay.Relay`) with `origin=desk.origin`, and the events it
    causes carry that origin, so the desk where an agent wrote does not echo it.
    """

    @property
    def origin(self) -> str:
        """The desk's name: "slack", "teams", "console"."""
        ...

    @property
    def listening(self) -> bool:
        """Whether ticket events are queued for this desk now. The Teams desk starts once it
        knows the agents' channel; the console reads the tickets itself and never does."""
        ...

    async def deliver(self, event: DeskEvent, ticket_id: int, payload: Mapping[str, Any]) -> None:
        """One ticket event; `payload` carries the event's details (see `DeskEvent`) and
        `attempt`, 1 on the first delivery (a later one may follow a write that was made)."""
        ...


def destination(origin: str) -> str:
    """A desk's outbox destination (the names are stored in queued outbox rows)."""
    return f"desk:{origin}"


class Desks:
    """The registered desks. The composition root adds them; the dialogue core asks which
    listen."""

    def __init__(self) -> None:
        self._desks: dict[str, Desk] = {}

    def add(self, desk: Desk) -> None:
        if desk.origin in self._desks:
            raise ValueError(f"two desks are called {desk.origin!r}")
        self._desks[desk.origin] = desk

    def listening(self) -> tuple[str, ...]:
        """The outbox destinations of the desks that hear of ticket events now."""
        return tuple(destination(o) for o, desk in self._desks.items() if desk.listening)


def desk_sender(desk: Desk) -> Sender:
    """The outbox sender of a desk: the stored event and ticket id, decoded."""

    async def send(message: OutboxMessage) -> None:
        try:
            event = DeskEvent(str(message.payload.get("event")))
        except ValueError:
            log.warning("%s desk: nothing to do for an unknown event", desk.origin)
            return
        payload = {**message.payload, "attempt": message.attempts}
        await desk.deliver(event, int(message.target["ticket_id"]), payload)

    return send
