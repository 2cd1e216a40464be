"""Who wrote in Teams: the Azure AD object id of the activity's sender, and their e-mail (or
user principal name) from the conversation roster. Never from what a message says."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from bot.channels.teams import activity as act
from bot.channels.teams.sdk import Turn
from bot.dialogue.messages import Identity

log = logging.getLogger(__name__)


class Directory:
    """Who wrote: the Azure AD object id of the activity's sender, and their e-mail (or user
    principal name) from the conversation roster, cached. Never from what a message says."""

    def __init__(
        self,
        ttl: float = 3600.0,
        limit: int = 10_000,
        timeout: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.limit = limit
        self.timeout = timeout
        self.clock = clock
        self._cache: OrderedDict[str, tuple[float, Identity]] = OrderedDict()

    async def identity(self, turn: Turn) -> Identity:
        sender = turn.activity["from"]
        key = str(sender["id"])
        cached = self._cache.get(key)
        if cached is not None and cached[0] > self.clock():
            return cached[1]
        member: dict[str, object] = {}
        try:
            member = dict(await asyncio.wait_for(turn.member(key), self.timeout))
        except Exception as exc:  # no e-mail then: answers still work, request status explains
            log.warning("teams: roster lookup failed: %s", exc.__class__.__name__)
        email = member.get("email") or member.get("userPrincipalName")
        identity = Identity(
            str(sender.get("aadObjectId") or member.get("aadObjectId") or key),
            email.lower() if isinstance(email, str) and "@" in email else None,
            str(member.get("name") or act.sender_name(turn.activity)),
        )
        ttl = self.ttl if member else min(self.ttl, 300.0)  # ask again soon after a failure
        self._cache[key] = (self.clock() + ttl, identity)
        self._cache.move_to_end(key)
        if len(self._cache) > self.limit:
            self._cache.popitem(last=False)
        return identity
