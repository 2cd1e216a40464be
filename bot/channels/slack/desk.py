"""The agents' side in Slack: each handoff becomes a post in the agent channel, with Claim and
Resolve buttons; the post's thread is the conversation with the employee. Resolve opens a
dialog for an optional resolution note, which the employee receives.

Posts follow the ticket's events from the outbox (`DeskEvent`), so they survive a Slack outage
and every replica renders the same state. Claims go through the relay,
whose conditional UPDATE lets exactly one agent win, however many press at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, assert_never

from bot.channels.slack import wording as slack_wording
from bot.channels.slack.blocks import escape, resolve_modal, thread_note, ticket_message
from bot.channels.slack.events import Click, NoteSubmission
from bot.channels.slack.identity import Directory
from bot.channels.slack.post import Poster
from bot.channels.slack.store import DeskPost, DeskStore
from bot.dialogue import wording
from bot.dialogue.relay import Relay
from bot.dialogue.services import Services
from bot.seams import DeskEvent, destination
from handoff.tickets import Status, Ticket

log = logging.getLogger(__name__)

ORIGIN = "slack"
DESTINATION = destination(ORIGIN)  # also the key its agents' deliveries are de-duplicated on


class DeskNotReady(Exception):
    """The request's post is not in the channel yet; the outbox tries again later."""


class SlackDesk:
    """The `Desk` in Slack's agent channel (built only when there is one, so it always
    listens)."""

    origin = ORIGIN
    listening = True

    def __init__(
        self,
        relay: Relay,
        services: Services,
        poster: Poster,
        directory: Directory,
        posts: DeskStore,
        channel: str,
    ) -> None:
        self.relay = relay
        self.services = services
        self.poster = poster
        self.directory = directory
        self.posts = posts
        self.channel = channel

    # -- ticket events, from the outbox ------------------------------------------------------

    async def deliver(self, event: DeskEvent, ticket_id: int, payload: Mapping[str, Any]) -> None:
        if event is DeskEvent.AGENT_MESSAGE and payload.get("origin") == ORIGIN:
            return  # written in the post's thread: Slack shows it already
        ticket = await asyncio.to_thread(self.services.tickets.get, ticket_id)
        if ticket is None:
            log.warning("slack desk: no request for a %s event", event.value)
            return
        match event:
            case DeskEvent.OPENED:
                await self._opened(ticket)
            case DeskEvent.USER_MESSAGE:
                await self._user_message(ticket, payload)
            case DeskEvent.AGENT_MESSAGE:
                await self._agent_message(ticket, payload)
            case DeskEvent.CLAIMED | DeskEvent.RESOLVED | DeskEvent.HANDED_BACK:
                await self._changed(ticket, event, payload)
            case _:
                assert_never(event)

    async def _opened(self, ticket: Ticket) -> None:
        post = await asyncio.to_thread(self.posts.of_ticket, ticket.id)
        if post is not None:  # posted before, and the outbox tried again
            await self.poster.update(post.channel, post.ts, ticket_message(ticket))
            return
        channel, ts = await self.poster.post(self.channel, ticket_message(ticket))
        await asyncio.to_thread(self.posts.add, DeskPost(ticket.id, channel, ts))

    async def _post(self, ticket: Ticket) -> DeskPost:
        post = await asyncio.to_thread(self.posts.of_ticket, ticket.id)
        if post is None:
            raise DeskNotReady(ticket.number)
        return post

    async def _user_message(self, ticket: Ticket, payload: Mapping[str, Any]) -> None:
        post = await self._post(ticket)
        line = slack_wording.DESK_USER_SAYS.format(
            name=escape(ticket.requester_name or ticket.requester),
            text=escape(str(payload.get("text", ""))),
        )
        await self.poster.post(post.channel, thread_note(line), post.ts)

    async def _agent_message(self, ticket: Ticket, payload: Mapping[str, Any]) -> None:
        post = await self._post(ticket)
        line = slack_wording.DESK_AGENT_ELSEWHERE.format(
            agent=escape(str(payload.get("agent") or "")),
            origin=escape(str(payload.get("origin") or "other")),
            text=escape(str(payload.get("text", ""))),
        )
        await self.poster.post(post.channel, thread_note(line), post.ts)

    async def _changed(self, ticket: Ticket, event: DeskEvent, payload: Mapping[str, Any]) -> None:
        post = await self._post(ticket)
        await self.poster.update(post.channel, post.ts, ticket_message(ticket))
        line = slack_wording.DESK_EVENT[event].format(agent=escape(str(payload.get("agent") or "")))
        if event is DeskEvent.RESOLVED and ticket.resolution:
            line += "\n" + wording.RESOLUTION_NOTE.format(resolution=escape(ticket.resolution))
        await self.poster.post(post.channel, thread_note(line), post.ts)

    # -- what agents do in Slack -----------------------------------------------------------------

    async def thread_of(self, channel: str, thread_ts: str) -> DeskPost | None:
        return await asyncio.to_thread(self.posts.at, channel, thread_ts)

    async def _pressed(self, click: Click) -> tuple[int, str] | None:
        """The ticket id behind a Claim/Resolve press, and the agent's name. The button must
        sit on that ticket's own post (a ticket that is gone makes the core refuse)."""
        post = await self.thread_of(click.channel, click.message_ts)
        if post is None or str(post.ticket_id) != click.value:
            log.warning("slack desk: a button press did not match its post")
            return None
        return post.ticket_id, await self.directory.name(click.user)

    async def claim(self, click: Click) -> None:
        pressed = await self._pressed(click)
        if pressed is None:
            return
        ticket_id, agent = pressed
        if not await self.relay.claim(ticket_id, agent, ORIGIN):
            await self._refuse(click.channel, click.user, ticket_id)

    async def resolve(self, click: Click) -> None:
        """Open the resolution-note dialog; the request is resolved when it is submitted. If
        Slack will not open it (the press waited too long), resolve without a note: the agent
        asked to resolve, and a note is optional."""
        pressed = await self._pressed(click)
        if pressed is None:
            return
        ticket_id, agent = pressed
        ticket = await asyncio.to_thread(self.services.tickets.get, ticket_id)
        if ticket is not None and ticket.open and click.trigger_id:
            try:
                modal = resolve_modal(ticket, click.channel, click.message_ts)
                await self.poster.open_view(click.trigger_id, modal)
                return
            except Exception as exc:
                log.warning("slack desk: no resolution dialog (%s)", exc.__class__.__name__)
        if not await self.relay.resolve(ticket_id, agent, "", ORIGIN):
            await self._refuse(click.channel, click.user, ticket_id)

    async def resolve_noted(self, note: NoteSubmission) -> None:
        """A submitted resolution note: resolve the request its dialog was opened for."""
        post = await self.thread_of(note.channel, note.ts)
        if post is None or post.ticket_id != note.ticket_id:
            log.warning("slack desk: a resolution note did not match its post")
            return
        agent = await self.directory.name(note.user)
        if not await self.relay.resolve(note.ticket_id, agent, note.note, ORIGIN):
            await self._refuse(note.channel, note.user, note.ticket_id)

    async def _refuse(self, channel: str, user: str, ticket_id: int) -> None:
        """Tell the agent (only them) why their press did nothing."""
        ticket = await asyncio.to_thread(self.services.tickets.get, ticket_id)
        if ticket is None:
            return
        if ticket.status is Status.CLAIMED:
            text = slack_wording.DESK_ALREADY_CLAIMED.format(
                number=ticket.number, agent=ticket.claimed_by
            )
        else:
            text = slack_wording.DESK_ALREADY_CLOSED.format(number=ticket.number)
        await self.poster.whisper(channel, user, text)

    async def reply(self, post: DeskPost, user: str, text: str, delivery: str) -> None:
        """An agent wrote in a request's thread: relay it to the employee. Replying to an
        unclaimed request claims it, so the employee is told a named person has joined."""
        first = await asyncio.to_thread(
            self.services.conversations.first_delivery, DESTINATION, delivery
        )
        if not first or not text.strip():
            return
        agent = await self.directory.name(user)
        ticket = await asyncio.to_thread(self.services.tickets.get, post.ticket_id)
        if ticket is not None and ticket.status in (Status.NEW, Status.WAITING):
            await self.relay.claim(ticket.id, agent, ORIGIN)
        if ticket is None or not await self.relay.reply(ticket.id, agent, text, ORIGIN):
            number = ticket.number if ticket else str(post.ticket_id)
            await self.poster.whisper(
                post.channel, user, slack_wording.DESK_CLOSED.format(number=number), post.ts
            )
