"""Microsoft Teams: employees ask deskbot in Teams, agents take hand-offs in a Teams channel.

`POST /api/messages` is mounted when `MicrosoftAppId` is set (requests must carry a valid Bot
Framework token), or, without an app id, only while the server listens on a loopback address:
replies go to the `serviceUrl` a request names, so an open endpoint would post wherever a
caller says.

Module map: teams_sdk and teams_auth speak botbuilder; teams_activity reads activity JSON,
teams_cards writes it; teams_bot handles employees, teams_desk the agents' channel;
teams_delivery paces and retries; teams_store keeps the desk's state.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import Counter

from bot.channels.teams_activity import channel_setting
from bot.channels.teams_auth import MULTI_TENANT, App, Cloud
from bot.channels.teams_bot import CHANNEL, TeamsBot
from bot.channels.teams_delivery import TEAMS_WINDOWS, RateLimiter, RetryPolicy
from bot.channels.teams_desk import DESK, AgentDesk
from bot.channels.teams_sdk import BotFramework
from bot.channels.teams_store import TeamsStore
from bot.dialogue.relay import Relay
from bot.dialogue.services import Services
from bot.dialogue.turns import Turns
from bot.settings import Settings
from bot.web.app import Mount

log = logging.getLogger(__name__)
ROUTE = "/api/messages"


@dataclass(frozen=True)
class Tuning:
    """Timing the defaults get right for Teams; tests shorten it."""

    first_reply_seconds: float = 3.5  # Teams users expect the first reply within 5 s
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    windows: tuple[tuple[float, int], ...] = TEAMS_WINDOWS


def mount(
    settings: Settings,
    services: Services,
    turns: Turns,
    relay: Relay,
    host: str,
    *,
    cloud: Cloud | None = None,
    tuning: Tuning | None = None,
) -> Mount | None:
    """Mount the Teams endpoints when Teams is configured (or in local mode); None otherwise."""
    app = registration(settings, host)
    if app is None:
        return None
    tuning = tuning or Tuning()
    framework = BotFramework(app, cloud or Cloud(), tuning.retry, RateLimiter(tuning.windows))
    store = TeamsStore(services.conversations.engine)
    agents = channel_setting(settings.teams_agent_channel)
    desk = AgentDesk(relay, services, store, framework, agents)
    bot = TeamsBot(turns, services, framework, desk, tuning.first_reply_seconds)
    services.outbox.register(CHANNEL, bot.deliver)
    services.outbox.register(DESK, desk.on_event)
    if agents or store.agent_channel() is not None:
        desk.enable()
    answered = Counter(
        "deskbot_teams_requests",
        "Requests to /api/messages by HTTP status (401: rejected tokens)",
        ["status"],
        registry=services.metrics.registry,
    )

    async def messages(request: web.Request) -> web.StreamResponse:
        response = await framework.handle(request, bot.on_turn)
        answered.labels(str(response.status)).inc()
        return response

    async def lifetime(_app: web.Application) -> AsyncIterator[None]:
        yield
        await bot.close()
        await framework.close()

    def add(web_app: web.Application) -> None:
        web_app.router.add_post(ROUTE, messages)
        web_app.cleanup_ctx.append(lifetime)

    return add


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
