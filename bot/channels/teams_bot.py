"""What deskbot does with each Teams activity. Employees' messages go to the dialogue core and
the answer comes back in the same conversation; activities in a hand-off thread belong to the
agents' desk."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from bot.channels import teams_activity as act
from bot.channels.teams_cards import reply_activity
from bot.channels.teams_desk import AgentDesk
from bot.channels.teams_sdk import BotFramework, Turn
from bot.dialogue import wording
from bot.dialogue.messages import Identity, IncomingMessage, Reply
from bot.dialogue.outbound import queue_replies, replies_of
from bot.dialogue.services import Services
from bot.dialogue.turns import Turns
from handoff.outbox import OutboxMessage

log = logging.getLogger(__name__)
CHANNEL = "teams"


class Roster:
    """Who wrote: the Azure AD object id of the activity's sender, and their e-mail (or user
    principal name) from the conversation roster, cached. Never from what a message says."""

    def __init__(self, ttl: float = 3600.0, limit: int = 10_000, timeout: float = 2.0) -> None:
        self.ttl = ttl
        self.limit = limit
        self.timeout = timeout
        self._cache: OrderedDict[str, tuple[float, Identity]] = OrderedDict()

    async def identity(self, turn: Turn) -> Identity:
        sender = turn.activity["from"]
        key = str(sender["id"])
        cached = self._cache.get(key)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        member: dict[str, object] = {}
        try:
            member = dict(await asyncio.wait_for(turn.member(key), self.timeout))
        except Exception as exc:  # no e-mail then: answers still work, request status explains
            log.warning("teams: roster lookup failed: %s", exc.__class__.__name__)
        email = member.get("email") or member.get("userPrincipalName")
        identity = Identity(
            str(sender.get("aadObjectId") or member.get("aadObjectId") or key),
            email.lower() if isinstance(email, str) and "@" in email else None,
            str(member.get("name") or act.sender_name(turn.activity)),
        )
        ttl = self.ttl if member else min(self.ttl, 300.0)  # ask again soon after a failure
        self._cache[key] = (time.monotonic() + ttl, identity)
        self._cache.move_to_end(key)
        if len(self._cache) > self.limit:
            self._cache.popitem(last=False)
        return identity


class TeamsBot:
    def __init__(
        self,
        turns: Turns,
        services: Services,
        framework: BotFramework,
        desk: AgentDesk,
        first_reply_seconds: float,
        roster: Roster | None = None,
    ) -> None:
        self.turns = turns
        self.services = services
        self.framework = framework
        self.desk = desk
        self.first_reply_seconds = first_reply_seconds
        self.roster = roster or Roster()
        self._later: set[asyncio.Task[None]] = set()
        self._handlers: dict[str, Callable[[Turn], Awaitable[None]]] = {
            "message": self._message,
            "invoke": self._invoke,
            "conversationUpdate": self._conversation_update,
        }

    async def on_turn(self, turn: Turn) -> None:
        handler = self._handlers.get(turn.activity["type"])
        if handler is not None:
            await handler(turn)

    async def _message(self, turn: Turn) -> None:
        activity = turn.activity
        if activity["from"]["id"] == activity["recipient"]["id"]:
            return  # our own message echoed back
        if not act.is_personal(activity):
            if await self.desk.in_thread(turn):
                return
            await self.desk.seen(turn)
            if not act.mentions_bot(activity) and not act.submitted(activity):
                return  # channel talk not addressed to deskbot
            if act.is_setup_command(act.text_of(activity)):
                await self.desk.set_up(turn)
                return
        await self._employee(turn)

    async def _invoke(self, turn: Turn) -> None:
        if turn.activity.get("name") == "adaptiveCard/action" and not act.is_personal(
            turn.activity
        ):
            await self.desk.in_thread(turn)  # our only Action.Execute cards are the desk's

    async def _conversation_update(self, turn: Turn) -> None:
        if not act.bot_added(turn.activity):
            return
        if act.is_personal(turn.activity):
            await self._welcome(turn)
        else:  # added to a team: perhaps the agents' one
            await self.desk.seen(turn)

    # -- employees ----------------------------------------------------------------------------

    async def _employee(self, turn: Turn) -> None:
        """Answer within the first-reply budget; a slower answer is announced, then follows
        as a proactive message."""
        activity = turn.activity
        text, action = act.text_of(activity), act.employee_action(activity)
        if not text and not action:
            return
        identity = await self.roster.identity(turn)
        message = IncomingMessage(
            CHANNEL,
            act.conversation_id(activity),
            identity,
            text,
            action,
            act.delivery_id(activity),
            act.reference_of(activity),
        )
        answer = asyncio.ensure_future(self.turns.handle(message))
        budget = max(0.0, self.first_reply_seconds - (time.monotonic() - turn.received))
        try:
            replies = await asyncio.wait_for(asyncio.shield(answer), budget)
        except TimeoutError:
            await self._reply(turn, [Reply(wording.TEAMS_STILL_WORKING, "notice")])
            self._follow_up(answer, message)
            return
        await self._reply(turn, replies)

    async def _reply(self, turn: Turn, replies: Sequence[Reply]) -> None:
        """Send in the turn; whatever cannot be sent now goes to the outbox, which retries."""
        for index, reply in enumerate(replies):
            try:
                await turn.reply(reply_activity(reply))
            except Exception as exc:
                log.warning("teams: reply failed, queued: %s", exc.__class__.__name__)
                await self._queue(act.reference_of(turn.activity), replies[index:])
                return

    def _follow_up(self, answer: asyncio.Future[list[Reply]], message: IncomingMessage) -> None:
        async def deliver() -> None:
            await self._queue(message.reference, await answer)

        task = asyncio.create_task(deliver())
        self._later.add(task)
        task.add_done_callback(self._later.discard)

    async def _queue(self, reference: Mapping[str, Any], replies: Sequence[Reply]) -> None:
        if replies:
            await asyncio.to_thread(
                queue_replies, self.services.outbox, CHANNEL, reference, replies
            )

    async def _welcome(self, turn: Turn) -> None:
        """The app was installed for this user: say what deskbot is. This is the disclosure the
        dialogue core would otherwise give with the first answer."""
        identity = await self.roster.identity(turn)
        welcome = Reply(wording.TEAMS_WELCOME, "disclosure", buttons=(wording.TALK_TO_PERSON,))
        await self._reply(turn, [welcome])  # if Teams refuses it now, the outbox sends it later
        await asyncio.to_thread(self._disclosed, turn, identity, welcome)

    def _disclosed(self, turn: Turn, identity: Identity, welcome: Reply) -> None:
        store = self.services.conversations
        conversation = store.open(
            CHANNEL,
            act.conversation_id(turn.activity),
            identity.user_id,
            identity.requester,
            identity.name,
            act.reference_of(turn.activity),
        )
        with store.engine.begin() as conn:
            store.add_messages(
                conn, conversation.id, [("bot", welcome.text, {"reply": welcome.to_dict()})]
            )
            store.save(conn, replace(conversation, disclosed=True), checked=False)

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
