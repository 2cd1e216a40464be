"""Slack channel: employees ask deskbot in Slack, agents take handed-off conversations there.

`deskbot serve` mounts it when SLACK_BOT_TOKEN is set together with SLACK_SIGNING_SECRET (the
Events API at POST /slack/events) or SLACK_APP_TOKEN (Socket Mode: deskbot dials out, so no
public URL is needed). Agents work in DESKBOT_SLACK_AGENT_CHANNEL when it is set.

    channel.py    composition, mounting, Socket Mode (`SlackChannel`)
    http.py       the signed HTTP endpoint
    router.py     Bolt listeners: ack, then route
    employees.py  employees: messages, mentions, /helpdesk, buttons
    desk.py       agents: request posts, Claim/Resolve, thread replies
    identity.py   users.info, cached
    events.py     payload parsing
    blocks.py     Block Kit rendering
    post.py       the Web API client, paced per channel
    store.py      the desk's table and state
    wording.py    what only Slack shows
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from functools import partial

from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import Engine

from bot.channels.slack.desk import SlackDesk
from bot.channels.slack.employees import CHANNEL, SlackEmployees
from bot.channels.slack.http import EventsEndpoint
from bot.channels.slack.identity import Directory
from bot.channels.slack.post import Pace, Pacer, Poster, make_client
from bot.channels.slack.router import Background, Router, bolt_log
from bot.channels.slack.store import DeskStore
from bot.dialogue.relay import Relay
from bot.dialogue.services import Services
from bot.dialogue.turns import Turns
from bot.settings import Settings
from handoff.pacing import SharedPacer

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
RECONNECT_SECONDS = (1, 2, 5, 10, 30, 60)


class SlackChannel:
    """The `Channel` at POST /slack/events (or over Socket Mode), with the agents' `SlackDesk`
    when DESKBOT_SLACK_AGENT_CHANNEL is set."""

    name = CHANNEL

    def __init__(
        self,
        settings: Settings,
        services: Services,
        turns: Turns,
        relay: Relay,
        *,
        client: AsyncWebClient | None = None,
        pacer: Pace | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.client = client or make_client(settings)
        poster = Poster(self.client, pacer or pacing(services.conversations.engine))
        directory = Directory(self.client)
        self.employees = SlackEmployees(turns, services, poster, directory)
        self.desk = (
            SlackDesk(
                relay,
                services,
                poster,
                directory,
                DeskStore(services.conversations.engine),
                settings.slack_agent_channel,
            )
            if settings.slack_agent_channel
            else None
        )
        self.work = Background(inbox=services.inbox)
        services.inbox.register(CHANNEL, self.employees.resume)
        self.bolt = Router(self.employees, self.desk, self.work).app(self.client)

    @property
    def socket_mode(self) -> bool:
        return self.settings.slack_app_token is not None

    def mount(self, app: web.Application) -> None:
        token, secret = self.settings.slack_app_token, self.settings.slack_signing_secret
        if token is not None:
            app.cleanup_ctx.append(partial(self._socket_mode, token.get_secret_value()))
        elif secret is not None:
            endpoint = EventsEndpoint(self.bolt, secret.get_secret_value(), self.clock)
            app.router.add_post(EVENTS_PATH, endpoint.handle)
        else:
            raise ValueError(
                "Slack needs SLACK_SIGNING_SECRET (Events API) or SLACK_APP_TOKEN (Socket Mode)"
            )
        app.cleanup_ctx.append(self._lifetime)

    async def _lifetime(self, _app: web.Application) -> AsyncIterator[None]:
        yield
        await self.work.close()

    async def _socket_mode(self, token: str, _app: web.Application) -> AsyncIterator[None]:
        handler = AsyncSocketModeHandler(self.bolt, token, logger=bolt_log, web_client=self.client)
        connecting = asyncio.create_task(self._connect(handler))
        yield
        connecting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await connecting
        await handler.close_async()  # type: ignore[no-untyped-call]

    @staticmethod
    async def _connect(handler: AsyncSocketModeHandler) -> None:
        """Dial Slack until it answers; once connected the client reconnects by itself."""
        for attempt in range(1_000_000):
            try:
                await handler.connect_async()  # type: ignore[no-untyped-call]
            except Exception as exc:
                delay = RECONNECT_SECONDS[min(attempt, len(RECONNECT_SECONDS) - 1)]
                log.warning("slack socket mode: cannot connect (%s)", exc.__class__.__name__)
                await asyncio.sleep(delay)
            else:
                log.info("slack socket mode: connected")
                return


def pacing(engine: Engine) -> Pace:
    """Slack's per-channel pace: kept in the database on PostgreSQL, where several replicas
    post to the same channels; in this process on SQLite, which serves one process."""
    return SharedPacer(engine) if engine.dialect.name == "postgresql" else Pacer()


def build(
    settings: Settings, services: Services, turns: Turns, relay: Relay
) -> SlackChannel | None:
    """The Slack channel when Slack is configured; None otherwise (and the log says why)."""
    if not settings.slack_enabled:
        if settings.slack_bot_token or settings.slack_signing_secret or settings.slack_app_token:
            log.warning(
                "slack: off; it needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (HTTP) "
                "or SLACK_BOT_TOKEN and SLACK_APP_TOKEN (Socket Mode)"
            )
        return None
    channel = SlackChannel(settings, services, turns, relay)
    log.info(
        "slack: %s; agent desk %s",
        "socket mode" if channel.socket_mode else f"events at {EVENTS_PATH}",
        "on" if channel.desk else "off (DESKBOT_SLACK_AGENT_CHANNEL is not set)",
    )
    return channel
