"""deskbot served with the desk's ITSM played by a local fake: the real server (web chat,
console, outbox, the ITSM desk and its poller) on 127.0.0.1, employees in the web chat over its
HTTP API, and the agent's side in the fake. Shared by the ITSM tests; it holds no tests.

Nothing runs in the background: a test delivers the outbox (`deliver`) and polls (`poll`)
itself, and moves one clock (`advance`) that the outbox, the poll lease and the adapter's
waits all read, so retries and outages take no real time.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from bot.itsm import connection
from bot.itsm.connection import ticket_system
from bot.settings import DEMO_KB_PATH, Settings
from bot.wiring import Itsm, Runtime, build, prepare_knowledge
from handoff.itsm.port import TicketRef
from handoff.tickets import Ticket
from retrieval.embedding import HashEmbedder
from tests import jira_fake, servicenow_fake, zendesk_fake
from tests.clock import CLOCK
from tests.itsm_cases import CASES, Case
from tests.itsm_fake import FakeClock, FakeSystem, serving
from tests.support import deliver_all, listening
from tests.test_console_support import Server, shared_router

# The server's policy, with the short timeouts that keep "a timeout after a write" quick.
POLICY = dataclasses.replace(connection.POLICY, timeout=0.3)
IDENTITY_HEADER = "X-Forwarded-Email"
ALEX = "alex.morgan@example.com"
SAM = "sam.taylor@example.com"


def system_settings(name: str, fake: Any) -> dict[str, str]:
    """What `DESKBOT_TICKETS=<name>` needs, pointing at the fake."""
    if name == "servicenow":
        return {
            "DESKBOT_SERVICENOW_URL": fake.url,
            "DESKBOT_SERVICENOW_USER": servicenow_fake.USER,
            "DESKBOT_SERVICENOW_PASSWORD": servicenow_fake.PASSWORD,
        }
    if name == "jira":
        return {
            "DESKBOT_JIRA_URL": fake.url,
            "DESKBOT_JIRA_EMAIL": jira_fake.EMAIL,
            "DESKBOT_JIRA_API_TOKEN": jira_fake.API_TOKEN,
            "DESKBOT_JIRA_SERVICE_DESK_ID": jira_fake.DESK,
            "DESKBOT_JIRA_REQUEST_TYPE_ID": jira_fake.REQUEST_TYPE,
        }
    return {
        "DESKBOT_ZENDESK_URL": fake.url,
        "DESKBOT_ZENDESK_EMAIL": zendesk_fake.EMAIL,
        "DESKBOT_ZENDESK_API_TOKEN": zendesk_fake.API_TOKEN,
    }


# How an agent answers and ends a ticket in each fake.
AgentAction = Callable[[Any, TicketRef], None]
ANSWER: dict[str, Callable[[Any, TicketRef, str], None]] = {
    "servicenow": lambda fake, ref, text: fake.agent_comment(ref.number, text),
    "jira": lambda fake, ref, text: fake.agent_comment(ref.id, text),
    "zendesk": lambda fake, ref, text: fake.agent_comment(ref.id, text),
}
RESOLVE: dict[str, AgentAction] = {
    "servicenow": lambda fake, ref: fake.set_state(ref.number, "6"),
    "jira": lambda fake, ref: fake.transition(ref.id, "Resolved", "DONE"),
    "zendesk": lambda fake, ref: fake.set_status(ref.id, "solved"),
}


def public_comments(name: str, fake: Any, ref: TicketRef) -> list[str]:
    """The customer-visible comments on a ticket, as the fake holds them."""
    if name == "servicenow":
        return [j["value"] for j in fake.journal(ref.number, "comments")]
    return [str(c["body"]) for c in fake.comments(ref.id, public=True)]


class Clock:
    """One clock for the outbox, the poll lease and the adapter (whose sleeps advance it)."""

    def __init__(self) -> None:
        self.fake = FakeClock()
        self._start = datetime.now(UTC)
        self._base = self.fake.now

    def __call__(self) -> datetime:
        return self._start + timedelta(seconds=self.fake.now - self._base)

    def advance(self, seconds: float) -> None:
        self.fake.advance(seconds)


class Employee:
    """An employee in the web chat, signed in by the single sign-on proxy's header."""

    def __init__(self, base: str, email: str) -> None:
        self.base = base
        self.headers = {IDENTITY_HEADER: email}
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.last = 0

    async def open(self) -> None:
        async with self.http.get(self.base + "/chat", headers=self.headers) as r:
            assert r.status == 200

    async def say(self, text: str) -> list[dict[str, Any]]:
        async with self.http.post(
            self.base + "/chat/api/messages",
            json={"text": text, "after": self.last},
            headers=self.headers,
        ) as r:
            assert r.status == 200, await r.text()
            return self._seen((await r.json())["messages"])

    async def news(self) -> list[dict[str, Any]]:
        """What reached the chat since the employee last looked."""
        async with self.http.get(
            self.base + f"/chat/api/messages?after={self.last}", headers=self.headers
        ) as r:
            assert r.status == 200
            return self._seen((await r.json())["messages"])

    def _seen(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.last = max([self.last, *(m["id"] for m in messages)])
        return messages

    async def close(self) -> None:
        await self.http.close()


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m["text"] for m in messages]


@dataclass
class Desk:
    """deskbot with a ticket system, the fake behind it, and the clock they share."""

    name: str
    case: Case
    runtime: Runtime
    base: str
    fake: Any
    clock: Clock

    @property
    def itsm(self) -> Itsm:
        assert self.runtime.itsm is not None
        return self.runtime.itsm

    @property
    def services(self) -> Any:
        return self.runtime.services

    async def deliver(self) -> int:
        """Deliver everything due in the outbox; how many were sent."""
        return await deliver_all(self.services.outbox)

    async def poll(self) -> int:
        """The next scheduled poll (the interval passes first)."""
        self.clock.advance(self.runtime.settings.itsm_poll_seconds)
        return await self.itsm.poller.poll()

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def handoffs(self) -> list[Ticket]:
        """The web chat's hand-offs, newest first (the demo requests are in the store too)."""
        return [t for t in self.services.tickets.search("") if t.channel == "web"]

    def ref(self, ticket: Ticket) -> TicketRef:
        fresh = self.services.tickets.get(ticket.id)
        assert fresh is not None and fresh.external_id, "the ticket is not in the system"
        return TicketRef(
            self.name,
            fresh.external_id,
            fresh.external_number or "",
            fresh.external_url or "",
            fresh.external_requester or "",
        )

    def console(self) -> Server:
        """The console of this server, for signing agents in."""
        return Server(self.runtime, self.base)

    def employee(self, email: str = ALEX) -> Employee:
        return Employee(self.base, email)

    def answer(self, ref: TicketRef, text: str) -> None:
        ANSWER[self.name](self.fake, ref, text)

    def resolve(self, ref: TicketRef) -> None:
        RESOLVE[self.name](self.fake, ref)

    def public_comments(self, ref: TicketRef) -> list[str]:
        return public_comments(self.name, self.fake, ref)


@contextlib.asynccontextmanager
async def serve_itsm(name: str, database_url: str, **extra: Any) -> AsyncIterator[Desk]:
    """deskbot with `DESKBOT_TICKETS=<name>` against that system's fake (its usual employees
    set up), the adapter on the tests' short timeouts and shared clock."""
    case = CASES[name]
    fake: FakeSystem = case.fake()
    async with serving(fake):
        case.setup(fake)
        clock = Clock()
        values: dict[str, Any] = {
            "DESKBOT_DATABASE_URL": database_url,
            "DESKBOT_KB_PATH": DEMO_KB_PATH,
            "DESKBOT_TICKETS": name,
            "DESKBOT_WEB_IDENTITY_HEADER": IDENTITY_HEADER,
            **system_settings(name, fake),
            **extra,
        }
        settings = Settings(**values)
        system = ticket_system(settings, timing=clock.fake.timing(), policy=POLICY)
        runtime = build(
            settings,
            embedder=HashEmbedder(),
            background=False,
            system=system,
            clock=clock,
            today=CLOCK.today,
        )
        runtime.services.policy.router = shared_router()
        prepare_knowledge(settings, runtime.services, import_path=False)
        try:
            async with listening(runtime.app) as base:
                yield Desk(name, case, runtime, base, fake, clock)
        finally:
            runtime.services.tickets.engine.dispose()
