"""Talking to the Slack Web API: the client, and posting at the pace Slack allows.

Slack accepts about one message per second per channel (short bursts are fine) and answers
HTTP 429 with Retry-After beyond that. Posts are paced per channel here (on PostgreSQL by every
replica together: `handoff.pacing.SharedPacer`), and a 429 that gets through is retried after
Retry-After by slack_sdk's rate-limit handler.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.channels.slack.blocks import Message
from bot.settings import Settings


def make_client(settings: Settings) -> AsyncWebClient:
    """A Web API client for the bot token; DESKBOT_SLACK_API_URL points it elsewhere (tests,
    proxies). The base URL needs its trailing slash, or urljoin drops the last segment."""
    if settings.slack_bot_token is None:
        raise ValueError("Slack needs SLACK_BOT_TOKEN")
    base_url = settings.slack_api_url or AsyncWebClient.BASE_URL
    if not base_url.endswith("/"):
        base_url += "/"
    return AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=base_url,
        timeout=10,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(),
            AsyncRateLimitErrorRetryHandler(max_retry_count=2),
        ],
    )


class Pace(Protocol):
    async def wait(self, channel: str) -> None: ...


class Pacer:
    """At most `rate` posts a second per channel, after a burst of `burst`.

    A generic cell rate: each channel has a time from which its next post is free; a post
    reserves its slot before it sleeps, so concurrent posts to one channel queue up in order.
    """

    def __init__(
        self,
        rate: float = 1.0,
        burst: int = 3,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.interval = 1.0 / rate
        self.slack = (burst - 1) * self.interval
        self.clock = clock
        self.sleep = sleep
        self._free_at: dict[str, float] = {}

    def reserve(self, channel: str) -> float:
        """Take the channel's next slot; returns how long to wait for it."""
        now = self.clock()
        free_at = max(self._free_at.get(channel, now), now)
        self._free_at[channel] = free_at + self.interval
        if len(self._free_at) > 10_000:  # forget channels that have been quiet
            self._free_at = {c: t for c, t in self._free_at.items() if t > now}
        return max(0.0, free_at - self.slack - now)

    async def wait(self, channel: str) -> None:
        delay = self.reserve(channel)
        if delay > 0:
            await self.sleep(delay)


class Poster:
    """The few Web API calls deskbot makes, paced. Errors raise (SlackApiError or a network
    error): callers either let the outbox retry or queue the message in it."""

    def __init__(self, client: AsyncWebClient, pacer: Pace | None = None) -> None:
        self.client = client
        self.pacer: Pace = pacer or Pacer()

    async def post(
        self, channel: str, message: Message, thread_ts: str | None = None
    ) -> tuple[str, str]:
        """Post a message; returns (channel id, ts): `channel` may be a name (the agent channel
        setting), the answer always carries the id, which thread events use."""
        await self.pacer.wait(channel)
        response = await self.client.chat_postMessage(
            channel=channel, text=message["text"], blocks=message.get("blocks"), thread_ts=thread_ts
        )
        return str(response["channel"]), str(response["ts"])

    async def update(self, channel: str, ts: str, message: Message) -> None:
        await self.client.chat_update(
            channel=channel, ts=ts, text=message["text"], blocks=message.get("blocks") or []
        )

    async def whisper(
        self, channel: str, user: str, text: str, thread_ts: str | None = None
    ) -> None:
        """A message only `user` sees (chat.postEphemeral), in a thread if given."""
        await self.client.chat_postEphemeral(
            channel=channel, user=user, text=text, thread_ts=thread_ts
        )

    async def open_view(self, trigger_id: str, view: Mapping[str, Any]) -> None:
        """A modal for the person who pressed (the trigger id is good for 3 seconds)."""
        await self.client.views_open(trigger_id=trigger_id, view=dict(view))

    async def open_dm(self, user: str) -> str:
        response = await self.client.conversations_open(users=[user])
        return str(response["channel"]["id"])
