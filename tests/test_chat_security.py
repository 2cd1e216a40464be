"""The web chat holds like the console: the same security headers on its page and API, a
sign-out that ends the session on the server (a copied cookie stops working), and a demo
sign-in that refuses cross-site posts. Real HTTP into the real server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.server import SECURITY_HEADERS
from bot.wiring import build, prepare_knowledge
from retrieval.embedding import HashEmbedder
from tests.clock import CLOCK
from tests.conftest import test_settings
from tests.support import listening
from tests.test_console_support import BARE_HANDLER, shared_router

pytestmark = BARE_HANDLER
ALEX = "alex.morgan@example.com"


@pytest.fixture
async def base(demo_url: str) -> AsyncIterator[str]:
    settings = test_settings(demo_url)
    runtime = build(
        settings, demo=True, embedder=HashEmbedder(), background=False, today=CLOCK.today
    )
    runtime.services.policy.router = shared_router()
    prepare_knowledge(settings, runtime.services, import_path=False)
    try:
        async with listening(runtime.app) as url:
            yield url
    finally:
        runtime.services.conversations.engine.dispose()


def browser() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def sign_in(http: aiohttp.ClientSession, base: str, **headers: str) -> int:
    async with http.post(
        base + "/chat/session",
        data={"email": ALEX},
        headers={"Origin": base, **headers},
        allow_redirects=False,
    ) as r:
        return r.status


async def send(http: aiohttp.ClientSession, base: str, text: str, **kw: Any) -> int:
    async with http.post(base + "/chat/api/messages", json={"text": text}, **kw) as r:
        return r.status


def assert_secure(headers: Any, what: str, cache: bool = True) -> None:
    for name, value in SECURITY_HEADERS.items():
        if name == "Cache-Control" and not cache:
            continue
        assert headers.get(name) == value, (what, name, headers.get(name))


async def test_the_chat_and_its_api_send_the_consoles_security_headers(base: str) -> None:
    async with browser() as http:
        async with http.get(base + "/chat") as r:  # the demo sign-in page
            assert r.status == 200
            assert_secure(r.headers, "sign-in page")
        assert await sign_in(http, base) == 303
        async with http.get(base + "/chat") as r:
            assert r.status == 200 and "chat.js" in await r.text()
            assert_secure(r.headers, "chat page")
        async with http.post(base + "/chat/api/messages", json={"text": "vpn error 809"}) as r:
            assert r.status == 200
            assert_secure(r.headers, "send")
        async with http.get(base + "/chat/api/messages?after=0") as r:
            assert r.status == 200
            assert_secure(r.headers, "poll")
        async with http.get(base + "/chat/api/messages?after=x") as r:
            assert r.status == 400
            assert_secure(r.headers, "an error")
        async with http.get(base + "/console/sign-in") as r:
            assert_secure(r.headers, "console")
        async with http.get(base + "/static/chat.js") as r:
            assert r.status == 200
            assert r.headers["X-Content-Type-Options"] == "nosniff"
            assert r.headers.get("Cache-Control") != "no-store"  # assets may be cached


async def test_sign_out_ends_the_session_on_the_server(base: str) -> None:
    async with browser() as http:
        assert await sign_in(http, base) == 303
        assert await send(http, base, "how do I connect to the VPN") == 200
        cookies = {c.key: c.value for c in http.cookie_jar}
        async with http.post(
            base + "/chat/sign-out", headers={"Origin": base}, allow_redirects=False
        ) as r:
            assert r.status == 303
    async with aiohttp.ClientSession(cookies=cookies) as replay:  # a copy of the old cookie
        assert await send(replay, base, "still me?") == 401
        async with replay.get(base + "/chat/api/messages?after=0") as r:
            assert r.status == 401
        async with replay.get(base + "/chat") as r:  # the sign-in page again, not the chat
            assert "/chat/session" in await r.text()
    async with browser() as again:  # signing in afresh works
        assert await sign_in(again, base) == 303
        assert await send(again, base, "hello again") == 200


async def test_the_demo_sign_in_refuses_cross_site_posts(base: str) -> None:
    async with browser() as http:
        assert await sign_in(http, base, Origin="https://evil.example") == 403
        assert await sign_in(http, base, Origin="null") == 403
        async with http.post(
            base + "/chat/session",
            data={"email": ALEX},
            headers={"Sec-Fetch-Site": "cross-site"},
            allow_redirects=False,
        ) as r:
            assert r.status == 403
        assert not [c for c in http.cookie_jar if c.key == "deskbot_chat"]
        assert await sign_in(http, base) == 303  # from our own page
        assert await send(http, base, "hi", headers={"Origin": "https://evil.example"}) == 403
        async with http.post(
            base + "/chat/sign-out",
            headers={"Origin": "https://evil.example"},
            allow_redirects=False,
        ) as r:
            assert r.status == 403  # nor can another site sign the user out
        assert await send(http, base, "still signed in") == 200


async def test_the_single_sign_on_header_is_bounded(demo_url: str) -> None:
    settings = test_settings(demo_url).model_copy(
        update={"web_identity_header": "X-Forwarded-Email"}
    )
    runtime = build(settings, embedder=HashEmbedder(), background=False)
    runtime.services.policy.router = shared_router()
    prepare_knowledge(settings, runtime.services, import_path=False)
    try:
        async with listening(runtime.app) as url, browser() as http:
            too_long = {"X-Forwarded-Email": "a" * 310 + "@example.com"}
            async with http.get(url + "/chat", headers=too_long) as r:
                assert r.status == 401
            assert await send(http, url, "hi", headers=too_long) == 401
            fine = {"X-Forwarded-Email": ALEX}
            assert await send(http, url, "how do I connect to the VPN", headers=fine) == 200
    finally:
        runtime.services.conversations.engine.dispose()
