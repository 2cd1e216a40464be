"""What agents do in the desk's ITSM, relayed to the employee's chat.

Every `every` seconds (sooner after a verified push) the poller reads the agents' comments and
state changes since the stored cursor, for the open tickets that live there, and hands them to
the relay as any desk would: the first comment is the person taking over (the employee hears
that a person from the service desk has joined), each comment reaches the employee with the
agent's name, and resolved, closed or canceled ends the hand-off. Our own comments and the
employee's are never returned by the adapter, so nothing echoes.

Several replicas share the work through a lease in the database (`handoff.itsm.polls`): one
polls a system at a time, and together they poll it once per interval. A comment read twice
(a poll that outlived its lease, a crash before the cursor was saved) is relayed once: the
relay keeps each comment's id with the message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import uuid
from collections.abc import Callable
from datetime import timedelta

from bot.dialogue import wording
from bot.dialogue.relay import Relay
from bot.failures import log_failure
from bot.itsm.desk import ref_of
from handoff.itsm.errors import ItsmError
from handoff.itsm.polls import PollStore
from handoff.itsm.port import AgentComment, Change, StateChange, TicketSystem
from handoff.tickets import Ticket, TicketStore

log = logging.getLogger(__name__)

PUSHED_GAP = 2.0  # seconds: however many pushes arrive, a system is polled at most this often
HOLD = 120.0  # seconds a replica may poll before another may take over
DEADLINE = 90.0  # one poll at most, so it ends within its lease


def holder_name() -> str:
    """This process, as the lease names it."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Poller:
    def __init__(
        self,
        system: TicketSystem,
        relay: Relay,
        tickets: TicketStore,
        polls: PollStore,
        *,
        every: float,
        holder: str | None = None,
        random_: Callable[[], float] = random.random,
    ) -> None:
        self.system = system
        self.relay = relay
        self.tickets = tickets
        self.polls = polls
        self.every = every
        self.holder = holder or holder_name()
        self._random = random_
        self._wake: asyncio.Event | None = None
        self._pushed = False

    @property
    def origin(self) -> str:
        return self.system.name

    def wake(self) -> None:
        """A verified push: poll now rather than at the next interval (on the loop)."""
        self._pushed = True
        if self._wake is not None:
            self._wake.set()

    async def poll(self, *, pushed: bool = False) -> int:
        """One poll, if it is this replica's turn; returns how many changes reached an
        employee (0 also when another replica polls now, or polled a moment ago)."""
        # Polls fall due a little before the interval: replicas tick independently, and a
        # tick that came a few milliseconds early would otherwise wait a whole interval.
        due = timedelta(seconds=PUSHED_GAP if pushed else self.every * 0.8)
        lease = await asyncio.to_thread(
            self.polls.take, self.origin, self.holder, every=due, hold=timedelta(seconds=HOLD)
        )
        if lease is None:
            return 0
        relayed = 0
        try:
            watched = await asyncio.to_thread(self.tickets.linked, self.origin)
            cursor = lease.cursor
            if watched:
                async with asyncio.timeout(DEADLINE):
                    changes = await self.system.changes(cursor, [ref_of(t) for t in watched])
                by_id = {t.external_id: t for t in watched}
                for change in changes.events:
                    ticket = by_id.get(change.ticket_id)
                    if ticket is not None:
                        relayed += await self._relay(ticket, change)
                cursor = changes.cursor
        except BaseException:
            await asyncio.to_thread(self.polls.release, lease)
            raise
        if not await asyncio.to_thread(self.polls.finish, lease, cursor):
            log.warning("%s: the poll outlived its lease; the next one reads again", self.origin)
        return relayed

    async def _relay(self, ticket: Ticket, change: Change) -> int:
        origin = self.origin
        if isinstance(change, AgentComment):
            agent = change.author.strip() or wording.SOMEONE
            # the first comment is the person taking over; a claimed ticket stays claimed
            await self.relay.claim(ticket.id, agent, origin)
            sent = await self.relay.reply(
                ticket.id, agent, change.text, origin, source=change.comment_id
            )
            return int(sent)
        if isinstance(change, StateChange) and change.state.ended:
            ended = await self.relay.resolve(
                ticket.id, wording.SERVICE_DESK, "", origin, outcome=change.state.value
            )
            return int(ended)
        return 0

    async def run(self, rounds: int | None = None) -> None:
        """Poll every `every` seconds (with a little jitter, so replicas spread out), and soon
        after a push: forever, or `rounds` times."""
        self._wake = asyncio.Event()
        done = 0
        while rounds is None or done < rounds:
            done += 1
            pushed, self._pushed = self._pushed, False
            self._wake.clear()
            try:
                await self.poll(pushed=pushed)
            except ItsmError as exc:  # its message names the system and what failed
                log.warning("polling %s failed: %s", self.origin, exc.message)
            except TimeoutError:
                log.warning("polling %s took longer than %g s", self.origin, DEADLINE)
            except Exception as exc:  # the database may be briefly unavailable
                log_failure(log, f"polling {self.origin}", exc)
            if rounds is not None and done >= rounds:
                return
            wait = self.every * (0.9 + 0.2 * self._random())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
