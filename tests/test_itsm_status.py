"""Request status from the desk's ITSM, asked in the web chat: the employee's own incidents
and requested items (requests, tickets), found by the number the system uses, and someone
else's number answered exactly like one that does not exist. When the system does not answer,
deskbot's own records are shown instead of an error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bot.dialogue import wording
from flows.request_status import numbers_in
from tests.itsm_deskbot import ALEX, SAM, serve_itsm, texts


def servicenow_records(fake: Any) -> tuple[list[str], str, str]:
    """Alex's incident and requested item, and Sam's incident."""
    alex = fake.user("alex.morgan")["sys_id"]
    sam = fake.user("sam.taylor")["sys_id"]
    mine = [
        fake.add_record(
            "incident", caller_id=alex, short_description="Laptop fan is loud", state="2"
        ),
        fake.add_record("sc_req_item", requested_for=alex, short_description="A second monitor"),
    ]
    theirs = fake.add_record("incident", caller_id=sam, short_description="Printer jam")
    return [r["number"] for r in mine], theirs["number"], "INC0099999"


def jira_records(fake: Any) -> tuple[list[str], str, str]:
    mine = fake.add_request(fake.account(ALEX)["accountId"], "Laptop fan is loud")
    theirs = fake.add_request(fake.account(SAM)["accountId"], "Printer jam")
    return [mine["issueKey"]], theirs["issueKey"], "IT-999"


def zendesk_records(fake: Any) -> tuple[list[str], str, str]:
    mine = fake.add_ticket(fake.user_id(ALEX), "Laptop fan is loud", status="open")
    theirs = fake.add_ticket(fake.user_id(SAM), "Printer jam")
    return [str(mine["id"])], str(theirs["id"]), "999"


RECORDS: dict[str, Callable[[Any], tuple[list[str], str, str]]] = {
    "servicenow": servicenow_records,
    "jira": jira_records,
    "zendesk": zendesk_records,
}
SPOKEN = {"servicenow": "{}", "jira": "{}", "zendesk": "#{}"}  # how an employee writes it


@pytest.mark.parametrize("name", sorted(RECORDS))
async def test_status_lists_the_employees_records_and_hides_everyone_elses(
    name: str, demo_url: str
) -> None:
    async with serve_itsm(name, demo_url) as desk:
        mine, theirs, missing = RECORDS[name](desk.fake)
        alex = desk.employee()
        try:
            await alex.open()
            listed = texts(await alex.say("what is the status of my requests"))[-1]
            for number in mine:
                assert f"• {number} — " in listed
            assert "Laptop fan is loud" in listed
            assert f"• {theirs} — " not in listed and "Printer jam" not in listed

            spoken = SPOKEN[name]
            found = texts(await alex.say(f"status of my ticket {spoken.format(mine[0])}"))[-1]
            assert f"• {mine[0]} — Laptop fan is loud" in found
            other = texts(await alex.say(f"status of my ticket {spoken.format(theirs)}"))[-1]
            absent = texts(await alex.say(f"status of my ticket {spoken.format(missing)}"))[-1]
            assert other == absent.replace(spoken.format(missing), spoken.format(theirs))
            assert other.startswith(wording.STATUS_NOT_FOUND.split("{")[0])
        finally:
            await alex.close()


async def test_a_request_raised_while_the_system_is_down_shows_in_the_status(
    demo_url: str,
) -> None:
    async with serve_itsm("servicenow", demo_url) as desk:
        mine, _, _ = servicenow_records(desk.fake)
        alex, later = desk.employee(), desk.employee()  # a second chat: the first is handed off
        try:
            await alex.open()
            await alex.say("talk to a person")
            (ticket,) = desk.handoffs()
            desk.fake.fail_every(1, 503)
            await desk.deliver()
            waiting = wording.ITSM_WAITING.format(number=ticket.number)
            assert texts(await alex.news()) == [waiting]
            # the system is down: deskbot's own records answer, not an apology
            await later.open()
            listed = (await later.say("what is the status of my requests"))[-1]
            assert listed["reply"]["kind"] == "status" and f"• {ticket.number} — " in listed["text"]
            desk.fake.recover()
            desk.advance(60)  # the circuit breaker lets a call through again
            shown = texts(await later.say("what is the status of my requests"))[-1]
            assert f"• {ticket.number} — " in shown  # not in the system until its next delivery
            assert all(f"• {number} — " in shown for number in mine)
        finally:
            await alex.close()
            await later.close()


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("status of REQ2000001 and req 2000002?", ["REQ2000001", "REQ2000002"]),
        ("what about inc0010001, RITM0010001", ["INC0010001", "RITM0010001"]),
        ("where is IT-42 and #123", ["IT-42", "#123"]),
        ("my wi-fi ticket from windows-11, error 809, INC00100012, x#12, IT-42a", []),
    ],
)
def test_the_status_flow_reads_each_systems_numbers(text: str, numbers: list[str]) -> None:
    assert numbers_in(text) == numbers
