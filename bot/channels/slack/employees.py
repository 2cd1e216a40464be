"""The employee's side of Slack: direct messages, mentions, /helpdesk and button presses
become `IncomingMessage`s for the dialogue core; its replies go back as Block Kit.

Everything here runs after Slack has been acknowledged. A reply that cannot be posted goes to
the durable outbox, which keeps retrying, so an answer is not lost to a Slack hiccup.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, replace
from typing import Any

from bot.channels.slack import blocks
from bot.channels.slack import wording as slack_wording
from bot.channels.slack.events import Click, Place, dm, thread
from bot.channels.slack.identity import Directory
from bot.channels.slack.post import Poster
from bot.dialogue import wording
from bot.dialogue.inbox import Entry
from bot.dialogue.messages import Identity, IncomingMessage, Reply
from bot.dialogue.outbound import queue_replies, replies_of
from bot.dialogue.services import Services
from bot.dialogue.turns import Turns
from bot.inbound import MAX_TEXT
from bot.redaction import redact_text
from handoff.outbox import OutboxMessage

log = logging.getLogger(__name__)

CHANNEL = "slack"


class SlackEmployees:
    def __init__(
        self, turns: Turns, services: Services, poster: Poster, directory: Directory
    ) -> None:
        self.turns = turns
        self.services = services
        self.poster = poster
        self.directory = directory

    async def say(self, place: Place, user: str, text: str, delivery: str | None) -> None:
        """One message from an employee (plain text), written to the inbox before Slack is
        acknowledged; its turn runs after. `delivery` is the inbox key, so a retried event is
        answered once."""
        message = IncomingMessage(
            CHANNEL, place.key, Identity(user), text, message_id=delivery, reference=place.reference
        )
        await self._accept(message, {"user": user, "place": _place(place)})

    async def _accept(
        self,
        message: IncomingMessage,
        extra: Mapping[str, Any],
        work: Callable[[Entry], Awaitable[None]] | None = None,
    ) -> None:
        """Into the inbox (or the spool), then `work` (default: `resume`) after the ack."""
        inbox = self.services.inbox
        # the core reads at most this much of one message
        message = replace(message, text=message.text[:MAX_TEXT])
        accepted = await inbox.receive(message, extra)
        if accepted is None:  # kept in the spool: say so, if Slack takes it
            reference = extra.get("place", {}).get("reference")
            if reference:
                notice = [Reply(wording.KEPT, "notice")]
                inbox.track(self._reply(reference, notice, queue=False))
        elif accepted.entry is not None:
            entry = accepted.entry
            inbox.spawn(entry, work(entry) if work is not None else None)

    async def resume(self, entry: Entry) -> None:
        """The turn of an accepted message (this process's, or one taken over from another,
        or replayed from the spool), and its replies posted."""
        extra = entry.extra
        user = str(extra.get("user") or entry.message.user.user_id)
        preface = None
        if extra.get("ask"):  # /helpdesk: answered in the employee's direct messages
            place = dm(await self.poster.open_dm(user))
            question = blocks.escape(redact_text(entry.message.text))
            preface = slack_wording.YOU_ASKED.format(question=question)
        elif "place" in extra:
            place = Place(**extra["place"])
        else:  # spooled before the inbox: the conversation key says where
            key = entry.message.conversation
            place = thread(*key.split(":", 1)) if ":" in key else dm(key)
        identity = await self.directory.identity(user)
        message = replace(
            entry.message, user=identity, conversation=place.key, reference=place.reference
        )
        if entry.replies is None:
            replies = await self.turns.handle(message, entry)
        else:  # saved by a process that died before posting them
            replies = list(entry.replies)
        if replies:
            await self._reply(place.reference, replies, preface)
            await asyncio.to_thread(self.services.inbox.sent, entry)

    async def continues(self, place: Place, user: str) -> bool:
        """Whether a thread reply without a mention continues a conversation this user started
        with deskbot there (others talking in the thread are not for us)."""
        found = await asyncio.to_thread(self.services.conversations.find, CHANNEL, place.key)
        return found is not None and found.user_id == user

    async def press(self, place: Place, click: Click) -> None:
        """A button in one of our messages, written to the inbox before Slack is acknowledged;
        after, the choice is marked in the message and the core hears of it."""
        delivery = f"press:{click.channel}:{click.message_ts}:{click.action_id}"
        message = IncomingMessage(
            CHANNEL,
            place.key,
            Identity(click.user),
            "",
            action=click.value,
            message_id=delivery,
            reference=place.reference,
        )
        extra = {"user": click.user, "place": _place(place)}
        await self._accept(message, extra, lambda entry: self._pressed(click, entry))

    async def _pressed(self, click: Click, entry: Entry) -> None:
        label = blocks.button_label(click.blocks, click.block_id, click.action_id)
        if click.blocks and label:
            try:
                message = {
                    "text": slack_wording.PRESSED.format(label=label),
                    "blocks": blocks.pressed(click.blocks, click.block_id, label),
                }
                await self.poster.update(click.channel, click.message_ts, message)
            except Exception as exc:  # cosmetic; the press itself still counts
                log.warning("slack: could not mark a pressed button: %s", exc.__class__.__name__)
        await self.resume(entry)

    async def ask(self, user: str, text: str, delivery: str | None) -> None:
        """/helpdesk <question>: answered in the employee's direct messages with the bot, where
        buttons, handoffs and an agent's replies can follow (the DM is opened after the ack)."""
        message = IncomingMessage(CHANNEL, f"ask:{user}", Identity(user), text, message_id=delivery)
        await self._accept(message, {"user": user, "ask": True})

    async def _reply(
        self,
        reference: Mapping[str, Any],
        replies: Sequence[Reply],
        preface: str | None = None,
        *,
        queue: bool = True,
    ) -> None:
        """Post a turn's replies; what cannot be posted now goes to the outbox, which retries."""
        message = blocks.reply_message(replies, preface)
        try:
            await self.poster.post(reference["channel"], message, reference.get("thread_ts"))
        except Exception as exc:
            log.warning("slack: reply not posted (%s); queued", exc.__class__.__name__)
            if not queue:
                return
            await asyncio.to_thread(
                queue_replies, self.services.outbox, CHANNEL, reference, replies
            )

    async def deliver(self, message: OutboxMessage) -> None:
        """The outbox sender for employees: a person's replies, handovers, hand-backs."""
        replies = replies_of(message)
        if not replies:
            return
        target = message.target
        await self.poster.post(
            target["channel"], blocks.reply_message(replies), target.get("thread_ts")
        )


def _place(place: Place) -> dict[str, Any]:
    return {**asdict(place), "reference": dict(place.reference)}
