"""The Bolt app: which Slack payload goes where. An employee's message is written to the inbox
before Slack is acknowledged (Bolt answers once the listener returns), and its turn runs after,
so Slack hears back well within its 3 s however slow a turn is; other work goes to
`Background` after the acknowledgement.

Retries are not dropped for being retries (the first delivery may never have arrived): the
event id goes to the core, which de-duplicates durably in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Coroutine, Mapping
from typing import Any

from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.channels.slack import events
from bot.channels.slack import wording as slack_wording
from bot.channels.slack.blocks import (
    CLAIM_ACTION,
    NOTE_BLOCK,
    NOTE_INPUT,
    REPLY_ACTION,
    RESOLVE_ACTION,
    RESOLVE_VIEW,
)
from bot.channels.slack.desk import SlackDesk
from bot.channels.slack.employees import SlackEmployees
from bot.dialogue.inbox import Inbox
from bot.failures import log_failure

log = logging.getLogger(__name__)
bolt_log = logging.getLogger("bot.channels.slack.bolt")


class Background:
    """Work started after an ack: tracked (so shutdown can wait for it) and bounded."""

    def __init__(self, limit: int = 32, inbox: Inbox | None = None) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self._limit = asyncio.Semaphore(limit)
        self._inbox = inbox  # employees' turns run there; idle() waits for them too

    def spawn(self, work: Coroutine[Any, Any, None], what: str) -> None:
        task = asyncio.get_running_loop().create_task(self._run(work, what))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, work: Coroutine[Any, Any, None], what: str) -> None:
        async with self._limit:
            try:
                await work
            except Exception as exc:
                log_failure(log, f"slack {what}", exc)

    async def idle(self) -> None:
        """Wait until no work is left (tests, a graceful shutdown)."""
        while self._tasks or (self._inbox is not None and self._inbox.in_flight):
            await asyncio.gather(*self._tasks, return_exceptions=True)
            if self._inbox is not None:
                await self._inbox.idle(60.0)

    async def close(self, grace: float = 5.0) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.idle(), grace)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class Router:
    """Bolt listeners: acknowledge, then route to the employee side or the agent desk."""

    def __init__(self, employees: SlackEmployees, desk: SlackDesk | None, work: Background) -> None:
        self.employees = employees
        self.desk = desk
        self.work = work

    def app(self, client: AsyncWebClient) -> AsyncApp:
        """Signatures are checked before Bolt sees a request (see http.py), so Bolt's own
        check, which logs rejected bodies whole, is off. The token comes with the client."""
        app = AsyncApp(
            client=client,
            logger=bolt_log,
            request_verification_enabled=False,
            attaching_conversation_kwargs_enabled=False,
            process_before_response=True,  # the inbox write happens before the ack
        )
        app.event("message")(self.on_message)
        app.event("app_mention")(self.on_mention)
        app.event(re.compile(".*"))(self.on_other_event)
        app.command(re.compile(".*"))(self.on_command)
        app.action(re.compile("^" + re.escape(REPLY_ACTION) + r"\."))(self.on_reply_button)
        app.action(CLAIM_ACTION)(self.on_claim)
        app.action(RESOLVE_ACTION)(self.on_resolve)
        app.view(RESOLVE_VIEW)(self.on_resolve_note)
        app.action(re.compile(".*"))(self.on_other_action)
        return app

    # -- events (Bolt acknowledges them before calling us) ---------------------------------------

    async def on_message(self, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await self._message(body, context.bot_user_id)

    async def on_mention(self, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await self._mention(body, context.bot_user_id)

    async def on_other_event(self) -> None:
        """Subscribed events deskbot does not act on (App Home opened, ...): a harmless 200."""

    async def _message(self, body: Mapping[str, Any], bot_user: str | None) -> None:
        event = body["event"]
        user, channel, text = event.get("user"), event.get("channel"), event.get("text") or ""
        if not isinstance(text, str):  # HTTP refuses these (events.malformed); Socket Mode too
            log.warning("slack: ignored a message whose text is not a string")
            return
        if event.get("subtype") not in events.USER_SUBTYPES or event.get("bot_id"):
            return  # edits, joins, other bots, our own posts
        if not (isinstance(user, str) and isinstance(channel, str)) or user == bot_user:
            return
        delivery = str(body["event_id"])
        thread_ts = event.get("thread_ts")
        if events.is_dm(channel) or event.get("channel_type") == "im":
            await self.employees.say(events.dm(channel), user, events.plain(text), delivery)
        elif events.mentions(text, bot_user) or not isinstance(thread_ts, str):
            return  # mentions arrive as app_mention too; top-level chatter is not for us
        elif self.desk and (post := await self.desk.thread_of(channel, thread_ts)):
            reply = self.desk.reply(post, user, events.plain(text, bot_user), delivery)
            self.work.spawn(reply, "agent reply")
        elif await self.employees.continues(events.thread(channel, thread_ts), user):
            await self.employees.say(
                events.thread(channel, thread_ts), user, events.plain(text), delivery
            )

    async def _mention(self, body: Mapping[str, Any], bot_user: str | None) -> None:
        event = body["event"]
        user, channel, ts = event.get("user"), event.get("channel"), event.get("ts")
        thread_ts = event.get("thread_ts")
        if event.get("bot_id") or not (
            isinstance(user, str) and isinstance(channel, str) and isinstance(ts, str)
        ):
            return
        raw = event.get("text") or ""
        if not isinstance(raw, str):
            log.warning("slack: ignored a mention whose text is not a string")
            return
        text = events.plain(raw, bot_user)
        delivery = str(body["event_id"])
        root = thread_ts if isinstance(thread_ts, str) else ts
        if self.desk and (post := await self.desk.thread_of(channel, root)):
            # an agent, in a request's thread
            self.work.spawn(self.desk.reply(post, user, text, delivery), "agent reply")
        else:
            await self.employees.say(events.thread(channel, root), user, text, delivery)

    # -- slash commands and buttons (we acknowledge) ---------------------------------------------

    async def on_command(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        text, user = str(body.get("text") or "").strip(), str(body["user_id"])
        if not text:
            await ack(text=slack_wording.COMMAND_USAGE, response_type="ephemeral")
            return
        await ack(text=slack_wording.COMMAND_ACK, response_type="ephemeral")
        trigger = body.get("trigger_id")
        delivery = f"command:{trigger}" if trigger else None
        await self.employees.ask(user, events.plain(text), delivery)

    async def on_reply_button(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        click = events.click(body)
        if click is None:
            return
        place = (
            events.dm(click.channel)
            if events.is_dm(click.channel) or not click.thread_ts
            else events.thread(click.channel, click.thread_ts)
        )
        await self.employees.press(place, click)

    async def on_claim(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        click = events.click(body)
        if click is not None and self.desk is not None:
            self.work.spawn(self.desk.claim(click), "claim")

    async def on_resolve(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        click = events.click(body)
        if click is not None and self.desk is not None:
            self.work.spawn(self.desk.resolve(click), "resolve")

    async def on_resolve_note(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()  # closes the dialog
        note = events.note_submission(body, NOTE_BLOCK, NOTE_INPUT)
        if note is not None and self.desk is not None:
            self.work.spawn(self.desk.resolve_noted(note), "resolve note")

    async def on_other_action(self, ack: AsyncAck) -> None:
        await ack()
