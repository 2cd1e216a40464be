"""What every console handler shares: the services, the console's own stores, and the
signed-in account of the request."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.console.accounts import Account, AccountStore
from bot.console.audit import AuditLog
from bot.console.gaps import CachedEmbedder, FixStore
from bot.console.publishing import Publisher
from bot.console.sessions import Session, SessionStore, SignInLimit
from bot.dialogue.relay import Relay
from bot.dialogue.services import Services
from bot.inbound import Network, client_address
from bot.settings import Settings

ORIGIN = "console"  # the desk name the relay is told, so no desk echoes the console's actions


@dataclass
class Console:
    settings: Settings
    services: Services
    relay: Relay
    accounts: AccountStore
    sessions: SessionStore
    limit: SignInLimit
    audit: AuditLog
    fixes: FixStore
    publisher: Publisher
    embedder: CachedEmbedder  # for clustering questions
    login_key: bytes  # signs the pre-sign-in CSRF token
    secure_cookies: bool = False
    proxies: tuple[Network, ...] = ()  # DESKBOT_TRUSTED_PROXIES
    # knowledge changes are checked against the labeled questions one at a time per process
    publishing: asyncio.Lock = field(default_factory=asyncio.Lock)


CONSOLE: web.AppKey[Console] = web.AppKey("console", Console)
ACCOUNT: web.RequestKey[Account] = web.RequestKey("console_account", Account)
SESSION: web.RequestKey[Session] = web.RequestKey("console_session", Session)


def console_of(request: web.Request) -> Console:
    return request.app[CONSOLE]


def account_of(request: web.Request) -> Account:
    return request[ACCOUNT]


def address_of(request: web.Request) -> str:
    """The client's address (behind trusted proxies, the one they forwarded)."""
    return client_address(request, console_of(request).proxies)


async def audit(
    request: web.Request, action: str, target: str = "", detail: Mapping[str, Any] | None = None
) -> None:
    """Append to the audit log as the request's account."""
    console = console_of(request)
    actor = request[ACCOUNT].name if ACCOUNT in request else "-"
    await asyncio.to_thread(
        console.audit.record, actor, action, target, detail, address_of(request)
    )
