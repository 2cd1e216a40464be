"""Agents in the console, over real HTTP: the queue, the conversation view, claiming (one
winner, also across two replicas on PostgreSQL), replying into the employee's own channel
(web chat through its HTTP API; Slack and Teams through the outbox), notes, resolving and
handing back, and the audit trail of all of it."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import aiohttp
import pytest
from sqlalchemy import Engine, select

from bot.console.accounts import Role
from bot.console.agents import transcript
from bot.console.tables import audit_table
from bot.dialogue import wording
from handoff.outbox import OutboxMessage
from handoff.tickets import EventKind, NewTicket, QueueFilter, Status, Ticket, TicketStore
from tests.test_console_support import BARE_HANDLER, Client, Server, serve

pytestmark = BARE_HANDLER


class WebChatUser:
    """An employee in the web chat, through its real HTTP API."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.last = 0

    async def open(self) -> None:
        async with self.http.get(self.base + "/chat") as r:
            assert r.status == 200

    async def say(self, text: str) -> list[dict[str, Any]]:
        async with self.http.post(
            self.base + "/chat/api/messages", json={"text": text, "after": self.last}
        ) as r:
            assert r.status == 200
            messages: list[dict[str, Any]] = (await r.json())["messages"]
        self.last = max([self.last, *(m["id"] for m in messages)])
        return messages

    async def poll(self) -> list[dict[str, Any]]:
        async with self.http.get(self.base + f"/chat/api/messages?after={self.last}") as r:
            messages: list[dict[str, Any]] = (await r.json())["messages"]
        self.last = max([self.last, *(m["id"] for m in messages)])
        return messages

    async def close(self) -> None:
        await self.http.close()


def audit_rows(server: Server) -> list[tuple[str, str, str, str]]:
    with server.sessions.engine.connect() as conn:
        rows = conn.execute(select(audit_table).order_by(audit_table.c.id))
        return [(r.actor, r.action, r.target, r.detail) for r in rows]


def web_ticket(server: Server) -> Ticket:
    """The web chat's handoff (the demo requests from the portal are in the queue too)."""
    found = server.services.tickets.queue(QueueFilter(channel="web"))
    assert len(found) == 1
    return found[0]


async def signed_in(server: Server, name: str) -> Client:
    client = server.client()
    response = await client.sign_in(name)
    assert response.status == 303
    return client


async def test_queue_lists_handoffs_with_filters_and_live_rows(demo_url: str) -> None:
    async with serve(demo_url) as server:
        server.add("dana", Role.AGENT, "Dana Whitfield")
        ticket_id = await server.handed_off("c-queue")
        ticket = server.services.tickets.get(ticket_id)
        async with await signed_in(server, "dana") as agent:
            page = await agent.get("/console/queue")
            row = re.search(
                rf'<tr class="priority-normal" data-ticket="{ticket.number}">.*?</tr>',
                page.text,
                re.S,
            )
            assert row is not None
            cells = row.group(0)
            for shown in ("normal", "user request", "Alex Morgan", "web", "new"):
                assert shown in cells
            assert re.search(r"<time [^>]*>\d+s</time>", cells)  # age
            assert 'data-refresh="/console/queue/rows' in page.text
            assert ticket.number not in (await agent.get("/console/queue?priority=high")).text
            assert ticket.number not in (await agent.get("/console/queue?channel=slack")).text
            assert ticket.number in (await agent.get("/console/queue?reason=user_request")).text
            assert ticket.number not in (await agent.get("/console/queue?status=mine")).text
            # live refresh: a new handoff shows up in the rows fragment without a page load
            second = server.services.tickets.get(await server.handed_off("c-queue-2"))
            rows = await agent.get("/console/queue/rows?status=open")
            assert second.number in rows.text and "<html" not in rows.text
            # unknown filter values are ignored, never echoed
            odd = await agent.get("/console/queue?priority=<script>")
            assert odd.status == 200 and "<script>" not in odd.text


async def test_conversation_view_shows_the_case_redacted(demo_url: str) -> None:
    async with serve(demo_url) as server:
        server.add("dana", Role.AGENT, "Dana Whitfield")
        user = WebChatUser(server.base)
        try:
            await user.open()
            await user.say("how can I use the VPN at home")
            async with user.http.post(
                server.base + "/chat/api/messages", json={"action": "not_helpful"}
            ) as r:
                assert r.status == 200
            await user.say("my password is Winter2024! and the VPN says error 809")
            await user.say("talk to a person")
        finally:
            await user.close()
        ticket = web_ticket(server)
        assert ticket.channel == "web"
        async with await signed_in(server, "dana") as agent:
            page = await agent.get(f"/console/tickets/{ticket.id}")
        text = page.text
        assert ticket.summary.split("\n")[0][:40] in text
        assert "Install and connect to the VPN" in text  # offered, with its confidence
        assert re.search(r"Install and connect to the VPN</td><td>\d+%</td>", text)
        assert "not helpful" in text  # feedback
        assert "809" in text  # a fact and a transcript line
        assert "Winter2024" not in text  # redacted before it was stored
        assert "how can I use the VPN at home" in text
        assert ("dana", "viewed", ticket.number) in [r[:3] for r in audit_rows(server)]


async def test_claim_and_reply_reach_the_web_chat(demo_url: str) -> None:
    async with serve(demo_url) as server:
        server.add("dana", Role.AGENT, "Dana Whitfield")
        user = WebChatUser(server.base)
        try:
            await user.open()
            await user.say("talk to a person")
            ticket = web_ticket(server)
            async with await signed_in(server, "dana") as agent:
                await agent.get(f"/console/tickets/{ticket.id}")
                response = await agent.post(f"/console/tickets/{ticket.id}/claim")
                view = await agent.follow(response)
                assert "You claimed this conversation" in view.text
                assert 'id="send-reply"' in view.text
                joined = await user.poll()
                assert joined[-1]["text"] == wording.AGENT_JOINED.format(agent="Dana Whitfield")
                response = await agent.post(
                    f"/console/tickets/{ticket.id}/reply",
                    {"text": "Hi Alex, I'm resetting your VPN profile now."},
                )
                assert "done=replied" in response.headers["Location"]
            replies = await user.poll()
            assert [m["text"] for m in replies] == ["Hi Alex, I'm resetting your VPN profile now."]
            reply = replies[0]["reply"]
            assert reply["automated"] is False and reply["author"] == "Dana Whitfield"
            # the user's answer goes to the ticket, and the agent sees it on refresh
            await user.say("thanks, trying now")
            async with await signed_in(server, "dana") as agent:
                fragment = await agent.get(f"/console/tickets/{ticket.id}/transcript")
                assert "thanks, trying now" in fragment.text and "<html" not in fragment.text
        finally:
            await user.close()
        actions = [(a, t) for _, a, t, _ in audit_rows(server)]
        assert ("claimed", ticket.number) in actions and ("replied", ticket.number) in actions
        details = [d for _, a, _, d in audit_rows(server) if a == "replied"]
        assert "VPN profile" not in details[0]  # the audit names actions, not words


@pytest.mark.parametrize(
    ("channel", "reference"),
    [
        ("slack", {"channel": "D0123", "team": "T1", "user": "U42"}),
        ("teams", {"serviceUrl": "https://smba.example/", "conversation": {"id": "a:1"}}),
    ],
)
async def test_reply_is_delivered_in_the_users_own_channel(
    demo_url: str, channel: str, reference: dict[str, Any]
) -> None:
    async with serve(demo_url) as server:
        server.add("dana", Role.AGENT, "Dana Whitfield")
        sent: list[OutboxMessage] = []

        async def deliver(message: OutboxMessage) -> None:
            sent.append(message)

        server.services.outbox.register(channel, deliver)
        ticket_id = await server.handed_off("conv-1", channel, reference)
        await server.services.outbox.deliver_due()
        sent.clear()
        async with await signed_in(server, "dana") as agent:
            await agent.get(f"/console/tickets/{ticket_id}")
            await agent.post(f"/console/tickets/{ticket_id}/claim")
            await agent.get(f"/console/tickets/{ticket_id}")
            await agent.post(f"/console/tickets/{ticket_id}/reply", {"text": "On it."})
        assert await server.services.outbox.deliver_due() == 2
        assert all(m.destination == channel and dict(m.target) == reference for m in sent)
        replies = [r for m in sent for r in m.payload["replies"]]
        assert replies[0]["kind"] == "handover"
        assert replies[1] == {
            **replies[1],
            "text": "On it.",
            "automated": False,
            "author": "Dana Whitfield",
        }


async def _race(servers: list[Server], ticket_id: int) -> list[str]:
    clients = [await signed_in(s, f"agent-{i}") for i, s in enumerate(servers)]
    try:
        for c in clients:
            await c.get(f"/console/tickets/{ticket_id}")
        responses = await asyncio.gather(
            *(c.post(f"/console/tickets/{ticket_id}/claim") for c in clients)
        )
        return [r.headers["Location"].rsplit("done=", 1)[1] for r in responses]
    finally:
        for c in clients:
            await c.close()


async def test_two_agents_claim_at_once_one_wins(demo_url: str) -> None:
    async with serve(demo_url) as server:
        for i in range(4):
            server.add(f"agent-{i}", Role.AGENT, f"Agent {i}")
        ticket_id = await server.handed_off()
        outcomes = await _race([server] * 4, ticket_id)
        assert sorted(outcomes) == ["claim_lost"] * 3 + ["claimed"]
        ticket = server.services.tickets.get(ticket_id)
        assert ticket.status is Status.CLAIMED
        winner = f"Agent {outcomes.index('claimed')}"
        assert ticket.claimed_by == winner
        messages = server.services.conversations.messages(ticket.conversation_id)
        assert sum(m.data.get("reply", {}).get("kind") == "handover" for m in messages) == 1


@pytest.mark.postgres
async def test_two_replicas_on_postgres_claim_at_once_one_wins(
    pg_engine: Engine, pg_database: str
) -> None:
    async with serve(pg_database) as first, serve(pg_database) as second:
        first.add("agent-0", Role.AGENT, "Agent 0")
        first.add("agent-1", Role.AGENT, "Agent 1")
        for n in range(3):  # handed off through the dialogue core, on PostgreSQL
            ticket_id = await (first, second)[n % 2].handed_off(conversation=f"race-{n}")
            outcomes = await _race([first, second], ticket_id)
            assert sorted(outcomes) == ["claim_lost", "claimed"]
            assert first.services.tickets.get(ticket_id).claimed_by == (
                f"Agent {outcomes.index('claimed')}"
            )


async def test_notes_resolve_and_hand_back(demo_url: str) -> None:
    async with serve(demo_url) as server:
        server.add("dana", Role.AGENT, "Dana Whitfield")
        server.add("sam", Role.AGENT, "Sam Okoro")
        user = WebChatUser(server.base)
        try:
            await user.open()
            await user.say("talk to a person")
            ticket = web_ticket(server)
            async with (
                await signed_in(server, "sam") as other,
                await signed_in(server, "dana") as agent,
            ):
                base = f"/console/tickets/{ticket.id}"
                await agent.get(base)
                # a reply before claiming is refused
                response = await agent.post(base + "/reply", {"text": "Hello, still there?"})
                assert "done=not_yours" in response.headers["Location"]
                await agent.post(base + "/claim")
                await agent.get(base)
                response = await agent.post(base + "/note", {"text": "Checked the VPN logs."})
                assert "done=noted" in response.headers["Location"]
                # another agent cannot reply, resolve or hand back Dana's conversation
                await other.get(base)
                for action in ("/reply", "/resolve", "/hand-back"):
                    refused = await other.post(base + action, {"text": "x", "resolution": "x"})
                    assert "done=not_yours" in refused.headers["Location"]
                response = await agent.post(base + "/hand-back")
                assert "done=handed_back" in response.headers["Location"]
                assert server.services.tickets.get(ticket.id).status is Status.WAITING
                back = await user.poll()
                assert "handed you back" in back[-1]["text"]
                # the conversation is with the assistant again
                answered = await user.say("how can I use the VPN at home")
                assert any(m["reply"] and m["reply"]["kind"] == "answer" for m in answered)
                # claim again and resolve with a note
                await agent.get(base)
                await agent.post(base + "/claim")
                await agent.get(base)
                response = await agent.post(
                    base + "/resolve", {"resolution": "Reinstalled the VPN client."}
                )
                assert "done=resolved" in response.headers["Location"]
                view = await agent.get(base)
                assert "Checked the VPN logs." in view.text  # notes stay on the ticket
        finally:
            await user.close()
        resolved = server.services.tickets.get(ticket.id)
        assert resolved.status is Status.RESOLVED and resolved.resolution == (
            "Reinstalled the VPN client."
        )
        texts = [m["text"] for m in await _all_messages(server, ticket.conversation_id)]
        assert any("Resolution: Reinstalled the VPN client." in t for t in texts)
        assert not any("Checked the VPN logs." in t for t in texts)  # never to the employee
        actions = [a for _, a, _, _ in audit_rows(server)]
        for expected in ("claimed", "noted", "handed_back", "resolved"):
            assert expected in actions


async def _all_messages(server: Server, conversation_id: str | None) -> list[dict[str, Any]]:
    assert conversation_id is not None
    return [
        {"text": m.text, "role": m.role}
        for m in server.services.conversations.messages(conversation_id)
    ]


async def test_unknown_ticket_is_404_and_long_text_is_refused(demo_url: str) -> None:
    async with serve(demo_url) as server:
        server.add("dana", Role.AGENT, "Dana Whitfield")
        ticket_id = await server.handed_off()
        async with await signed_in(server, "dana") as agent:
            assert (await agent.get("/console/tickets/999999", follow=False)).status == 404
            await agent.get(f"/console/tickets/{ticket_id}")
            await agent.post(f"/console/tickets/{ticket_id}/claim")
            await agent.get(f"/console/tickets/{ticket_id}")
            response = await agent.post(f"/console/tickets/{ticket_id}/reply", {"text": "x" * 4001})
            assert response.status == 400


def test_transcript_of_a_ticket_without_a_conversation(sqlite_engine: Engine) -> None:
    """Imported or portal requests have only the ticket's transcript and events."""
    store = TicketStore(sqlite_engine)
    ticket = store.create(
        NewTicket(
            "user_request", "normal", "printing", "Printer", "s", "sam@example.com", "portal",
            requester_name="Sam Taylor",
            transcript=[
                {"at": "2020-01-01T10:00:00", "role": "user", "text": "the printer jams"},
                {"at": "not a time", "role": "bot", "text": "passed on"},
            ],
        )
    )  # fmt: skip
    store.add_event(ticket.id, EventKind.NOTE, "Dana", "toner ordered")
    store.add_event(ticket.id, EventKind.USER_MESSAGE, ticket.requester, "any news?")
    store.add_event(ticket.id, EventKind.AGENT_MESSAGE, "Dana", "tomorrow")
    lines = transcript(ticket, [], store.events(ticket.id))
    assert [(line.role, line.who, line.text) for line in lines] == [
        ("user", "Sam Taylor", "the printer jams"),
        ("bot", "deskbot (automated)", "passed on"),
        ("note", "Dana (internal note)", "toner ordered"),
        ("user", "Sam Taylor", "any news?"),
        ("agent", "Dana (service desk)", "tomorrow"),
    ]
