"""One async HTTP client for every ticket system (aiohttp).

Each call has a timeout; 429 and 5xx are retried with backoff (honouring Retry-After), reads
and other idempotent calls also after timeouts; a write that may have been applied raises
`Uncertain` instead, so the adapter can look before writing again (`write_once`). One
circuit breaker per client, that is per system. Errors become `handoff.itsm.errors` with
plain messages; the Authorization header is built here by hand and never logged or quoted.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import aiohttp
from yarl import URL

from handoff.itsm.errors import (
    AuthFailed,
    Forbidden,
    ItsmError,
    NotFound,
    RateLimited,
    Rejected,
    Unavailable,
    Uncertain,
)
from handoff.itsm.resilience import (
    BreakerState,
    CircuitBreaker,
    RetryPolicy,
    Timing,
    backoff,
    retry_after,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Before the request left: safe to send again even when it is a write.
_NOT_SENT = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
_DETAIL_LIMIT = 300


class Auth(Protocol):
    """Builds the Authorization header for each attempt."""

    @property
    def who(self) -> str:
        """The user name for messages ("ServiceNow refused the credentials for user X")."""
        ...

    async def header(self, client: Client) -> str: ...

    def forget(self) -> bool:
        """Drop a cached token after a 401; True when fetching a new one may help."""
        ...


@dataclass(frozen=True)
class BasicCredentials:
    """HTTP Basic, built by hand (aiohttp's BasicAuth is deprecated)."""

    user: str
    password: str = field(repr=False)
    shown_as: str = ""  # the name for messages, when `user` is not what people know

    @property
    def who(self) -> str:
        return self.shown_as or self.user

    async def header(self, client: Client) -> str:
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode("ascii")
        return f"Basic {token}"

    def forget(self) -> bool:
        return False


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]
    data: Any  # parsed JSON, or None for an empty or non-JSON body
    next_url: str | None  # the Link header's rel="next", if any


ErrorReader = Callable[[Any], str]


def _plain(text: str) -> str:
    return " ".join(text.split())[:_DETAIL_LIMIT]


class Client:
    """Calls one system at `base_url` with `auth`; owns its session unless given one."""

    def __init__(
        self,
        system: str,
        base_url: str,
        auth: Auth,
        *,
        read_error: ErrorReader,
        policy: RetryPolicy | None = None,
        timing: Timing | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.system = system
        self.base = URL(base_url.rstrip("/") + "/")
        self.auth = auth
        self.policy = policy or RetryPolicy()
        self.timing = timing or Timing()
        self.breaker = CircuitBreaker(
            self.policy.breaker_failures, self.policy.breaker_reset, self.timing.monotonic
        )
        self._read_error = read_error
        self._session = session
        self._own_session = session is None

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    def url(self, path_or_url: str) -> URL:
        """A path under the base URL, or an absolute URL on the same origin (a Link header's
        next page). Credentials are never sent to another host."""
        url = URL(path_or_url)
        if not url.is_absolute():
            return self.base.join(URL(path_or_url.lstrip("/")))
        if url.origin() != self.base.origin():
            raise Rejected(self.system, f"{self.system} pointed to another host ({url.host})")
        return url

    async def call(
        self,
        method: str,
        path: str,
        *,
        needs: str,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        form: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        authenticated: bool = True,
    ) -> Response:
        """Send one request with retries. `needs` names the access it takes ("read access to
        sys_user"), for the 403 message. Returns any 2xx; raises `ItsmError` otherwise."""
        url = self.url(path)
        safe = method in IDEMPOTENT if idempotent is None else idempotent
        what = f"{method} {url.path}"
        refreshed = False
        error: ItsmError = Unavailable(self.system, f"{self.system}: {what} was not tried")
        for attempt in range(self.policy.attempts):
            closed_for = self.breaker.wait()
            if closed_for > 0:
                raise Unavailable(
                    self.system,
                    f"{self.system} is unavailable (after {self.breaker.failures} failures in a "
                    f"row); next try in {closed_for:.0f} s",
                )
            delay = backoff(attempt, self.policy, self.timing.random)
            try:
                response = await self._send(method, url, params, json, form, headers, authenticated)
            except _NOT_SENT as exc:
                self.breaker.failed()
                error = Unavailable(
                    self.system, f"cannot reach {self.system} at {url.host} ({type(exc).__name__})"
                )
            except (TimeoutError, aiohttp.ClientError) as exc:
                self.breaker.failed()
                error = self._lost(exc, what, safe)
            else:
                if response.status < 300:
                    self.breaker.succeeded()
                    return response
                if response.status == 401 and authenticated and not refreshed:
                    refreshed = self.auth.forget()
                    if refreshed:
                        continue  # a fresh token may be all it takes
                error, delay = self._failed(response, what, needs, safe, delay)
            if self.breaker.state is BreakerState.OPEN:
                break  # this failure opened the circuit: no point waiting to try again
            if attempt + 1 < self.policy.attempts:
                log.warning(
                    "%s: %s failed (%s); retry %d in %.1f s",
                    self.system,
                    what,
                    type(error).__name__,
                    attempt + 1,
                    delay,
                )
                await self.timing.sleep(delay)
        raise error

    def _lost(self, exc: BaseException, what: str, safe: bool) -> ItsmError:
        """A timeout or dropped connection after the request was sent: a write may have been
        applied, so it is `Uncertain` (raised); a read is simply tried again."""
        if isinstance(exc, TimeoutError):
            message = f"{self.system} did not answer {what} within {self.policy.timeout:g} s"
        else:
            message = f"{self.system} dropped the connection during {what}"
        if not safe:
            raise Uncertain(self.system, message) from None
        return Unavailable(self.system, message)

    def _failed(
        self, response: Response, what: str, needs: str, safe: bool, delay: float
    ) -> tuple[ItsmError, float]:
        """The error of a non-2xx answer and how long to wait before trying again; raised
        instead when trying again cannot help (a refusal, a write that may have been applied,
        a rate limit longer than we wait in-line)."""
        status, detail = response.status, self._detail(response)
        wait = retry_after(response.headers, self.timing.wall())
        if status == 429:
            error = RateLimited(
                self.system,
                f"{self.system} is limiting deskbot's requests"
                + (f" (retry after {wait:.0f} s)" if wait is not None else ""),
                retry_after=wait,
            )
            if wait is None:
                return error, delay
            if wait > self.policy.longest_wait:
                raise error
            return error, wait + self.timing.random() * self.policy.base_delay
        if status >= 500:
            self.breaker.failed()
            message = f"{self.system} answered {status} to {what}{detail}"
            if not safe:
                raise Uncertain(self.system, message, status=status)
            if wait is not None and wait <= self.policy.longest_wait:
                delay = max(delay, wait)
            return Unavailable(self.system, message, status=status), delay
        self.breaker.succeeded()  # it answered: the system is up
        raise self._refusal(status, what, needs, detail)

    def _refusal(self, status: int, what: str, needs: str, detail: str) -> ItsmError:
        who = self.auth.who
        if status == 401:
            return AuthFailed(
                self.system,
                f"{self.system} refused the credentials for user {who}{detail}",
                status=status,
            )
        if status == 403:
            return Forbidden(
                self.system, f"{self.system}: no {needs} for user {who}{detail}", needs=needs
            )
        if status == 404:
            return NotFound(self.system, f"{self.system}: nothing at {what}{detail}", status=404)
        return Rejected(
            self.system, f"{self.system} rejected {what} ({status}){detail}", status=status
        )

    def _detail(self, response: Response) -> str:
        text = _plain(self._read_error(response.data)) if response.data is not None else ""
        return f": {text}" if text else ""

    async def _send(
        self,
        method: str,
        url: URL,
        params: Mapping[str, str] | None,
        json: Any,
        form: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        authenticated: bool,
    ) -> Response:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        sent = {"Accept": "application/json", **(headers or {})}
        if authenticated:
            sent["Authorization"] = await self.auth.header(self)
        async with self._session.request(
            method,
            url,
            params=params,
            json=json,
            data=form,
            headers=sent,
            timeout=aiohttp.ClientTimeout(total=self.policy.timeout),
            allow_redirects=False,  # a redirect would carry the Authorization header along
        ) as resp:
            body = await resp.read()
            data: Any = None
            if body:
                try:
                    data = await resp.json(content_type=None)
                except ValueError:
                    data = None
            link = resp.links.get("next")
            next_url = str(link.get("url")) if link else None
            return Response(resp.status, resp.headers, data, next_url)


async def gather_bounded(calls: Sequence[Awaitable[T]], limit: int) -> list[T]:
    """Await `calls` concurrently, at most `limit` at a time, results in order: polling many
    tickets must not open a burst of connections that trips the system's rate limit."""
    gate = asyncio.Semaphore(limit)

    async def one(call: Awaitable[T]) -> T:
        async with gate:
            return await call

    return list(await asyncio.gather(*(one(c) for c in calls)))


async def write_once(
    write: Callable[[], Awaitable[T]],
    find: Callable[[], Awaitable[T | None]],
    client: Client,
    *,
    look_first: bool = False,
) -> T:
    """Make a write happen exactly once: after an `Uncertain` failure (or first, when an
    earlier attempt may have reached the system) look for its result before writing again.

    The look waits a backoff first, so a write the system is still finishing is found rather
    than doubled. A write that never completes raises the last `Uncertain`.
    """
    if look_first:
        found = await find()
        if found is not None:
            return found
    policy = client.policy
    attempt = 0
    while True:
        try:
            return await write()
        except Uncertain:
            attempt += 1
            if attempt >= policy.attempts:
                raise
            await client.timing.sleep(backoff(attempt, policy, client.timing.random))
            found = await find()
            if found is not None:
                return found
