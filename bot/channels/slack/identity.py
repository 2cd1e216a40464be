"""Who a Slack user is: users.info gives the work e-mail (scope users:read.email) and name.

Request status trusts only this e-mail, never anything typed in a message. Lookups are cached
(users.info is rate limited and every message would need one); failures are cached briefly,
and a user without a resolvable e-mail still gets answers and handoffs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.dialogue.messages import Identity

log = logging.getLogger(__name__)


def identity_of(user_id: str, user: Mapping[str, Any]) -> Identity:
    """An Identity from a users.info `user` object. Bots and deactivated accounts get none."""
    profile = user.get("profile") or {}
    email = profile.get("email") if not (user.get("is_bot") or user.get("deleted")) else None
    name = (
        profile.get("real_name")
        or user.get("real_name")
        or profile.get("display_name")
        or user.get("name")
    )
    return Identity(user_id, str(email) if email else None, str(name) if name else None)


class Directory:
    def __init__(
        self,
        client: AsyncWebClient,
        ttl: float = 3600.0,
        failure_ttl: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        size: int = 10_000,
    ) -> None:
        self.client = client
        self.ttl = ttl
        self.failure_ttl = failure_ttl
        self.clock = clock
        self.size = size
        self._cache: dict[str, tuple[float, Identity]] = {}
        self._pending: dict[str, asyncio.Task[tuple[Identity, bool]]] = {}

    async def identity(self, user_id: str) -> Identity:
        cached = self._cache.get(user_id)
        if cached is not None and cached[0] > self.clock():
            return cached[1]
        task = self._pending.get(user_id)
        if task is None:  # one lookup at a time per user, however many events arrive
            task = asyncio.create_task(self._lookup(user_id))
            self._pending[user_id] = task
            task.add_done_callback(lambda _t: self._pending.pop(user_id, None))
        identity, ok = await asyncio.shield(task)
        if len(self._cache) >= self.size:
            self._cache.clear()
        self._cache[user_id] = (self.clock() + (self.ttl if ok else self.failure_ttl), identity)
        return identity

    async def name(self, user_id: str) -> str:
        return (await self.identity(user_id)).name or user_id

    async def _lookup(self, user_id: str) -> tuple[Identity, bool]:
        try:
            response = await self.client.users_info(user=user_id)
        except SlackApiError as exc:
            log.warning("slack users.info failed: %s", exc.response.get("error", "error"))
            return Identity(user_id), False
        except Exception as exc:  # network: answer without an e-mail rather than not at all
            log.warning("slack users.info failed: %s", exc.__class__.__name__)
            return Identity(user_id), False
        return identity_of(user_id, response.get("user") or {}), True
