"""Bot Framework authentication with botbuilder 4.17.1: which requests to /api/messages come
from the Bot Connector, and the token deskbot presents when it calls the Bot Connector."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import requests
from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botbuilder.schema import CallerIdConstants
from botframework.connector.auth import (
    AppCredentials,
    AuthenticationConstants,
    JwtTokenExtractor,
    MicrosoftAppCredentials,
    ServiceClientCredentialsFactory,
)

AUTH = AuthenticationConstants
MULTI_TENANT = AUTH.DEFAULT_CHANNEL_AUTH_TENANT  # "botframework.com"
REFRESH_MARGIN_SECONDS = 300.0
HTTP_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Cloud:
    """Bot Framework endpoints: the public cloud unless told otherwise (tests use local fakes)."""

    openid_metadata_url: str = AUTH.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL
    token_issuer: str = AUTH.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER
    emulator_openid_metadata_url: str = AUTH.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL
    login_url: str = AUTH.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX  # + tenant + token path
    oauth_scope: str = AUTH.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE


@dataclass(frozen=True)
class App:
    """The bot's Azure registration. No app id: authentication is off (local use only)."""

    app_id: str = ""
    password: str = ""
    tenant: str = MULTI_TENANT  # the Azure AD tenant of a single-tenant bot


class TokenSource(ServiceClientCredentialsFactory):  # type: ignore[misc]
    """Tokens for calls to the Bot Connector, by the OAuth 2 client-credentials grant: the
    request MSAL makes for botbuilder, against `cloud.login_url` (MSAL only talks to HTTPS
    authorities it can discover online, so it could not be tested offline). botbuilder asks for
    the token synchronously on the event loop, so `warm()` fetches it in a worker thread before
    a connector is used; the loop then only reads the cache."""

    def __init__(self, app: App, cloud: Cloud) -> None:
        self.app = app
        self.token_url = (
            f"{cloud.login_url}{app.tenant}{AUTH.TO_CHANNEL_FROM_BOT_TOKEN_ENDPOINT_PATH}"
        )
        self.scope = cloud.oauth_scope
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, float]] = {}  # scope -> (token, monotonic expiry)

    async def is_valid_app_id(self, app_id: str) -> bool:
        return bool(self.app.app_id) and app_id == self.app.app_id

    async def is_authentication_disabled(self) -> bool:
        return not self.app.app_id

    async def create_credentials(
        self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool
    ) -> Any:
        if not self.app.app_id:
            return MicrosoftAppCredentials.empty()
        if app_id != self.app.app_id:
            raise PermissionError("credentials asked for another app id")
        scope = oauth_scope or self.scope
        await self.warm(scope)
        return _Credentials(self, scope)

    async def warm(self, scope: str | None = None) -> None:
        scope = scope or self.scope
        if self.app.app_id and not self._fresh(scope):
            await asyncio.to_thread(self.token, scope)

    def _fresh(self, scope: str) -> bool:
        cached = self._tokens.get(scope)
        return cached is not None and cached[1] - REFRESH_MARGIN_SECONDS > time.monotonic()

    def token(self, scope: str) -> str:
        if self._fresh(scope):  # without the lock: the loop never waits for a refresh
            return self._tokens[scope][0]
        with self._lock:
            if self._fresh(scope):
                return self._tokens[scope][0]
            response = requests.post(
                self.token_url,
                data={
                    "grant_type": "client_credentials",
                    "client_id": self.app.app_id,
                    "client_secret": self.app.password,
                    "scope": scope.rstrip("/") + "/.default",
                },
                timeout=HTTP_TIMEOUT_SECONDS,
            )
            if response.status_code != 200:
                raise PermissionError(f"token request refused: HTTP {response.status_code}")
            body = response.json()
            expiry = time.monotonic() + float(body.get("expires_in", 3600))
            self._tokens[scope] = (str(body["access_token"]), expiry)
            return self._tokens[scope][0]


class _Credentials(AppCredentials):  # type: ignore[misc]
    def __init__(self, source: TokenSource, scope: str) -> None:
        super().__init__(app_id=source.app.app_id, oauth_scope=scope)
        self._source = source

    def get_access_token(self, force_refresh: bool = False) -> str:
        return self._source.token(self.oauth_scope)


def authentication(app: App, cloud: Cloud, tokens: TokenSource) -> Any:
    """botbuilder's request authentication, configured explicitly (never from the environment)."""
    config = SimpleNamespace(
        TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL=cloud.openid_metadata_url,
        TO_BOT_FROM_CHANNEL_TOKEN_ISSUER=cloud.token_issuer,
        TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL=cloud.emulator_openid_metadata_url,
        TO_CHANNEL_FROM_BOT_LOGIN_URL=cloud.login_url + app.tenant,
        TO_CHANNEL_FROM_BOT_OAUTH_SCOPE=cloud.oauth_scope,
        OAUTH_URL=AUTH.OAUTH_URL,
        CALLER_ID=CallerIdConstants.public_azure_channel,
    )
    return ConfigurationBotFrameworkAuthentication(config, credentials_factory=tokens)


class SigningKeys:
    """botbuilder 4.17.1 fetches the channel's signing keys once a day with blocking `requests`
    calls on the event loop, without a timeout. Fetching them first in a worker thread (one
    fetch at a time per URL) means a slow metadata endpoint delays requests instead of freezing
    the whole server."""

    def __init__(self, cloud: Cloud, timeout: float = HTTP_TIMEOUT_SECONDS) -> None:
        self.urls = (cloud.openid_metadata_url, cloud.emulator_openid_metadata_url)
        self.timeout = timeout
        self._pending: dict[str, asyncio.Future[None]] = {}

    async def warm(self) -> None:
        stale = datetime.now() - timedelta(hours=23)
        for url in self.urls:
            metadata = JwtTokenExtractor.get_open_id_metadata(url)
            if metadata.last_updated >= stale:
                continue
            pending = self._pending.get(url)
            if pending is None or pending.done():
                pending = asyncio.ensure_future(asyncio.to_thread(_refresh, metadata))
                pending.add_done_callback(_retrieve)
                self._pending[url] = pending
            await asyncio.wait_for(asyncio.shield(pending), self.timeout)


def _refresh(metadata: Any) -> None:
    # `_refresh` is a coroutine that never awaits: run it to completion in this worker thread
    asyncio.run(metadata._refresh())


def _retrieve(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()  # seen here, so a failure nobody waited for is not reported twice
