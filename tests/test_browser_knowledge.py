"""A knowledge owner's fixes in headless Chromium (Debian's), next to the web chat: a typo'd
question linked to its article is answered; a link that truly breaks a labeled question is
blocked with the question shown, then published anyway with a reason the audit log shows; an
edit is rolled back and the chat answers from the old text; and after `deskbot demo` starts
again on the same database, all of it is still there. Screenshots in artifacts/screenshots/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.console.accounts import Role
from bot.wiring import prepare_knowledge
from tests.browser import SHOTS
from tests.test_browser_console import (
    chat_page,
    console_page,
    say,
)
from tests.test_console_knowledge import LABELED
from tests.test_console_support import BARE_HANDLER, Server, serve

pytestmark = [pytest.mark.browser, BARE_HANDLER]

TYPO = "where can i expnse a usb headsett"
HEADSET = "Request a headset, monitor or other accessory"
REASON = "docks are handled by the printer team from December"
OLD_TEXT = "Connect the laptop to the dock"
DOCK_QUESTION = "how do I extend my screen across two monitors"
NEW_TEXT = "Unplug the dock for ten seconds, then plug in its power first."


async def answered_from(browser: Any, server: Server, question: str) -> str | None:
    """Ask in a new chat (the first message of a conversation, as the check decides it): the
    source line of the answer, or None when it was not answered."""
    page = await chat_page(browser, server)
    await say(page, question)
    sources = page.locator("#log li.msg.bot .source")
    found = str(await sources.last.inner_text()) if await sources.count() else None
    await page.context.close()
    return found


async def answer_text(browser: Any, server: Server, question: str) -> str:
    page = await chat_page(browser, server)
    await say(page, question)
    answer = page.locator("#log li.msg.bot", has=page.locator(".source")).last
    text = str(await answer.inner_text())
    await page.context.close()
    return text


async def fix_everything(browser: Any, server: Server) -> None:
    assert await answered_from(browser, server, TYPO) is None
    owner = await console_page(browser, server, "priya")

    # 1. the typo'd question, linked to its article, is answered at once
    await owner.goto(server.base + "/console/gaps")
    cluster = owner.locator("tr[id^=cluster-]", has_text=TYPO)
    await cluster.locator("select[name=article_id]").select_option("headset-peripherals-request")
    await cluster.locator("button", has_text="Add as alternative phrasing").click()
    await owner.wait_for_selector("text=The question now answers from the article")
    source = await answered_from(browser, server, TYPO)
    assert source is not None and HEADSET in source

    # 2. a link that truly breaks a labeled question: blocked, the question shown
    server.services.gaps.record_gap(LABELED, "low_confidence", "add-printer", 0.1)
    await owner.goto(server.base + "/console/gaps")
    cluster = owner.locator("tr[id^=cluster-]", has_text=LABELED)
    await cluster.locator("select[name=article_id]").select_option("add-printer")
    await cluster.locator("button", has_text="Add as alternative phrasing").click()
    failures = owner.locator("table.failures")
    await failures.wait_for()
    assert LABELED in await failures.inner_text()
    assert "add-printer now wins this question" in await failures.inner_text()
    await owner.screenshot(path=str(SHOTS / "console-link-blocked.png"), full_page=True)
    # ... then published anyway, with a reason
    await owner.fill("#override-reason", REASON)
    await owner.click("#publish-anyway")
    await owner.wait_for_selector("text=The question now answers from the article")

    # 3. an edit, published, then rolled back: the chat answers from the old text
    await owner.goto(server.base + "/console/articles/docking-station-monitors")
    await owner.fill("#answer", NEW_TEXT)
    await owner.fill("#reason", "shorter first step")
    await owner.click("#publish")
    await owner.wait_for_selector("text=Published: the assistant answers from this version now.")
    assert NEW_TEXT in await answer_text(browser, server, DOCK_QUESTION)
    await owner.locator("details", has_text="Short answer").first.wait_for()
    await owner.screenshot(path=str(SHOTS / "console-article-history.png"), full_page=True)
    await owner.click("#rollback-1")
    await owner.wait_for_selector("text=Rolled back: the earlier version is current again")
    assert OLD_TEXT in await answer_text(browser, server, DOCK_QUESTION)


async def test_owner_fixes_stick_and_survive_a_demo_restart(
    browser: Any,
    demo_url: str,
    tmp_path: Path,
) -> None:
    labeled = tmp_path / "labeled.jsonl"
    labeled.write_text(
        json.dumps({"query": LABELED, "relevant_ids": ["docking-station-monitors"]}) + "\n"
    )
    async with serve(demo_url, DESKBOT_QUESTIONS_PATH=labeled) as server:
        server.add("priya", Role.KNOWLEDGE_OWNER, "Priya Natarajan")
        server.add("ada", Role.ADMIN, "Ada Admin")
        await fix_everything(browser, server)

    # `deskbot demo` again on the same database: the demo files are imported again
    async with serve(demo_url, DESKBOT_QUESTIONS_PATH=labeled) as server:
        prepare_knowledge(server.runtime.settings, server.services, import_path=True)
        source = await answered_from(browser, server, TYPO)
        assert source is not None and HEADSET in source
        printer = server.services.knowledge.article("add-printer")
        assert printer is not None
        assert printer.title in (await answered_from(browser, server, LABELED) or "")
        assert OLD_TEXT in await answer_text(browser, server, DOCK_QUESTION)

        admin = await console_page(browser, server, "ada")
        await admin.goto(server.base + "/console/audit")
        row = admin.locator("table.audit tr", has_text="override")
        assert REASON in await row.inner_text()
        await admin.goto(server.base + "/console/dashboard")
        assert REASON in await admin.locator("table.overrides").inner_text()
        await admin.goto(server.base + "/console/articles/docking-station-monitors")
        history = await admin.locator("ol.versions").inner_text()
        assert "Version 3" in history and "rolled back to version 1" in history
        await admin.screenshot(path=str(SHOTS / "console-after-restart.png"), full_page=True)
