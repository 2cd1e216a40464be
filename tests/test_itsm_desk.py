"""The desk's ITSM end to end, through the web chat's HTTP API into the real server: a hand-off
becomes a ticket in the system's fake (the caller, the agents' notes), an agent's comment there
reaches the employee's chat as a person's, the employee's next message becomes a public comment
that never comes back, and resolving it there ends the hand-off. The same for ServiceNow, Jira
Service Management and Zendesk."""

from __future__ import annotations

import pytest

from bot.console.accounts import Role
from bot.dialogue import wording
from tests.itsm_cases import NAMES
from tests.itsm_deskbot import ALEX, Desk, serve_itsm, texts


@pytest.mark.parametrize("name", NAMES)
async def test_a_handoff_lives_in_the_ticket_system_and_agents_answer_from_there(
    name: str, demo_url: str
) -> None:
    async with serve_itsm(name, demo_url) as desk:
        alex = desk.employee()
        try:
            await alex.open()
            await alex.say("my vpn fails with error 809 at the hotel")
            said = texts(await alex.say("talk to a person"))
            (ticket,) = desk.handoffs()
            assert any(ticket.number in t for t in said)  # deskbot's own number first

            assert await desk.deliver() == 1
            ref = desk.ref(ticket)
            assert desk.case.tickets(desk.fake) == [ref.id]  # exactly one, with agents' notes
            assert desk.case.notes(desk.fake, ref) == 1
            assert ref.requester_id  # the employee is the caller / reporter / requester
            told = texts(await alex.news())
            taken = wording.ITSM_TAKEN.format(number=ticket.number, external=ref.number)
            assert told == [taken]

            assert await desk.poll() == 0  # nothing from the desk yet, and nothing of ours
            desk.answer(ref, "Which hotel network are you on? Try your phone's hotspot.")
            assert await desk.poll() == 1
            news = await alex.news()
            assert news[0]["text"] == wording.AGENT_JOINED.format(agent="Beth Anglin")
            assert news[1]["role"] == "agent"
            assert news[1]["text"] == "Which hotel network are you on? Try your phone's hotspot."
            assert news[1]["reply"]["automated"] is False
            assert news[1]["reply"]["author"] == "Beth Anglin"

            waiting = await alex.say("the hotspot works, thanks")
            assert waiting[-1]["role"] == "user"  # a person has it: the assistant stays quiet
            await desk.deliver()
            assert desk.public_comments(ref)[-1].endswith("the hotspot works, thanks")
            assert await desk.poll() == 0  # the employee's own words never come back
            assert await alex.news() == []

            desk.resolve(ref)
            assert await desk.poll() == 1
            ended = texts(await alex.news())
            assert ended == [
                wording.RESOLVED.format(
                    agent=wording.SERVICE_DESK,
                    number=ref.number,
                    outcome="resolved",
                    assistant=wording.ASSISTANT,
                )
            ]
            assert desk.services.tickets.get(ticket.id).open is False
            assert await desk.poll() == 0  # no longer watched, nothing doubled
            again = texts(await alex.say("what is the status of my requests"))
            assert ref.number in again[-1]  # the status reads the system
        finally:
            await alex.close()


async def test_the_console_shows_the_ticket_systems_number_and_link(demo_url: str) -> None:
    async with serve_itsm("servicenow", demo_url) as desk:
        await handed_off(desk)
        (ticket,) = desk.handoffs()
        ref = desk.ref(ticket)
        console = desk.console()
        console.add("dana", Role.AGENT, "Dana Whitfield")
        async with console.client() as agent:
            assert (await agent.sign_in("dana")).status == 303
            page = await agent.get(f"/console/tickets/{ticket.id}")
            assert f'href="{ref.url}"' in page.text and ref.number in page.text
            assert "in ServiceNow" in page.text
            rows = await agent.get("/console/queue/rows?status=open")
            assert ref.number in rows.text


async def handed_off(desk: Desk, email: str = ALEX) -> None:
    employee = desk.employee(email)
    try:
        await employee.open()
        await employee.say("talk to a person")
    finally:
        await employee.close()
    await desk.deliver()
