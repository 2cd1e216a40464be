"""What the ServiceNow, Jira and Zendesk fakes share: a local aiohttp server on 127.0.0.1
port 0 that records every call, checks credentials, and can be told to misbehave.

Faults a test can ask for: a status (with headers such as Retry-After) for the next N calls
to a path, slow answers, and a stall AFTER a write was made (the record exists, the answer
comes too late: the client times out). Each system's subclass adds its routes, its own
error format, and the agent's side (comment, change state).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web

from handoff.facts import extract_facts
from handoff.itsm.port import TicketSystem
from handoff.itsm.resilience import Timing
from handoff.itsm.systems import SystemConfig, connect
from handoff.summary import CaseOutline, summarize, ticket_title
from handoff.tickets import NewTicket
from tests.support import start_server

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
BODY = web.RequestKey("body", object)  # the parsed request body (JSON, form, or text)
WHO = web.RequestKey("who", str)  # the signed-in user ("" when nobody is)


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    query: Mapping[str, str]
    body: Any
    who: str | None  # the authenticated user, None when refused or anonymous
    authorization: str  # the scheme only ("Basic", "Bearer", ""): never the secret
    at: float


@dataclass
class _Fault:
    method: str
    path: str
    status: int
    times: int
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Stall:
    method: str
    path: str
    seconds: float
    times: int
    status: int | None


F = TypeVar("F", bound="FakeSystem")


@contextlib.asynccontextmanager
async def serving(fake: F) -> AsyncIterator[F]:
    """`fake` listening on 127.0.0.1 while the block runs."""
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()


class Opened:
    """Adapters connected with a test's changes to `config`, sharing one fake clock, all
    closed when the block ends: `async with Opened(config) as opened: system = opened()`."""

    def __init__(self, config: SystemConfig) -> None:
        self.config = config
        self.clock = FakeClock()
        self._systems: list[TicketSystem] = []

    def __call__(self, **changes: Any) -> Any:
        config = dataclasses.replace(self.config, **changes)
        system = connect(config, timing=self.clock.timing())
        self._systems.append(system)
        return system

    async def __aenter__(self) -> Opened:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for system in self._systems:
            await system.close()


class FakeClock:
    """The client's clocks and sleep for tests: sleeping advances time at once and is
    recorded, so waits can be asserted without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0  # monotonic seconds
        self.wall_now = 1_795_000_000.0  # epoch seconds
        self.sleeps: list[float] = []

    def timing(self) -> Timing:
        return Timing(
            monotonic=lambda: self.now,
            wall=lambda: self.wall_now,
            sleep=self._sleep,
            random=lambda: 0.5,
        )

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.wall_now += seconds

    async def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)


def basic_user(header: str) -> tuple[str, str] | None:
    """(user, password) from a Basic Authorization header."""
    if not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return None
    return user, password


class FakeSystem:
    """Subclasses set `routes`, `error` and `authenticate`; `public` paths need no sign-in."""

    public: tuple[str, ...] = ()
    unauthenticated: tuple[str, str] = ("not signed in", "")  # (message, detail) of a 401

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._faults: list[_Fault] = []
        self._stalls: list[_Stall] = []
        self._slow: dict[str, tuple[float, int | None]] = {}
        self._every: tuple[int, int, dict[str, str]] | None = None
        self._counted = 0
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- to override ---------------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def error(self, status: int, message: str, detail: str = "") -> web.Response:
        raise NotImplementedError

    def authenticate(self, request: web.Request) -> str | None:
        raise NotImplementedError

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> FakeSystem:
        app = web.Application(middlewares=[self._middleware])
        self.routes(app)
        self._runner, self.port = await start_server(app)
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- misbehaving on request ----------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        path: str,
        status: int,
        *,
        times: int = 1,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer `status` to the next `times` calls whose path starts with `path`."""
        self._faults.append(_Fault(method, path, status, times, dict(headers or {})))

    def fail_every(self, nth: int, status: int, headers: Mapping[str, str] | None = None) -> None:
        """Answer `status` to every `nth` call, whatever its path (a steady rate limit)."""
        self._every = (nth, status, dict(headers or {}))

    def recover(self) -> None:
        """Stop every fault asked for: the system is healthy again."""
        self._faults.clear()
        self._stalls.clear()
        self._every = None

    def slow(self, seconds: float, path: str = "/", *, times: int | None = None) -> None:
        """Answers under `path` come `seconds` late: every one, or the next `times`."""
        self._slow[path] = (seconds, times)

    def stall_after(
        self, method: str, path: str, seconds: float, *, times: int = 1, status: int | None = None
    ) -> None:
        """Do the work, then wait `seconds` before answering (a timeout after a success), and
        answer `status` instead of the real answer when given (a 5xx after a success)."""
        self._stalls.append(_Stall(method, path, seconds, times, status))

    def calls_to(self, method: str, path: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and c.path.startswith(path)]

    # -- the request pipeline ------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        body = await _body(request)
        who = None if request.path.startswith(self.public) else self.authenticate(request)
        scheme = request.headers.get("Authorization", "").partition(" ")[0]
        self.calls.append(
            Call(request.method, request.path, dict(request.query), body, who, scheme, time.time())
        )
        request[BODY] = body
        request[WHO] = who or ""
        for path, (seconds, times) in list(self._slow.items()):
            if request.path.startswith(path):
                if times is not None:
                    self._slow[path] = (seconds, times - 1)
                    if times <= 1:
                        del self._slow[path]
                await asyncio.sleep(seconds)
        self._counted += 1
        if self._every is not None and self._counted % self._every[0] == 0:
            response = self.error(self._every[1], _REASONS.get(self._every[1], "Failure"))
            response.headers.update(self._every[2])
            return response
        fault = self._take(self._faults, request)
        if fault is not None:
            response = self.error(fault.status, _REASONS.get(fault.status, "Failure"))
            response.headers.update(fault.headers)
            return response
        if who is None and not request.path.startswith(self.public):
            return self.error(401, *self.unauthenticated)
        response = await handler(request)
        stall = self._take(self._stalls, request)
        if stall is not None:
            await asyncio.sleep(stall.seconds)
            if stall.status is not None:
                return self.error(stall.status, _REASONS.get(stall.status, "Failure"))
        return response

    @staticmethod
    def _take(items: list[Any], request: web.Request) -> Any:
        for item in items:
            if item.method == request.method and request.path.startswith(item.path):
                item.times -= 1
                if item.times <= 0:
                    items.remove(item)
                return item
        return None


_REASONS = {
    403: "Forbidden",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


async def _body(request: web.Request) -> Any:
    if not request.can_read_body:
        return None
    if request.content_type == "application/x-www-form-urlencoded":
        return dict(await request.post())
    raw = await request.read()
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


def hand_off(
    requester: str = "alex.morgan@example.com",
    *,
    priority: str = "high",
    category: str = "vpn",
) -> NewTicket:
    """A hand-off as the dialogue core builds it: title and summary from the case outline,
    texts already redacted."""
    questions = [
        "my vpn says error 809 since this morning",
        "my password is [redacted password] and it still fails",
    ]
    outline = CaseOutline(
        reason="low_confidence",
        priority=priority,
        category=category,
        requester=requester,
        channel="web",
        questions=questions,
        offered=[("Fix VPN connection errors", 0.41)],
        facts=extract_facts(questions),
        requester_name="Alex Morgan",
    )
    return NewTicket(
        reason=outline.reason,
        priority=priority,
        category=category,
        title=ticket_title(outline),
        summary=summarize(outline),
        requester=requester,
        requester_name="Alex Morgan",
        channel="web",
        conversation_id="conv-1",
        facts=outline.facts.as_dict(),
        questions=questions,
        transcript=[
            {"at": "2026-11-23T08:58:00+00:00", "role": "user", "text": questions[0]},
            {"at": "2026-11-23T08:58:01+00:00", "role": "bot", "text": "Error 809 usually ..."},
            {"at": "2026-11-23T08:59:00+00:00", "role": "user", "text": questions[1]},
        ],
    )
