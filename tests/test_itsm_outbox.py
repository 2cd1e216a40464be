"""Nothing lost, nothing doubled, between deskbot and the desk's ITSM (ServiceNow's fake): a
storm of 429s, an outage and the recovery, a timeout after a create and a comment that were
made, and a comment read twice by two replicas. Each ends with exactly one incident, every
employee message a comment once, and every agent comment in the chat once. One shared clock
is moved by the tests, so retries and outages take no real time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.dialogue import wording
from bot.itsm.poller import Poller
from handoff.itsm.errors import RateLimited
from handoff.itsm.polls import PollStore
from handoff.outbox import OutboxStatus, outbox_table
from handoff.tickets import Ticket
from tests.itsm_deskbot import Desk, Employee, serve_itsm, texts

INCIDENT = "/api/now/table/incident"
JOURNAL = "/api/now/table/sys_journal_field"


async def handed_off(desk: Desk) -> tuple[Employee, Ticket]:
    alex = desk.employee()
    await alex.open()
    await alex.say("my vpn fails with error 809 at the hotel")
    await alex.say("talk to a person")
    (ticket,) = desk.handoffs()
    return alex, ticket


def incidents(desk: Desk) -> list[str]:
    return [r["correlation_id"] for r in desk.fake.tables["incident"]]


def outbox_statuses(desk: Desk) -> list[str]:
    with desk.services.outbox.engine.connect() as conn:
        return [s for (s,) in conn.execute(select(outbox_table.c.status))]


async def transcript(desk: Desk, ticket: Ticket) -> list[str]:
    conversation = desk.services.conversations.get(ticket.conversation_id)
    return [m.text for m in desk.services.conversations.messages(conversation.id)]


async def test_a_storm_of_429s_delays_but_never_doubles(demo_url: str) -> None:
    async with serve_itsm("servicenow", demo_url) as desk:
        alex, ticket = await handed_off(desk)
        try:
            # a storm of 429s on creating: the outbox puts the hand-off off for the time asked
            desk.fake.fail_next("POST", INCIDENT, 429, times=6, headers={"Retry-After": "5"})
            await desk.deliver()
            assert incidents(desk) == []
            assert texts(await alex.news()) == [wording.ITSM_WAITING.format(number=ticket.number)]
            desk.advance(2)
            await desk.deliver()
            assert len(desk.fake.calls_to("POST", INCIDENT)) == 1  # Retry-After is honoured
            for _ in range(8):  # Retry-After plus up to 2 s of jitter each time
                desk.advance(8)
                await desk.deliver()
            assert incidents(desk) == [ticket.number]
            assert len(desk.fake.calls_to("POST", INCIDENT)) == 7  # six 429s, then 201
            ref = desk.ref(ticket)
            taken = wording.ITSM_TAKEN.format(number=ticket.number, external=ref.number)
            assert texts(await alex.news()) == [taken]

            # three messages while every other comment is refused with a 429
            desk.fake.fail_every(2, 429, {"Retry-After": "1"})
            for n in range(3):
                await alex.say(f"still failing, try {n}")
            for _ in range(5):
                await desk.deliver()
                desk.advance(3)
            desk.fake.recover()
            await desk.deliver()
            said = [c for c in desk.public_comments(ref) if "still failing" in c]
            assert sorted(said) == sorted(
                f"alex.morgan@example.com wrote in chat:\nstill failing, try {n}" for n in range(3)
            )

            # the agent answers while reading comments is limited: the poll fails, then works
            desk.answer(ref, "Please reboot and try again.")
            desk.fake.fail_next("GET", JOURNAL, 429, headers={"Retry-After": "120"})
            with pytest.raises(RateLimited):
                await desk.poll()
            assert await desk.poll() == 1
            chat = await transcript(desk, ticket)
            assert chat.count("Please reboot and try again.") == 1
            await desk.deliver()
            assert set(outbox_statuses(desk)) == {OutboxStatus.SENT.value}
        finally:
            await alex.close()


async def test_an_outage_then_recovery_delivers_everything_once(demo_url: str) -> None:
    async with serve_itsm("servicenow", demo_url) as desk:
        desk.fake.fail_every(1, 503)  # down
        alex, ticket = await handed_off(desk)
        try:
            await desk.deliver()
            await alex.say("it is urgent, I have a client call")
            await alex.say("I am on the hotel wifi")
            for _ in range(4):  # the outage lasts: deliveries keep failing, quickly
                desk.advance(120)
                await desk.deliver()
            assert incidents(desk) == []
            waiting = wording.ITSM_WAITING.format(number=ticket.number)
            assert (await transcript(desk, ticket)).count(waiting) == 1  # told once, however long
            assert OutboxStatus.FAILED.value not in outbox_statuses(desk)

            desk.fake.recover()
            desk.advance(400)  # past the longest backoff and the circuit breaker's pause
            await desk.deliver()
            assert incidents(desk) == [ticket.number]
            ref = desk.ref(ticket)
            comments = desk.public_comments(ref)
            assert [c.split("\n", 1)[1] for c in comments] == [
                "it is urgent, I have a client call",
                "I am on the hotel wifi",
            ]
            taken = wording.ITSM_TAKEN.format(number=ticket.number, external=ref.number)
            assert texts(await alex.news())[-1] == taken

            desk.answer(ref, "Calling you now.")
            assert await desk.poll() == 1
            assert await desk.poll() == 0
            chat = await transcript(desk, ticket)
            assert chat.count("Calling you now.") == 1
            assert chat.count(waiting) == 1 and chat.count(taken) == 1
        finally:
            await alex.close()


async def test_a_timeout_after_a_create_and_a_comment_that_were_made(demo_url: str) -> None:
    async with serve_itsm("servicenow", demo_url) as desk:
        alex, ticket = await handed_off(desk)
        try:
            # the incident is created, the answer comes too late, and looking it up fails too:
            # the next delivery looks before writing
            desk.fake.stall_after("POST", INCIDENT, 0.5)
            desk.fake.fail_next("GET", INCIDENT, 503, times=4)
            await desk.deliver()
            assert incidents(desk) == [ticket.number]
            assert desk.services.tickets.get(ticket.id).external_id is None
            desk.advance(60)
            await desk.deliver()
            assert incidents(desk) == [ticket.number]  # found, not made again
            ref = desk.ref(ticket)

            desk.fake.stall_after("PATCH", INCIDENT, 0.5)  # the comment is written, late
            await alex.say("here is a screenshot of the error")
            await desk.deliver()
            assert desk.public_comments(ref) == [
                "alex.morgan@example.com wrote in chat:\nhere is a screenshot of the error"
            ]
        finally:
            await alex.close()


async def test_a_comment_read_twice_by_two_replicas_reaches_the_employee_once(
    demo_url: str,
) -> None:
    async with serve_itsm("servicenow", demo_url) as desk:
        alex, ticket = await handed_off(desk)
        try:
            await desk.deliver()
            ref = desk.ref(ticket)
            polls = PollStore(desk.services.tickets.engine, desk.clock)
            before = polls.cursor("servicenow")
            desk.answer(ref, "Try the hotspot.")
            assert await desk.poll() == 1
            # the first replica's cursor was lost (it died before saving): another replica
            # reads the same comment again
            desk.advance(60)
            lease = polls.take("servicenow", "test", every=timedelta(0), hold=timedelta(minutes=1))
            assert lease is not None and polls.finish(lease, before)
            other = Poller(
                desk.itsm.system,
                desk.runtime.relay,
                desk.services.tickets,
                polls,
                every=desk.runtime.settings.itsm_poll_seconds,
                holder="replica-2",
            )
            desk.advance(60)
            assert await other.poll() == 0
            chat = await transcript(desk, ticket)
            assert chat.count("Try the hotspot.") == 1
        finally:
            await alex.close()
