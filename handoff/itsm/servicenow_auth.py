"""ServiceNow's OAuth: `POST /oauth_token.do`, form-encoded, password and refresh_token grants.

A token is fetched on first use and renewed a minute before it expires (by its refresh token
when there is one, else by the password grant again), so calls never start with an expired
token. After a 401 the token is dropped and fetched once more.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from handoff.itsm.config import ServiceNowConfig
from handoff.itsm.errors import ItsmError, Rejected
from handoff.itsm.http import Client
from handoff.itsm.resilience import Timing

TOKEN_PATH = "/oauth_token.do"
RENEW_BEFORE = 60.0  # seconds before expiry


@dataclass
class _Token:
    access: str
    expires_at: float  # monotonic


class ServiceNowOAuth:
    def __init__(self, config: ServiceNowConfig, timing: Timing) -> None:
        self._config = config
        self._timing = timing
        self._token: _Token | None = None
        self._refresh = ""
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"ServiceNowOAuth(user={self._config.user!r})"

    @property
    def who(self) -> str:
        return self._config.user

    async def header(self, client: Client) -> str:
        async with self._lock:
            token = self._token
            if token is None or self._timing.monotonic() >= token.expires_at - RENEW_BEFORE:
                token = self._token = await self._fetch(client)
        return f"Bearer {token.access}"

    def forget(self) -> bool:
        self._token = None
        return True

    async def _fetch(self, client: Client) -> _Token:
        c = self._config
        base = {"client_id": c.client_id, "client_secret": c.client_secret}
        if self._refresh:
            try:
                return await self._grant(
                    client, {**base, "grant_type": "refresh_token", "refresh_token": self._refresh}
                )
            except ItsmError as exc:
                if exc.retryable:
                    raise
                self._refresh = ""  # expired or revoked: sign in again with the password
        return await self._grant(
            client,
            {**base, "grant_type": "password", "username": c.user, "password": c.password},
        )

    async def _grant(self, client: Client, form: dict[str, str]) -> _Token:
        response = await client.call(
            "POST",
            TOKEN_PATH,
            form=form,
            needs="an OAuth token (check the OAuth application's client id and secret)",
            idempotent=True,  # asking for a token twice does no harm
            authenticated=False,
        )
        data = response.data if isinstance(response.data, dict) else {}
        access = data.get("access_token")
        if not isinstance(access, str) or not access:
            raise Rejected(
                client.system, f"{client.system} answered the token request without a token"
            )
        self._refresh = str(data.get("refresh_token") or "")
        lifetime = float(data.get("expires_in") or 1800)
        return _Token(access, self._timing.monotonic() + lifetime)
