"""The request-status flow's view of the tickets: deskbot's own, or the desk's ITSM.

Flows are pure and synchronous and the dialogue core runs them in a worker thread, while an
adapter is async and lives on the server's event loop (its one HTTP session and circuit
breaker). `ItsmRequests` is a synchronous facade that runs each lookup on that loop and waits
for it at most `timeout` seconds. It was chosen over fetching in advance: only the flow knows
whether it needs the requests (the router decides inside the policy), so a prefetch would
either route every turn twice or call the ITSM on turns that never show a request. When the
system does not answer in time, the employee sees deskbot's own records of their hand-offs
rather than an error, and the failure is logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

from handoff.itsm.errors import ItsmError
from handoff.itsm.port import TicketSystem
from handoff.tickets import RequestView, Ticket, TicketStore

log = logging.getLogger(__name__)

T = TypeVar("T")
TIMEOUT = 8.0  # seconds a status question waits for the ITSM
LIMIT = 20  # requests read per status question (the flow shows the first few)


def view(ticket: Ticket) -> RequestView:
    """A stored ticket as its requester may see it, by the number the desk knows."""
    return RequestView(
        ticket.public_number,
        ticket.title,
        ticket.status.value,
        ticket.updated_at,
        ticket.claimed_by,
    )


def _mine(ticket: Ticket | None, requester: str) -> bool:
    return ticket is not None and ticket.requester.lower() == requester.lower()


class TicketRequests:
    """deskbot's own tickets (`DESKBOT_TICKETS=builtin`)."""

    def __init__(self, tickets: TicketStore) -> None:
        self._tickets = tickets

    def requests_of(self, requester: str) -> list[RequestView]:
        return self._tickets.requests_of(requester)

    def request(self, requester: str, number: str) -> RequestView | None:
        ticket = self._tickets.by_number(number)
        return view(ticket) if ticket is not None and _mine(ticket, requester) else None


class NoAnswer(Exception):
    """The ticket system did not answer a status lookup (down, slow, refused, or no loop)."""


class ItsmRequests:
    """The desk's ITSM, for the status flow: only the requester's records, as the adapter
    guarantees, plus hand-offs that have not reached the system yet."""

    def __init__(
        self, system: TicketSystem, tickets: TicketStore, *, timeout: float = TIMEOUT
    ) -> None:
        self.system = system
        self._tickets = tickets
        self.timeout = timeout
        self._loop: asyncio.AbstractEventLoop | None = None

    def attach(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """The loop the adapter runs on (the server's); None when it stops."""
        self._loop = loop

    def requests_of(self, requester: str) -> list[RequestView]:
        mine = self._tickets.of_requester(requester)
        try:
            found = self._run(self.system.requests_of(requester, LIMIT))
        except NoAnswer:
            return [view(t) for t in mine]
        waiting = [view(t) for t in mine if t.pending and t.open]
        return waiting + found

    def request(self, requester: str, number: str) -> RequestView | None:
        wanted = number.strip().upper()
        local = self._tickets.by_number(wanted) if wanted.startswith("REQ") else None
        if local is not None:
            if not _mine(local, requester):
                return None
            if not local.external_id:
                return view(local)  # not in the ITSM yet
            wanted = local.public_number
        try:
            return self._run(self.system.request(requester, wanted))
        except NoAnswer:
            known = [t for t in self._tickets.of_requester(requester) if t.public_number == wanted]
            return view(known[0]) if known else None

    def _run(self, call: Coroutine[Any, Any, T]) -> T:
        loop = self._loop
        if loop is None or loop.is_closed() or _running_here(loop):
            call.close()
            log.warning("request status: %s is not connected here", self.system.name)
            raise NoAnswer()
        future = asyncio.run_coroutine_threadsafe(call, loop)
        try:
            return future.result(self.timeout)
        except TimeoutError:
            future.cancel()
            log.warning(
                "request status: %s did not answer within %g s", self.system.name, self.timeout
            )
        except ItsmError as exc:
            log.warning("request status: %s", exc.message)
        raise NoAnswer()


def _running_here(loop: asyncio.AbstractEventLoop) -> bool:
    """Waiting on the loop from its own thread would never end."""
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
