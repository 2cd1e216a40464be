"""Employees in Teams: their messages go to the dialogue core and the answer comes back in
the same conversation, within the first-reply budget Teams users expect; anything later (a slow
answer, a person's words, a hand-back) goes through the outbox as a proactive message."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bot.channels.teams import activity as act
from bot.channels.teams import wording as teams_wording
from bot.channels.teams.cards import reply_activity
from bot.channels.teams.identity import Directory
from bot.channels.teams.sdk import BotFramework, Turn
from bot.dialogue import wording
from bot.dialogue.inbox import Entry
from bot.dialogue.messages import IncomingMessage, Reply
from bot.dialogue.outbound import queue_replies, replies_of
from bot.dialogue.services import Services
from bot.dialogue.turns import Turns
from handoff.outbox import OutboxMessage

log = logging.getLogger(__name__)
CHANNEL = "teams"


class TeamsEmployees:
    def __init__(
        self,
        turns: Turns,
        services: Services,
        framework: BotFramework,
        first_reply_seconds: float,
        directory: Directory | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.turns = turns
        self.services = services
        self.framework = framework
        self.first_reply_seconds = first_reply_seconds
        self.clock = clock  # the framework's, which stamps when a turn came in
        self.directory = directory or Directory(clock=clock)
        self._later: set[asyncio.Task[None]] = set()

    async def answer(self, turn: Turn) -> None:
        """Answer within the first-reply budget; a slower answer is announced, then follows
        as a proactive message."""
        activity = turn.activity
        text, action = act.text_of(activity), act.employee_action(activity)
        if not text and not action:
            return
        identity = await self.directory.identity(turn)
        message = IncomingMessage(
            CHANNEL,
            act.conversation_id(activity),
            identity,
            text,
            action,
            act.delivery_id(activity),
            act.reference_of(activity),
        )
        # In the inbox before Teams hears back: a redelivery of an activity whose turn was
        # never saved (the first receiver died) is answered, one already handled is not.
        inbox = self.services.inbox
        accepted = await inbox.receive(message)
        if accepted is None:  # kept in the spool until the database is back
            await self._reply(turn, [Reply(wording.KEPT, "notice")])
            return
        entry = accepted.entry
        if entry is None:
            return  # a redelivery that another process holds or finished
        if entry.replies is not None:  # saved by a process that died before sending them
            await self._reply(turn, entry.replies)
            await self._sent(entry)
            return
        answer = asyncio.ensure_future(
            inbox.process(entry, self.turns.handle(entry.message, entry))
        )
        budget = max(0.0, self.first_reply_seconds - (self.clock() - turn.received))
        try:
            replies = await asyncio.wait_for(asyncio.shield(answer), budget)
        except TimeoutError:
            await self._reply(turn, [Reply(teams_wording.STILL_WORKING, "notice")])
            self._follow_up(answer, entry)
            return
        if replies is None:  # kept in the inbox; answered later as a proactive message
            await self._reply(turn, [Reply(wording.KEPT, "notice")])
            return
        await self._reply(turn, replies)
        await self._sent(entry)

    async def resume(self, entry: Entry) -> None:
        """An accepted activity whose turn did not run here (taken over from a process that
        died, or replayed from the spool): answered as a proactive message."""
        if entry.replies is None:
            replies = await self.turns.handle(entry.message, entry)
        else:  # saved by a process that died before sending them
            replies = list(entry.replies)
        await self._queue(entry.message.reference, replies)
        await self._sent(entry)

    async def _sent(self, entry: Entry) -> None:
        try:
            await asyncio.to_thread(self.services.inbox.sent, entry)
        except Exception as exc:  # sent again by whoever takes the row over: rare, and harmless
            log.warning("teams: reply sent, not recorded: %s", exc.__class__.__name__)

    async def _reply(self, turn: Turn, replies: Sequence[Reply]) -> None:
        """Send in the turn; whatever cannot be sent now goes to the outbox, which retries."""
        for index, reply in enumerate(replies):
            try:
                await turn.reply(reply_activity(reply))
            except Exception as exc:
                log.warning("teams: reply failed, queued: %s", exc.__class__.__name__)
                await self._queue(act.reference_of(turn.activity), replies[index:])
                return

    def _follow_up(self, answer: asyncio.Future[list[Reply] | None], entry: Entry) -> None:
        async def deliver() -> None:
            await self._queue(entry.message.reference, await answer or [])
            await self._sent(entry)

        task = asyncio.create_task(deliver())
        self._later.add(task)
        task.add_done_callback(self._later.discard)

    async def _queue(self, reference: Mapping[str, Any], replies: Sequence[Reply]) -> None:
        if replies:
            await asyncio.to_thread(
                queue_replies, self.services.outbox, CHANNEL, reference, replies
            )

    async def welcome(self, turn: Turn) -> None:
        """The app was installed for this user: say what deskbot is. This is the disclosure the
        dialogue core would otherwise give with the first answer, so the core keeps it."""
        activity = turn.activity
        identity = await self.directory.identity(turn)
        welcome = Reply(teams_wording.WELCOME, "disclosure", buttons=(wording.TALK_TO_PERSON,))
        await self._reply(turn, [welcome])  # if Teams refuses it now, the outbox sends it later
        greeted = IncomingMessage(
            CHANNEL, act.conversation_id(activity), identity, reference=act.reference_of(activity)
        )
        await self.turns.greeted(greeted, welcome)

    # -- the outbox: messages for employees that did not come from their own turn ------------

    async def deliver(self, message: OutboxMessage) -> None:
        """An agent's words, a hand-back, a slow answer: proactive messages. Raises on failure,
        so the outbox tries again later."""
        for reply in replies_of(message):
            await self.framework.send(message.target, reply_activity(reply))

    async def close(self) -> None:
        for task in list(self._later):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
