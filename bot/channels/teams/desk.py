"""The service desk in a Teams channel: one post per hand-off with Claim and Resolve, and the
conversation with the employee in its thread.

Ticket events reach the desk through the outbox ("desk:teams"), so a post survives a Teams
outage or a restart. Agents act in the thread: their replies go to the employee through the
relay, which also tells the other desks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, assert_never

from bot.channels.teams import activity as act
from bot.channels.teams import wording as teams_wording
from bot.channels.teams.cards import card_message, card_response, desk_card, message
from bot.channels.teams.sdk import BotFramework, Turn
from bot.channels.teams.store import AgentChannel, DeskStore, DeskThread
from bot.dialogue.relay import Relay
from bot.dialogue.services import Services
from bot.seams import DeskEvent, destination
from handoff.tickets import Ticket

log = logging.getLogger(__name__)
ORIGIN = "teams"
DESTINATION = destination(ORIGIN)
NOTE = "note:"


class DeskNotReady(Exception):
    """Nowhere to post yet; the outbox tries again later."""


class TeamsDesk:
    """The `Desk` in the Teams agents' channel: it listens once it knows where that is."""

    origin = ORIGIN

    def __init__(
        self,
        relay: Relay,
        services: Services,
        store: DeskStore,
        framework: BotFramework,
        configured_channel: str | None,
    ) -> None:
        self.relay = relay
        self.services = services
        self.store = store
        self.framework = framework
        self.configured = configured_channel or None
        self.listening = False

    def enable(self) -> None:
        """From now on the relay tells this desk about every ticket."""
        self.listening = True

    # -- finding the agents' channel ----------------------------------------------------------

    async def seen(self, turn: Turn) -> None:
        """Any activity in the agents' channel keeps its reference (service URL, bot) current."""
        channel = act.channel_of(turn.activity)
        if channel is None or (self.configured and channel != self.configured):
            return
        current = await asyncio.to_thread(self.store.agent_channel)
        if channel != (self.configured or (current.channel_id if current else None)):
            return
        new = AgentChannel(channel, _channel_reference(turn.activity, channel))
        if current != new:
            await self._bind(new, first=current is None)

    async def set_up(self, turn: Turn) -> None:
        """The setup command, "@deskbot set agent channel": hand-offs go here from now on.
        With a configured channel only that one is accepted; otherwise only the current one
        may move them, so nobody can divert hand-offs from another team."""
        channel = act.channel_of(turn.activity)
        current = await asyncio.to_thread(self.store.agent_channel)
        if self.configured:
            allowed = channel == self.configured
        else:
            allowed = current is None or current.channel_id == channel
        if channel is None or not allowed:
            await turn.reply(message(teams_wording.DESK_REFUSED))
            return
        new = AgentChannel(channel, _channel_reference(turn.activity, channel))
        if current != new:
            await self._bind(new, first=current is None)
        self.enable()  # bound by another replica: this one posts hand-offs from now on too
        await turn.reply(message(teams_wording.DESK_BOUND))

    async def _bind(self, channel: AgentChannel, first: bool) -> None:
        await asyncio.to_thread(self.store.set_agent_channel, channel)
        self.enable()
        log.info("teams: agents' channel is %s", channel.channel_id)
        if first:  # (a hand-off already queued for the desk is posted once: threads are kept)
            waiting = await asyncio.to_thread(self._catch_up)
            log.info("teams: %d earlier hand-off(s) queued for the agents' channel", waiting)

    def _catch_up(self) -> int:
        """Hand-offs opened before the desk had a channel are waiting for a person too: post
        them now (tickets filed without a conversation are not hand-offs)."""
        handoffs = [t.id for t in self.services.tickets.queue(limit=500) if t.conversation_id]
        posted = self.store.threaded(handoffs)
        waiting = [i for i in handoffs if i not in posted]
        with self.services.outbox.engine.begin() as conn:
            for ticket_id in waiting:
                self.services.outbox.add(
                    DESTINATION, {"ticket_id": ticket_id}, {"event": DeskEvent.OPENED.value}, conn
                )
        return len(waiting)

    # -- agents acting in a hand-off thread ---------------------------------------------------

    async def in_thread(self, turn: Turn) -> bool:
        """Handle an activity if it happened in a hand-off thread; False when it did not."""
        activity = turn.activity
        if act.is_personal(activity):
            return False
        thread = await asyncio.to_thread(self.store.thread_in, act.conversation_id(activity))
        if thread is None:
            return False
        data = act.submitted(activity)
        if data.get("verb") in ("claim", "resolve"):
            await self._card_action(turn, thread, str(data["verb"]), data)
        elif activity["type"] == "message":
            text = act.text_of(activity)
            if text:
                await self._agent_says(turn, thread, text)
        return True

    async def _card_action(
        self, turn: Turn, thread: DeskThread, verb: str, data: Mapping[str, Any]
    ) -> None:
        """Claim or Resolve on the card. The thread decides the ticket, never the card data."""
        agent = act.sender_name(turn.activity)
        won = True
        if verb == "claim":
            won = await self.relay.claim(thread.ticket_id, agent, ORIGIN)
        else:
            resolution = data.get("resolution")
            note = resolution if isinstance(resolution, str) else ""
            await self.relay.resolve(thread.ticket_id, agent, note, ORIGIN)
        ticket = await asyncio.to_thread(self.services.tickets.get, thread.ticket_id)
        if ticket is None:
            return
        if turn.activity["type"] == "invoke":
            await turn.respond(card_response(desk_card(ticket)))
        elif not won and ticket.claimed_by and ticket.claimed_by != agent:
            text = teams_wording.DESK_ALREADY_CLAIMED.format(agent=ticket.claimed_by)
            await turn.reply(message(text))

    async def _agent_says(self, turn: Turn, thread: DeskThread, text: str) -> None:
        """To the employee if this agent has the request (claiming it if nobody has); a line
        starting with "note:" is an internal note."""
        delivery = act.delivery_id(turn.activity)
        conversations = self.services.conversations
        if delivery and not await asyncio.to_thread(conversations.first_delivery, ORIGIN, delivery):
            return  # Teams delivered this one before
        agent = act.sender_name(turn.activity)
        ticket_id = thread.ticket_id
        if text.lower().startswith(NOTE):
            await self.relay.note(ticket_id, agent, text[len(NOTE) :].strip())
            return
        ticket = await asyncio.to_thread(self.services.tickets.get, ticket_id)
        if ticket is None or not ticket.open:
            await turn.reply(message(teams_wording.DESK_CLOSED))
            return
        owner = ticket.claimed_by
        if owner is None:
            if await self.relay.claim(ticket_id, agent, ORIGIN):
                owner = agent
            else:  # someone else claimed it a moment ago
                claimed = await asyncio.to_thread(self.services.tickets.get, ticket_id)
                owner = claimed.claimed_by if claimed else None
        if owner != agent:
            await self.relay.note(ticket_id, agent, text)
            await turn.reply(message(teams_wording.DESK_NOT_YOURS.format(agent=owner)))
            return
        await self.relay.reply(ticket_id, agent, text, ORIGIN)

    # -- ticket events from the outbox --------------------------------------------------------

    async def deliver(self, event: DeskEvent, ticket_id: int, payload: Mapping[str, Any]) -> None:
        match event:
            case DeskEvent.OPENED:
                await self._thread(ticket_id)
            case DeskEvent.USER_MESSAGE:
                await self._user_message(ticket_id, payload)
            case DeskEvent.AGENT_MESSAGE:
                await self._agent_message(ticket_id, payload)
            case DeskEvent.CLAIMED | DeskEvent.RESOLVED | DeskEvent.HANDED_BACK:
                await self._refresh(ticket_id)
            case _:
                assert_never(event)

    async def _user_message(self, ticket_id: int, payload: Mapping[str, Any]) -> None:
        ticket, thread, channel = await self._thread(ticket_id)
        name = ticket.requester_name or ticket.requester
        text = teams_wording.DESK_USER_SAYS.format(name=name, text=payload.get("text", ""))
        await self._post(channel, thread, text)

    async def _agent_message(self, ticket_id: int, payload: Mapping[str, Any]) -> None:
        if payload.get("origin") == ORIGIN:
            return  # written in this thread: Teams shows it already
        _, thread, channel = await self._thread(ticket_id)
        text = teams_wording.DESK_AGENT_ELSEWHERE.format(
            agent=payload.get("agent", ""),
            origin=payload.get("origin") or "another desk",
            text=payload.get("text", ""),
        )
        await self._post(channel, thread, text)

    async def _refresh(self, ticket_id: int) -> None:
        """Claimed, resolved or handed back: everyone's card shows the new state."""
        ticket, thread, channel = await self._thread(ticket_id)
        service_url = str(channel.reference["serviceUrl"])
        card = card_message(desk_card(ticket), summary=ticket.title)
        await self.framework.update(service_url, thread.conversation_id, thread.activity_id, card)

    async def _thread(self, ticket_id: int) -> tuple[Ticket, DeskThread, AgentChannel]:
        """The ticket's thread, posting its card first if there is none yet."""
        ticket = await asyncio.to_thread(self.services.tickets.get, ticket_id)
        if ticket is None:
            raise DeskNotReady(f"no ticket {ticket_id}")
        channel = await asyncio.to_thread(self.store.agent_channel)
        if channel is None:
            raise DeskNotReady("no agents' channel yet: mention deskbot in it once")
        thread = await asyncio.to_thread(self.store.thread, ticket_id)
        if thread is None:
            channel_id = self.configured or channel.channel_id
            conversation, post = await self.framework.start_thread(
                channel.reference,
                channel_id,
                channel.reference.get("tenantId"),
                card_message(desk_card(ticket), summary=ticket.title),
            )
            thread = DeskThread(ticket_id, conversation, post)
            await asyncio.to_thread(self.store.add_thread, thread)
        return ticket, thread, channel

    async def _post(self, channel: AgentChannel, thread: DeskThread, text: str) -> None:
        service_url = str(channel.reference["serviceUrl"])
        await self.framework.post(service_url, thread.conversation_id, message(text))


def _channel_reference(activity: act.Activity, channel: str) -> dict[str, Any]:
    """Enough to post in a channel later: service URL and tenant are per tenant, the bot's id
    per app, so any activity in the channel gives them."""
    tenant = act.tenant_of(activity)
    return {
        "serviceUrl": activity["serviceUrl"],
        "channelId": activity.get("channelId"),
        "bot": dict(activity["recipient"]),
        "conversation": {"id": channel, "isGroup": True, "conversationType": "channel"},
        "tenantId": tenant,
    }
