"""The console as a newcomer first sees it, in headless Chromium (Debian's): a resolved
request says how long it took rather than "Waiting"; a request raised outside the chat
offers no hand-back; a terminal chat's request carries the employee's name; the dashboard's
medians are rounded to the second and say what they are taken over; no chart text is cut off
at the edge of its chart."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from bot.channels.terminal.channel import TerminalChannel
from bot.cli.run import terminal_identity
from bot.console.accounts import Role
from bot.console.charts import bar_chart, line_chart
from handoff.tickets import QueueFilter, Status, tickets_table
from tests.browser import SHOTS
from tests.test_console_support import BARE_HANDLER, PASSWORD, Server, serve

pytestmark = [pytest.mark.browser, BARE_HANDLER]

SLOW = 60_000  # ms
CSS = Path(__file__).parent.parent / "bot" / "console" / "static" / "console.css"


async def signed_in(browser: Any, server: Server, name: str) -> Any:
    page = await (await browser.new_context()).new_page()
    page.set_default_timeout(SLOW)
    await page.goto(server.base + "/console")
    await page.fill("#name", name)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_selector(".console-header nav")
    return page


def by_number(server: Server, number: str) -> Any:
    ticket = server.services.tickets.by_number(number)
    assert ticket is not None
    return ticket


async def facts(page: Any) -> dict[str, str]:
    """The ticket page's header facts, label → value."""
    pairs = await page.eval_on_selector_all(
        "dl.facts-line > div",
        "divs => divs.map(d => [d.querySelector('dt').innerText, d.querySelector('dd').innerText])",
    )
    return {k: v for k, v in pairs}


async def test_ticket_pages_say_what_is_true(browser: Any, demo_url: str) -> None:
    async with serve(demo_url) as server:
        server.add("dana", Role.AGENT, "Dana Whitfield")
        agent = await signed_in(browser, server, "dana")

        # a demo request resolved 26 hours after it was raised
        resolved = by_number(server, "REQ0001188")
        assert resolved.status is Status.RESOLVED and resolved.conversation_id is None
        await agent.goto(f"{server.base}/console/tickets/{resolved.id}")
        shown = await facts(agent)
        assert "Waiting" not in shown
        assert shown["Resolved after"] == "1 d 2 h"

        # an open request with a conversation waits, and can be handed back once claimed
        chat_ticket = await server.handed_off()
        await agent.goto(f"{server.base}/console/tickets/{chat_ticket}")
        assert "Waiting" in await facts(agent)
        await agent.click("#claim")
        await agent.wait_for_selector("text=You claimed this conversation")
        assert await agent.locator("#hand-back").count() == 1

        # a request raised outside the chat: nothing to hand back to
        portal = by_number(server, "REQ0001301")
        assert portal.conversation_id is None and portal.status is Status.NEW
        await agent.goto(f"{server.base}/console/tickets/{portal.id}")
        await agent.click("#claim")
        await agent.wait_for_selector("text=You claimed this conversation")
        assert await agent.locator("#hand-back").count() == 0
        assert "no conversation to hand back" in await agent.inner_text("#no-conversation")
        assert await agent.locator("#resolve").count() == 1
        await agent.screenshot(
            path=str(SHOTS / "console-ticket-no-conversation.png"), full_page=True
        )
        # and a hand-back sent anyway is refused, the request left as it was
        token = await agent.get_attribute("input[name=csrf_token]", "value")
        refused = await agent.request.post(
            f"{server.base}/console/tickets/{portal.id}/hand-back",
            form={"csrf_token": token},
        )
        assert "there is no conversation to hand back" in await refused.text()
        assert server.services.tickets.get(portal.id).status is Status.CLAIMED


async def test_a_terminal_request_shows_the_employees_name(browser: Any, demo_url: str) -> None:
    async with serve(demo_url) as server:
        server.add("dana", Role.AGENT, "Dana Whitfield")
        identity, known = terminal_identity("alex.morgan@example.com", server.services.tickets)
        assert known
        written: list[str] = []
        chat = TerminalChannel(
            server.runtime.turns, server.services.conversations, identity, "t-1", written.append
        )
        await chat.say("talk to a person")
        (ticket,) = server.services.tickets.queue(QueueFilter(channel="terminal"))

        agent = await signed_in(browser, server, "dana")
        row = agent.locator(f"#queue-rows tr[data-ticket={ticket.number}]")
        await row.wait_for()
        cells = await row.locator("td").all_inner_texts()
        assert cells[4] == "Alex Morgan"
        await agent.goto(f"{server.base}/console/tickets/{ticket.id}")
        assert (await facts(agent))["Requester"] == "Alex Morgan <alex.morgan@example.com>"


async def test_dashboard_medians_are_honest(browser: Any, demo_url: str) -> None:
    async with serve(demo_url) as server:
        server.add("ada", Role.ADMIN, "Ada Admin")
        relay = server.runtime.relay
        took = {"c-1": timedelta(minutes=1, seconds=15), "c-2": timedelta(minutes=4, seconds=24)}
        for conversation, after in took.items():
            ticket_id = await server.handed_off(conversation)
            assert await relay.claim(ticket_id, "Dana Whitfield", "console")
            assert await relay.resolve(ticket_id, "Dana Whitfield", "done", "console")
            ticket = server.services.tickets.get(ticket_id)
            with server.services.tickets.engine.begin() as conn:
                conn.execute(
                    update(tickets_table)
                    .where(tickets_table.c.id == ticket_id)
                    .values(resolved_at=ticket.created_at + after)
                )
        admin = await signed_in(browser, server, "ada")
        await admin.goto(server.base + "/console/dashboard")
        # (75 s + 264 s) / 2 = 169.5 s: 2 min 50 s, not a floored "2 min"
        assert (await admin.inner_text("#kpi-resolve")).strip() == "2 min 50 s"
        basis = await admin.inner_text("#kpi-resolve-basis")
        assert basis == "of 2 requests resolved; halfway between the two middle ones"
        assert "1 request claimed" not in await admin.inner_text("#kpi-claim-basis")
        await assert_no_text_cut_off(admin)
        await admin.screenshot(path=str(SHOTS / "console-dashboard-medians.png"), full_page=True)


CUT_OFF = """() => {
  const out = [];
  for (const svg of document.querySelectorAll('svg.chart')) {
    const frame = svg.getBoundingClientRect();
    for (const text of svg.querySelectorAll('text')) {
      const box = text.getBoundingClientRect();
      if (box.left < frame.left - 0.5 || box.right > frame.right + 0.5 ||
          box.top < frame.top - 0.5 || box.bottom > frame.bottom + 0.5) {
        out.push(svg.id + ': ' + text.textContent);
      }
    }
  }
  return out;
}"""


async def assert_no_text_cut_off(page: Any) -> None:
    assert await page.locator("svg.chart text").count() > 0
    assert await page.evaluate(CUT_OFF) == []


async def test_no_chart_label_is_cut_off(browser: Any) -> None:
    """The charts alone, with the longest labels and the biggest numbers they may meet."""
    from datetime import date

    long_titles = [
        ("Reset your password and unlock your account when multi-factor sign-in fails", 1234),
        ("WWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWW", 7),
        ("Install and connect to the VPN", 98765),
        ("x", 0),
    ]
    days = [date(2026, 11, d) for d in range(1, 31)]
    series = [
        ("conversations", [123456] * 30),
        ("questions", list(range(30))),
        ("answered automatically", [5] * 30),
        ("handoffs", [0] * 30),
    ]
    page = await (await browser.new_context(viewport={"width": 700, "height": 900})).new_page()
    await page.set_content(
        '<main style="width:640px">'
        + bar_chart("bars", "Top articles", long_titles)
        + line_chart("lines", "Per day", days, series)
        + "</main>"
    )
    await page.add_style_tag(content=CSS.read_text(encoding="utf-8"))
    await assert_no_text_cut_off(page)
    await page.screenshot(path=str(SHOTS / "console-chart-labels.png"), full_page=True)
