"""The console in headless Chromium (Debian's, never a downloaded one), next to the web chat
an employee uses: an agent claims and replies and the employee sees it; a knowledge owner
links an unanswered question and the employee's same question is then answered; the
dashboard draws its charts. Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

from typing import Any

import pytest

from bot.console.accounts import Role
from handoff.tickets import QueueFilter
from tests.browser import SHOTS
from tests.test_console_support import BARE_HANDLER, PASSWORD, Server, serve

pytestmark = [pytest.mark.browser, BARE_HANDLER]

SLOW = 60_000  # ms: publishing runs the labeled questions first


async def chat_page(browser: Any, server: Server) -> Any:
    page = await (await browser.new_context()).new_page()
    page.set_default_timeout(SLOW)
    await page.goto(server.base + "/chat")
    return page


async def say(page: Any, text: str) -> None:
    """Send a message and wait for the reply (no string evaluation: the chat's CSP forbids it)."""
    count = await page.locator("#log li").count()
    await page.fill("#text", text)
    await page.press("#text", "Enter")
    await page.locator("#log li").nth(count + 1).wait_for(timeout=SLOW)


async def console_page(browser: Any, server: Server, name: str) -> Any:
    page = await (await browser.new_context()).new_page()
    page.set_default_timeout(SLOW)
    await page.goto(server.base + "/console")
    await page.fill("#name", name)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_selector(".console-header nav")
    return page


async def test_agent_claims_and_replies_and_the_employee_sees_it(
    browser: Any, demo_url: str
) -> None:
    async with serve(demo_url) as server:
        server.add("dana", Role.AGENT, "Dana Whitfield")
        user = await chat_page(browser, server)
        await say(user, "talk to a person")
        await user.wait_for_selector("#log li.msg.bot >> text=passed this to the IT service desk")

        (ticket,) = server.services.tickets.queue(QueueFilter(channel="web"))
        agent = await console_page(browser, server, "dana")
        row = agent.locator(f"#queue-rows tr[data-ticket={ticket.number}]")
        await row.wait_for()
        assert "Guest (web chat)" in await row.inner_text()
        await agent.screenshot(path=str(SHOTS / "console-queue.png"), full_page=True)
        await row.locator("a").click()
        await agent.click("#claim")
        await agent.wait_for_selector("text=You claimed this conversation")
        await agent.fill("#reply-text", "Hi, this is Dana. I'll sort out your access now.")
        await agent.click("#send-reply")
        await agent.wait_for_selector("text=Reply sent to the employee.")
        await agent.screenshot(path=str(SHOTS / "console-conversation.png"), full_page=True)

        reply = user.locator("#log li.msg", has_text="I'll sort out your access now.")
        await reply.wait_for(timeout=SLOW)
        who = await reply.locator(".who").text_content()
        assert who == "Dana Whitfield · service desk (a person)"
        status = await user.inner_text("#status")
        assert "a person from the IT service desk" in status
        await user.screenshot(path=str(SHOTS / "chat-agent-reply.png"), full_page=True)


async def test_owner_links_a_question_and_the_chat_answers_it(browser: Any, demo_url: str) -> None:
    question = "where can I expense a usb headset"
    async with serve(demo_url) as server:
        server.add("priya", Role.KNOWLEDGE_OWNER, "Priya Natarajan")
        user = await chat_page(browser, server)
        await say(user, question)
        assert await user.locator("#log li.msg.bot .source").count() == 0  # not answered

        owner = await console_page(browser, server, "priya")
        await owner.goto(server.base + "/console/gaps")
        cluster = owner.locator("tr[id^=cluster-]", has_text=question)
        await cluster.wait_for()
        await cluster.locator("select[name=article_id]").select_option(
            "headset-peripherals-request"
        )
        await owner.screenshot(path=str(SHOTS / "console-gaps.png"), full_page=True)
        await cluster.locator("button", has_text="Add as alternative phrasing").click()
        await owner.wait_for_selector("text=The question now answers from the article")

        await say(user, question)
        source = user.locator("#log li.msg.bot .source").last
        await source.wait_for()
        assert "Request a headset, monitor or other accessory" in await source.inner_text()
        answer = user.locator("#log li.msg.bot", has=user.locator(".source")).last
        assert await answer.locator(".who").text_content() == "deskbot · automated answer"
        await user.screenshot(path=str(SHOTS / "chat-answered-after-link.png"), full_page=True)


async def test_dashboard_renders_its_charts(browser: Any, demo_url: str) -> None:
    async with serve(demo_url) as server:
        server.add("ada", Role.ADMIN, "Ada Admin")
        user = await chat_page(browser, server)
        await say(user, "how can I use the VPN at home")
        await say(user, "talk to a person")
        admin = await console_page(browser, server, "ada")
        await admin.goto(server.base + "/console/dashboard")
        charts = admin.locator("svg.chart")
        assert await charts.count() == 3
        for i in range(3):
            box = await charts.nth(i).bounding_box()
            assert box is not None and box["width"] > 200 and box["height"] > 15
        assert await admin.locator("svg.chart polyline").count() == 4  # one line per series
        assert await admin.locator("#chart-handoffs rect").count() >= 1
        assert (await admin.inner_text("#kpi-conversations")).strip() == "1"
        await admin.screenshot(path=str(SHOTS / "console-dashboard.png"), full_page=True)
