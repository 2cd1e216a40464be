"""A real deskbot server with the console on 127.0.0.1 (port 0), and a browser-like HTTP client
that keeps cookies and sends the CSRF token of the page it last loaded. Shared by the
console tests; it holds no tests itself."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any

import aiohttp
import pytest
from argon2 import PasswordHasher
from yarl import URL

from bot.console.accounts import Account, AccountStore, Role
from bot.console.sessions import SessionStore
from bot.dialogue.messages import Identity, IncomingMessage, Reply
from bot.settings import DEMO_KB_PATH, Settings
from bot.wiring import Runtime, build, prepare_knowledge
from flows.router import Router
from retrieval.embedding import HashEmbedder
from tests.clock import CLOCK
from tests.support import listening

# bot/web/app.py registers a lambda as the handler of "/", which aiohttp deprecates; every
# test that builds the server needs this until that handler is an async function.
BARE_HANDLER = pytest.mark.filterwarnings("ignore:Bare functions are deprecated:DeprecationWarning")
PASSWORD = "correct horse battery staple"
# Cheap hashes for accounts made by tests (the parameters travel in the hash, so the server
# verifies them quickly); the server's own hashes use argon2's defaults.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def settings_for(url: str, **extra: Any) -> Settings:
    return Settings(DESKBOT_DATABASE_URL=url, DESKBOT_KB_PATH=DEMO_KB_PATH, **extra)


_ROUTER: list[Router] = []


def shared_router() -> Router:
    """One router for every demo server of the session. Training it takes seconds; it
    retrains by itself whenever it meets a knowledge base revision it has not learned (each
    test's copy of the demo database starts at the same revision, with the same articles)."""
    if not _ROUTER:
        _ROUTER.append(Router.from_file(HashEmbedder()))
    return _ROUTER[0]


@dataclass
class Server:
    runtime: Runtime
    base: str
    accounts: AccountStore = field(init=False)
    sessions: SessionStore = field(init=False)

    def __post_init__(self) -> None:
        engine = self.runtime.services.tickets.engine
        self.accounts = AccountStore(engine, hasher=FAST_HASHER)
        self.sessions = SessionStore(engine)

    @property
    def services(self) -> Any:
        return self.runtime.services

    def add(self, name: str, role: Role, full_name: str | None = None, **kw: Any) -> Account:
        return self.accounts.add(name, role, PASSWORD, full_name=full_name, **kw)

    def client(self) -> Client:
        return Client(self.base)

    async def handed_off(
        self,
        conversation: str = "c-1",
        channel: str = "web",
        reference: dict[str, Any] | None = None,
    ) -> int:
        """A conversation the assistant handed to a person; returns the ticket id."""
        user = Identity("u-alex", "alex.morgan@example.com", "Alex Morgan")
        await self.runtime.turns.handle(
            IncomingMessage(
                channel, conversation, user, "talk to a person", reference=reference or {}
            )
        )
        found = self.services.conversations.find(channel, conversation)
        assert found is not None and found.ticket_id is not None
        return int(found.ticket_id)


@asynccontextmanager
async def serve(url: str, **extra: Any) -> AsyncIterator[Server]:
    settings = settings_for(url, **extra)
    runtime = build(settings, embedder=HashEmbedder(), background=False, today=CLOCK.today)
    if url.startswith("sqlite"):  # a copy of the demo database
        runtime.services.policy.router = shared_router()
    prepare_knowledge(settings, runtime.services, import_path=False)
    try:
        async with listening(runtime.app) as base:
            yield Server(runtime, base)
    finally:
        runtime.services.tickets.engine.dispose()


@dataclass
class Response:
    status: int
    text: str
    headers: Any
    url: str


class Client:
    """Cookies like a browser; `post` sends the CSRF token of the last page loaded."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = aiohttp.CookieJar(unsafe=True)
        self.http = aiohttp.ClientSession(cookie_jar=self.jar)
        self.csrf = ""

    async def close(self) -> None:
        await self.http.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def cookie(self, name: str) -> str | None:
        for c in self.jar:
            if c.key == name:
                return c.value
        return None

    def set_cookie(self, name: str, value: str) -> None:
        """As if the server had set it (same path), replacing any earlier value."""
        cookie: SimpleCookie = SimpleCookie()
        cookie[name] = value
        cookie[name]["path"] = "/console"
        self.jar.update_cookies(cookie, URL(self.base + "/console/"))

    async def get(self, path: str, follow: bool = True, **kw: Any) -> Response:
        async with self.http.get(self.base + path, allow_redirects=follow, **kw) as r:
            text = await r.text()
            found = CSRF.findall(text)  # the last form's: the sign-in form has its own
            if found and r.content_type == "text/html":
                self.csrf = found[-1]
            return Response(r.status, text, r.headers, str(r.url))

    async def post(
        self, path: str, data: dict[str, str] | None = None, *, csrf: bool = True, **kw: Any
    ) -> Response:
        form = dict(data or {})
        if csrf:
            form.setdefault("csrf_token", self.csrf)
        async with self.http.post(self.base + path, data=form, allow_redirects=False, **kw) as r:
            return Response(r.status, await r.text(), r.headers, str(r.url))

    async def sign_in(self, name: str, password: str = PASSWORD) -> Response:
        await self.get("/console/sign-in")
        response = await self.post("/console/sign-in", {"name": name, "password": password})
        if response.status == 303:
            await self.get(response.headers["Location"])
        return response

    async def follow(self, response: Response) -> Response:
        assert response.status in (302, 303), (response.status, response.text[:300])
        return await self.get(response.headers["Location"])


def texts(replies: list[Reply]) -> str:
    return "\n".join(r.text for r in replies)
