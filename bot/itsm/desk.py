"""The desk's ITSM as a `Desk`: a hand-off becomes a ticket there and the employee's further
messages customer-visible comments, each written from the durable outbox.

A failed write is tried again later, never dropped: a rate limit after the wait it asked for,
an outage with exponential backoff and full jitter, a refusal (credentials, rights, a field)
every few minutes until someone fixes the configuration. None of these count towards the
outbox's attempt limit (`RetryLater`). The first time a hand-off cannot reach the system the
employee is told it is recorded and will reach the desk; when it does, they are told the
number the desk knows it by. A delivery after an attempt that may have been written
(`attempt` > 1, or a pending ticket) asks the adapter to look before writing, so nothing is
doubled. What agents write in the ITSM comes back through `bot.itsm.poller`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from bot.dialogue import wording
from bot.dialogue.relay import Relay
from bot.seams import DeskEvent
from handoff.itsm.errors import ItsmError, RateLimited
from handoff.itsm.port import TicketRef, TicketSystem
from handoff.itsm.resilience import RetryPolicy, backoff
from handoff.outbox import RetryLater
from handoff.tickets import NewTicket, Ticket, TicketStore

log = logging.getLogger(__name__)

# The outbox's own schedule for a system that is down: 2 s doubling to 5 minutes, full jitter.
LATER = RetryPolicy(base_delay=2.0, max_delay=300.0)
REFUSED_WAIT = 300.0  # a refusal needs a person to fix something: ask again this often
RATE_JITTER = 0.5  # seconds at most added to a Retry-After, so replicas do not come back at once
DEADLINE = 30.0  # one delivery at most, however the client retries, so the outbox moves on


def ref_of(ticket: Ticket) -> TicketRef:
    """Where a linked ticket lives in its system."""
    return TicketRef(
        ticket.external_system or "",
        ticket.external_id or "",
        ticket.external_number or "",
        ticket.external_url or "",
        ticket.external_requester or "",
    )


def as_new(ticket: Ticket) -> NewTicket:
    """The stored hand-off, as the adapter writes it (every text is already redacted)."""
    return NewTicket(
        reason=ticket.reason,
        priority=ticket.priority,
        category=ticket.category,
        title=ticket.title,
        summary=ticket.summary,
        requester=ticket.requester,
        channel=ticket.channel,
        conversation_id=ticket.conversation_id,
        requester_name=ticket.requester_name,
        facts=ticket.facts,
        questions=ticket.questions,
        offered=ticket.offered,
        feedback=ticket.feedback,
        transcript=ticket.transcript,
    )


def why(exc: BaseException) -> str:
    """What went wrong, for logs and the outbox row: an ItsmError's message names the system
    and the refusal, never a credential or user text."""
    if isinstance(exc, ItsmError):
        return exc.message
    return f"no answer within {DEADLINE:g} s"


class ItsmDesk:
    """Hand-offs into the desk's ITSM (`listening`: every ticket event is queued for it)."""

    listening = True

    def __init__(
        self,
        system: TicketSystem,
        relay: Relay,
        tickets: TicketStore,
        *,
        deadline: float = DEADLINE,
        random_: Callable[[], float] = random.random,
    ) -> None:
        self.system = system
        self.relay = relay
        self.tickets = tickets
        self.deadline = deadline
        self._random = random_

    @property
    def origin(self) -> str:
        return self.system.name

    async def deliver(self, event: DeskEvent, ticket_id: int, payload: Mapping[str, Any]) -> None:
        attempt = int(payload.get("attempt") or 1)
        if event is DeskEvent.OPENED:
            await self._open(ticket_id, attempt)
        elif event is DeskEvent.USER_MESSAGE:
            await self._comment(ticket_id, str(payload.get("text") or ""), attempt)
        # Claims, replies and resolutions made at another desk stay there: with an ITSM the
        # desk answers in the ITSM, and what it does there reaches every desk via the relay.

    async def _open(self, ticket_id: int, attempt: int) -> None:
        ticket = await asyncio.to_thread(self.tickets.get, ticket_id)
        if ticket is None or ticket.external_id or not ticket.open:
            return  # gone, already there (a repeated delivery), or done before it got there
        look_first = attempt > 1 or ticket.pending
        try:
            async with asyncio.timeout(self.deadline):
                ref = await self.system.create(as_new(ticket), ticket.number, retry=look_first)
        except (ItsmError, TimeoutError) as exc:
            await self._waiting(ticket, exc, attempt)
        linked = await asyncio.to_thread(
            self.tickets.link, ticket.id, ref.system, ref.id, ref.number, ref.url, ref.requester_id
        )
        if linked:
            log.info("%s: hand-off %s is %s", self.system.name, ticket.number, ref.number)
            taken = wording.ITSM_TAKEN.format(number=ticket.number, external=ref.number)
            await self.relay.tell(ticket.id, taken)

    async def _waiting(self, ticket: Ticket, exc: BaseException, attempt: int) -> NoReturn:
        """The system did not take the hand-off: tell the employee once, try again later."""
        if await asyncio.to_thread(self.tickets.mark_pending, ticket.id, self.system.name):
            await self.relay.tell(ticket.id, wording.ITSM_WAITING.format(number=ticket.number))
        self._later(f"hand-off {ticket.number}", exc, attempt)

    async def _comment(self, ticket_id: int, text: str, attempt: int) -> None:
        ticket = await asyncio.to_thread(self.tickets.get, ticket_id)
        if ticket is None or not text.strip():
            return
        if not ticket.external_id:
            if not ticket.open:
                return  # it never reached the system, and it is over
            delay = self._backoff(attempt)
            raise RetryLater(delay, f"{ticket.number} is not in {self.system.name} yet")
        author = ticket.requester_name or ticket.requester
        try:
            async with asyncio.timeout(self.deadline):
                await self.system.comment(ref_of(ticket), text, author, retry=attempt > 1)
        except (ItsmError, TimeoutError) as exc:
            self._later(f"a message for {ticket.public_number}", exc, attempt)

    def _later(self, what: str, exc: BaseException, attempt: int) -> NoReturn:
        refused = isinstance(exc, ItsmError) and not exc.retryable
        (log.error if refused else log.warning)("%s waits: %s", what, why(exc))
        if isinstance(exc, RateLimited) and exc.retry_after is not None:
            delay = exc.retry_after + self._random() * RATE_JITTER
        elif refused:
            delay = REFUSED_WAIT
        else:
            delay = self._backoff(attempt)
        raise RetryLater(delay, why(exc)) from None

    def _backoff(self, attempt: int) -> float:
        return max(1.0, backoff(attempt, LATER, self._random))
