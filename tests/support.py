"""Helpers that make tests read like conversations: `await bot.say("I forgot my password")`."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web

from bot.dialogue.messages import Identity, IncomingMessage, Reply
from bot.dialogue.relay import Relay
from bot.dialogue.services import Services
from bot.dialogue.turns import Turns
from handoff.outbox import Outbox


@dataclass
class ChatBot:
    turns: Turns
    relay: Relay
    services: Services
    user: Identity = field(
        default_factory=lambda: Identity("u-alex", "alex.morgan@example.com", "Alex Morgan")
    )
    channel: str = "web"
    conversation: str = "c-1"
    last: list[Reply] = field(default_factory=list)

    async def say(self, text: str, message_id: str | None = None) -> list[Reply]:
        self.last = await self.turns.handle(
            IncomingMessage(self.channel, self.conversation, self.user, text, message_id=message_id)
        )
        return self.last

    async def press(self, action: str) -> list[Reply]:
        self.last = await self.turns.handle(
            IncomingMessage(self.channel, self.conversation, self.user, "", action)
        )
        return self.last

    def as_user(self, user: Identity, conversation: str) -> ChatBot:
        return ChatBot(self.turns, self.relay, self.services, user, self.channel, conversation)

    @property
    def kinds(self) -> list[str]:
        return [r.kind for r in self.last]

    @property
    def text(self) -> str:
        return "\n".join(r.text for r in self.last)

    def reply(self, kind: str) -> Reply:
        return next(r for r in self.last if r.kind == kind)

    def conversation_row(self):  # type: ignore[no-untyped-def]
        return self.services.conversations.find(self.channel, self.conversation)

    def ticket(self):  # type: ignore[no-untyped-def]
        row = self.conversation_row()
        return self.services.tickets.get(row.ticket_id) if row and row.ticket_id else None


async def deliver_all(outbox: Outbox) -> int:
    """Deliver everything due in the outbox (the dispatcher's job in production); how many
    were sent."""
    total = 0
    while sent := await outbox.deliver_due():
        total += sent
    return total


async def start_server(app: web.Application) -> tuple[web.AppRunner, int]:
    """Serve `app` on a free port of 127.0.0.1; the caller cleans the runner up."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, runner.addresses[0][1]


@contextlib.asynccontextmanager
async def listening(app: web.Application) -> AsyncIterator[str]:
    """`app` served on a free port of 127.0.0.1 while the block runs; yields its base URL."""
    runner, port = await start_server(app)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
