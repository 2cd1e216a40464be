"""Microsoft Teams: employees ask deskbot in Teams, agents take hand-offs in a Teams channel.

`POST /api/messages` is mounted when `MicrosoftAppId` is set (requests must carry a valid Bot
Framework token), or, without an app id, only while the server listens on a loopback address:
replies go to the `serviceUrl` a request names, so an open endpoint would post wherever a
caller says.

    channel.py    composition and mounting (`TeamsChannel`)
    sdk.py        botbuilder: the /api/messages handler, the turn, Bot Connector calls
    auth.py       botbuilder: tokens in and out
    router.py     which activity goes where
    employees.py  employees: messages, the welcome, proactive replies
    desk.py       agents: hand-off cards, Claim/Resolve, thread replies
    identity.py   the roster, cached
    activity.py   activity JSON in
    cards.py      activity JSON out (Adaptive Cards)
    delivery.py   pacing and retries
    store.py      the desk's tables and state
    wording.py    what only Teams shows
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import Counter

from bot.channels.teams.activity import channel_setting
from bot.channels.teams.auth import MULTI_TENANT, App, Cloud
from bot.channels.teams.delivery import TEAMS_WINDOWS, RateLimiter, RetryPolicy
from bot.channels.teams.desk import TeamsDesk
from bot.channels.teams.employees import CHANNEL, TeamsEmployees
from bot.channels.teams.router import Router
from bot.channels.teams.sdk import BotFramework
from bot.channels.teams.store import DeskStore
from bot.dialogue.relay import Relay
from bot.dialogue.services import Services
from bot.dialogue.turns import Turns
from bot.settings import Settings

log = logging.getLogger(__name__)
ROUTE = "/api/messages"


@dataclass(frozen=True)
class Tuning:
    """Timing the defaults get right for Teams; tests shorten it."""

    first_reply_seconds: float = 3.5  # Teams users expect the first reply within 5 s
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    windows: tuple[tuple[float, int], ...] = TEAMS_WINDOWS


class TeamsChannel:
    """The `Channel` at POST /api/messages, with the agents' `TeamsDesk` it feeds."""

    name = CHANNEL

    def __init__(
        self,
        settings: Settings,
        services: Services,
        turns: Turns,
        relay: Relay,
        app: App,
        *,
        cloud: Cloud | None = None,
        tuning: Tuning | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        tuning = tuning or Tuning()
        limiter = RateLimiter(tuning.windows, clock)
        self.framework = BotFramework(app, cloud or Cloud(), tuning.retry, limiter, clock)
        store = DeskStore(services.conversations.engine)
        agents = channel_setting(settings.teams_agent_channel)
        self.desk = TeamsDesk(relay, services, store, self.framework, agents)
        self.employees = TeamsEmployees(
            turns, services, self.framework, tuning.first_reply_seconds, clock=clock
        )
        self.router = Router(self.employees, self.desk)
        services.inbox.register(CHANNEL, self.employees.resume)
        if agents or store.agent_channel() is not None:
            self.desk.enable()
        self._answered = Counter(
            "deskbot_teams_requests",
            "Requests to /api/messages by HTTP status (401: rejected tokens)",
            ["status"],
            registry=services.metrics.registry,
        )

    def mount(self, app: web.Application) -> None:
        app.router.add_post(ROUTE, self._messages)
        app.cleanup_ctx.append(self._lifetime)

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        response = await self.framework.handle(request, self.router.on_turn)
        self._answered.labels(str(response.status)).inc()
        return response

    async def _lifetime(self, _app: web.Application) -> AsyncIterator[None]:
        yield
        await self.employees.close()
        await self.framework.close()


def build(
    settings: Settings, services: Services, turns: Turns, relay: Relay, host: str
) -> TeamsChannel | None:
    """The Teams channel when Teams is configured (or in local mode); None otherwise."""
    app = registration(settings, host)
    return None if app is None else TeamsChannel(settings, services, turns, relay, app)


def registration(settings: Settings, host: str) -> App | None:
    """The bot's registration from Settings, or None (and the reason in the log) when Teams
    must not be mounted."""
    app_id = settings.microsoft_app_id.strip()
    if not app_id:
        if not _loopback(host):
            log.warning(
                "teams: %s not mounted: MicrosoftAppId is not set and the server listens on %s; "
                "without an app id requests are not authenticated, which is only safe on a "
                "loopback address",
                ROUTE,
                host,
            )
            return None
        log.info("teams: %s in local mode, without authentication", ROUTE)
        return App()
    password = settings.microsoft_app_password.get_secret_value()
    kind = settings.microsoft_app_type.strip().lower()
    tenant = settings.microsoft_app_tenant_id.strip()
    problem = None
    if kind not in ("multitenant", "singletenant"):
        problem = f"MicrosoftAppType {settings.microsoft_app_type!r} is not supported"
    elif not password:
        problem = "MicrosoftAppPassword is not set"
    elif kind == "singletenant" and not tenant:
        problem = "MicrosoftAppTenantId is required for a SingleTenant app"
    if problem is not None:
        log.error("teams: %s not mounted: %s", ROUTE, problem)
        return None
    return App(app_id, password, tenant if kind == "singletenant" else MULTI_TENANT)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
