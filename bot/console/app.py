"""The console at /console: a sub-application whose every route is declared here, once, with
the roles allowed on it. The guard (bot.console.auth) refuses anything not in this table."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from aiohttp import web

from bot.console import agents, articles, auth, dashboard, knowledge, tryout
from bot.console.accounts import ADMINS, AGENTS, EVERYONE, OWNERS, AccountStore
from bot.console.audit import AuditLog
from bot.console.audit_page import audit_page
from bot.console.auth import PUBLIC, Route
from bot.console.context import CONSOLE, Console
from bot.console.gaps import CachedEmbedder, FixStore
from bot.console.publishing import Publisher
from bot.console.sessions import SessionStore, SignInLimit
from bot.dialogue.conversations import shared_secret
from bot.dialogue.relay import Relay
from bot.dialogue.services import Services
from bot.inbound import networks
from bot.server import Mount
from bot.settings import Settings

STATIC = Path(__file__).parent / "static"
STATIC_NAME = re.compile(r"^[a-z0-9_-]+\.(css|js)$")


TICKET = "/console/tickets/{ticket_id:\\d+}"
ARTICLE = "/console/articles/{article_id:[A-Za-z0-9][A-Za-z0-9._-]{0,127}}"


async def static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    path = STATIC / name
    if not STATIC_NAME.match(name) or not path.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers={"Cache-Control": "public, max-age=3600"})


ROUTES: tuple[Route, ...] = (
    Route("GET", "/console/static/{name}", static, PUBLIC),
    Route("GET", "/console/sign-in", auth.sign_in_page, PUBLIC),
    Route("POST", "/console/sign-in", auth.sign_in, PUBLIC),
    Route("GET", "/console", auth.home, EVERYONE),
    Route("POST", "/console/sign-out", auth.sign_out, EVERYONE),
    Route("GET", "/console/queue", agents.queue_page, AGENTS),
    Route("GET", "/console/queue/rows", agents.queue_rows, AGENTS, api=True, touch=False),
    Route("GET", TICKET, agents.ticket_page, AGENTS),
    Route("GET", TICKET + "/transcript", agents.ticket_transcript, AGENTS, api=True, touch=False),
    Route("POST", TICKET + "/claim", agents.claim, AGENTS),
    Route("POST", TICKET + "/reply", agents.reply, AGENTS),
    Route("POST", TICKET + "/note", agents.note, AGENTS),
    Route("POST", TICKET + "/resolve", agents.resolve, AGENTS),
    Route("POST", TICKET + "/hand-back", agents.hand_back, AGENTS),
    Route("GET", "/console/gaps", knowledge.gaps_page, OWNERS),
    Route("POST", "/console/gaps/link", knowledge.link, OWNERS),
    Route("POST", "/console/gaps/draft", knowledge.draft, OWNERS),
    Route("POST", "/console/gaps/dismiss", knowledge.dismiss, OWNERS),
    Route("GET", "/console/articles", articles.articles_page, OWNERS),
    Route("GET", ARTICLE, articles.article_page, OWNERS),
    Route("POST", ARTICLE + "/save", articles.save, OWNERS),
    Route("POST", ARTICLE + "/publish", articles.publish, OWNERS),
    Route("POST", ARTICLE + "/retire", articles.retire, OWNERS),
    Route("POST", ARTICLE + "/rollback", articles.rollback, OWNERS),
    Route("POST", ARTICLE + "/try", articles.try_edit, OWNERS),
    Route("GET", "/console/try", tryout.try_page, EVERYONE),
    Route("GET", "/console/dashboard", dashboard.dashboard_page, EVERYONE),
    Route("GET", "/console/dashboard/{table:[a-z]+}.csv", dashboard.export_csv, EVERYONE),
    Route("GET", "/console/audit", audit_page, ADMINS),
)


def build(settings: Settings, services: Services, relay: Relay) -> Console:
    """The console's stores on the main database."""
    engine = services.conversations.engine
    key = shared_secret(engine, "console_sign_in_key", lambda: secrets.token_hex(32))
    return Console(
        settings=settings,
        services=services,
        relay=relay,
        accounts=AccountStore(engine),
        sessions=SessionStore(engine),
        limit=SignInLimit(engine),
        audit=AuditLog(engine),
        fixes=FixStore(engine),
        publisher=Publisher(settings, services),
        embedder=CachedEmbedder(services.knowledge.embedder),
        login_key=key.encode(),
        secure_cookies=settings.public_url.startswith("https://"),
        proxies=networks(settings.trusted_proxies),
    )


def application(console: Console) -> web.Application:
    app = web.Application(middlewares=[auth.guard])
    app[CONSOLE] = console
    auth.add_routes(app, ROUTES)
    return app


def mount(settings: Settings, services: Services, relay: Relay, host: str) -> Mount | None:
    """Mount /console (always: without accounts nobody can sign in, and nothing is shown)."""
    console = build(settings, services, relay)

    def add(app: web.Application) -> None:
        app.add_subapp("/console", application(console))

    return add
