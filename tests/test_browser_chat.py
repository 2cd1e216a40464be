"""The web chat in headless Chromium: ask, see the answer with its source, say it did not
help, get handed to a person."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator

import pytest

from bot.wiring import build, prepare_knowledge
from retrieval.embedding import HashEmbedder
from tests.browser import ARGS, CHROMIUM, SHOTS
from tests.clock import CLOCK
from tests.conftest import test_settings
from tests.support import listening

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian's chromium is not installed"),
]


@pytest.fixture
async def chat_url(demo_url: str) -> AsyncIterator[str]:
    settings = test_settings(demo_url)
    runtime = build(
        settings, demo=True, embedder=HashEmbedder(), background=False, today=CLOCK.today
    )
    prepare_knowledge(settings, runtime.services, import_path=False)
    async with listening(runtime.app) as url:
        yield url


async def test_ask_answer_not_helpful_handoff(chat_url: str) -> None:
    from playwright.async_api import async_playwright, expect

    SHOTS.mkdir(parents=True, exist_ok=True)
    expect.set_options(timeout=20_000)  # generous: CI machines are shared
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = await browser.new_page()
        await page.goto(f"{chat_url}/chat")
        await page.get_by_role("button", name="Alex Morgan").click()
        await expect(page.get_by_text("Signed in as Alex Morgan")).to_be_visible()

        await page.get_by_label("Your message").fill("how can I use the VPN at home")
        await page.get_by_role("button", name="Send").click()
        answer = page.locator("li.msg.bot").filter(has=page.locator(".source")).last
        await expect(answer).to_be_visible()
        await expect(answer.locator(".who")).to_contain_text("automated answer")
        await expect(answer.locator(".source a")).to_have_attribute(
            "href", "https://it.example.com/kb/vpn-install-connect"
        )
        await expect(answer.locator(".source")).to_contain_text("last verified")
        await expect(page.locator("li.msg.bot").first).to_contain_text("automated assistant")
        await page.screenshot(path=str(SHOTS / "chat-answer.png"), full_page=True)

        await answer.get_by_role("button", name="Not helpful").click()
        offer = page.locator("li.msg.bot").filter(has_text="didn't help").last
        await expect(offer).to_be_visible()
        await offer.get_by_role("button", name="Talk to a person").click()
        handoff = page.locator("li.msg.bot").filter(has_text="passed this to the IT service desk")
        await expect(handoff).to_be_visible()
        await expect(handoff).to_contain_text("REQ")
        await page.screenshot(path=str(SHOTS / "chat-handoff.png"), full_page=True)
        await browser.close()
