"""The ticket-system port: what deskbot needs from wherever the service desk keeps its tickets.

One Protocol, `TicketSystem`, and the neutral types it speaks. Adapters (`builtin`,
`servicenow`, `jira`, `zendesk`) satisfy it; the composition root picks one by
`DESKBOT_TICKETS` and nothing above this module knows which. The contract is in the
signatures and docstrings below; tests hold every adapter to it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from handoff.tickets import NewTicket, RequestView

__all__ = [
    "AgentComment",
    "Change",
    "Changes",
    "NewTicket",
    "Probe",
    "ProbeWarning",
    "RequestView",
    "StateChange",
    "TicketRef",
    "TicketState",
    "TicketSystem",
]


class TicketState(StrEnum):
    """Where a ticket is, in words every system can be mapped to. The values are also what
    the request-status flow shows (`RequestView.status`)."""

    NEW = "new"
    IN_PROGRESS = "in_progress"
    ON_HOLD = "on_hold"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELED = "canceled"

    @property
    def ended(self) -> bool:
        """Resolved, closed or canceled: the hand-off is over and the employee is told."""
        return self in (TicketState.RESOLVED, TicketState.CLOSED, TicketState.CANCELED)


@dataclass(frozen=True)
class TicketRef:
    """A ticket in the external system, as deskbot keeps it next to its own hand-off."""

    system: str  # "servicenow", "jira", "zendesk", "builtin"
    id: str  # what the API addresses: sys_id, issue key, ticket id
    number: str  # what people see and say: INC0010001, IT-42, 1234
    url: str = ""  # where an agent opens it
    requester_id: str = ""  # the employee in that system: caller sys_id, accountId, user id


@dataclass(frozen=True)
class AgentComment:
    """A customer-visible comment by someone on the desk (never ours, never the employee's)."""

    ticket_id: str  # TicketRef.id
    comment_id: str  # the system's id for the comment: a stable key for de-duplication
    author: str  # display name, or "" when the system does not say
    text: str
    at: datetime  # UTC


@dataclass(frozen=True)
class StateChange:
    """The ticket moved to another state (already mapped to `TicketState`)."""

    ticket_id: str
    state: TicketState
    label: str  # the system's own value or name: "6", "Waiting for customer", "solved"
    at: datetime  # UTC

    @property
    def comment_id(self) -> str:
        """A stable key for de-duplication, parallel to `AgentComment.comment_id`."""
        return f"state:{self.label}@{self.at.isoformat()}"


Change = AgentComment | StateChange


@dataclass(frozen=True)
class Changes:
    """What happened since a cursor, and the cursor to pass next time."""

    events: tuple[Change, ...]
    cursor: str


def news(before: TicketState | None, now: TicketState) -> bool:
    """Whether a state is worth an event: a change from what was seen, or, on first sight of
    a ticket, only an ended one (a ticket first seen "in progress" tells the employee nothing
    they need, one first seen resolved ends the hand-off)."""
    return now.ended if before is None else now != before


def ordered(comments: Sequence[Change], states: Sequence[Change]) -> tuple[Change, ...]:
    """Comments first, then state changes, each oldest first. Systems date a state change by
    the ticket's last update, not by when the state moved, so "Fixed, please reconnect" and
    "resolved" from one poll would otherwise come in either order; the answer must reach the
    employee before the hand-off ends."""
    return (*sorted(comments, key=lambda e: e.at), *sorted(states, key=lambda e: e.at))


class ProbeWarning(Exception):
    """A probe that works but shows something to fix (e.g. a time zone that is not UTC)."""


@dataclass(frozen=True)
class Probe:
    """One connectivity or permission check: `run` returns a short detail when it passes and
    raises `ItsmError` (failed) or `ProbeWarning` (works, but fix this) otherwise."""

    what: str  # "read access to sys_user"
    run: Callable[[], Awaitable[str]]


class TicketSystem(Protocol):
    """Where hand-offs become tickets and agents answer them.

    Every method may raise `handoff.itsm.errors.ItsmError`; its `retryable` says whether a
    later attempt can succeed unchanged. Texts passed in are already redacted.
    """

    @property
    def name(self) -> str:
        """"builtin", "servicenow", "jira" or "zendesk"."""
        ...

    async def create(
        self, ticket: NewTicket, correlation_id: str, *, retry: bool = False
    ) -> TicketRef:
        """Open a ticket for a hand-off and return where it is.

        The title becomes the ticket's subject; the employee's own words are the customer-
        visible description; the summary, facts and transcript go where only agents read
        them. The caller is found by `ticket.requester` (an e-mail address); category and
        priority are mapped by the adapter's configuration; `correlation_id` (deskbot's own id
        for the hand-off) is stored on the ticket. Idempotent per correlation id: a timeout
        or 5xx after the write looks the ticket up before writing again, and `retry=True`
        (an earlier attempt may have reached the system) looks it up first.
        """
        ...

    async def comment(
        self, ticket: TicketRef, text: str, author: str, *, retry: bool = False
    ) -> None:
        """Add the employee's message as a customer-visible comment. `author` is the
        employee's name or e-mail, for the agent's eyes. Never doubled: an uncertain write,
        or `retry=True`, first checks whether the comment is already there."""
        ...

    async def changes(self, cursor: str | None, watching: Sequence[TicketRef]) -> Changes:
        """Agents' comments and state changes on the `watching` tickets since `cursor`
        (None: everything so far), comments before state changes (see `ordered`), with the
        cursor for next time. Comments by
        deskbot's own integration user and by the employee are left out, so nothing echoes
        back. The cursor is an opaque string: store it as it is."""
        ...

    async def requests_of(self, email: str, limit: int = 10) -> list[RequestView]:
        """The employee's recent tickets and requests, newest first, at most `limit`.
        Only records whose requester/caller is `email`; none when the system does not know
        the address."""
        ...

    async def request(self, email: str, number: str) -> RequestView | None:
        """One ticket by the number people use, only if `email` is its requester. A number
        that belongs to someone else gives None, exactly like one that does not exist."""
        ...

    def probes(self) -> Sequence[Probe]:
        """The checks `deskbot itsm check` runs, in order (sign-in first)."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
