"""Server-side console sessions and the sign-in rate limit, both in the database so every
replica behind a load balancer sees the same ones.

A session ends after 30 minutes without activity or 12 hours after sign-in, whichever comes
first. Each sign-in creates a new session id (the old one, if any, is ended), so an id planted
in a browser before sign-in is worth nothing after it.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, case, delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.console.tables import sessions_table, sign_in_counts_table
from bot.db import aware

IDLE = timedelta(minutes=30)
ABSOLUTE = timedelta(hours=12)
TOUCH_EVERY = timedelta(seconds=60)  # write seen_at at most this often

FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_NAME = 5
MAX_FAILURES_PER_ADDRESS = 20


@dataclass(frozen=True)
class Session:
    id: str  # the hash of the cookie token
    account_id: int
    csrf: str
    created_at: datetime
    seen_at: datetime


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionStore:
    def __init__(self, engine: Engine, clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self._clock = clock or (lambda: datetime.now(UTC))

    def now(self) -> datetime:
        return self._clock()

    def start(self, account_id: int, replacing: str | None = None) -> tuple[str, Session]:
        """A new session (cookie token, session). The session in `replacing` ends."""
        token = secrets.token_urlsafe(32)
        now = self.now()
        session = Session(_hash(token), account_id, secrets.token_urlsafe(32), now, now)
        with self.engine.begin() as conn:
            if replacing:
                conn.execute(delete(sessions_table).where(sessions_table.c.id == _hash(replacing)))
            conn.execute(delete(sessions_table).where(sessions_table.c.created_at < now - ABSOLUTE))
            conn.execute(
                insert(sessions_table).values(
                    id=session.id,
                    account_id=account_id,
                    csrf=session.csrf,
                    created_at=now,
                    seen_at=now,
                )
            )
        return token, session

    def current(self, token: str | None, touch: bool = True) -> Session | None:
        """The live session for a cookie token; expired ones are ended on sight."""
        if not token or len(token) > 200:
            return None
        key = _hash(token)
        with self.engine.connect() as conn:
            row = conn.execute(select(sessions_table).where(sessions_table.c.id == key)).first()
        if row is None:
            return None
        m = row._mapping
        session = Session(
            m["id"], m["account_id"], m["csrf"], aware(m["created_at"]), aware(m["seen_at"])
        )
        now = self.now()
        if now - session.seen_at > IDLE or now - session.created_at > ABSOLUTE:
            self.end(token)
            return None
        if touch and now - session.seen_at >= TOUCH_EVERY:
            with self.engine.begin() as conn:
                conn.execute(
                    update(sessions_table).where(sessions_table.c.id == key).values(seen_at=now)
                )
        return session

    def end(self, token: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(sessions_table).where(sessions_table.c.id == _hash(token)))

    def end_all(self, account_id: int) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(
                delete(sessions_table).where(sessions_table.c.account_id == account_id)
            )
        return int(result.rowcount or 0)


@dataclass(frozen=True)
class Attempt:
    """What the limit says about one sign-in attempt."""

    wait: timedelta | None  # refused: the time until this name and address may try again
    delay: float = 0.0  # seconds to hold the answer: the name is under attack


class SignInLimit:
    """Failed sign-ins, counted in the database so that every replica shares the counts.

    An attempt is counted as a failure before its password is checked, in one atomic upsert
    per key, so concurrent attempts cannot all slip under the limit; a right password takes
    its count back. Refused are: a name and address pair after 5 failures, an address after 20
    (whatever names it tries), and, for a name that failed 5 times, any address that failed
    recently. An address without failures is never refused for someone else's failures: it is
    slowed down instead (1 s per failure of the name beyond 5, at most 5 s), so nobody can lock
    a user out by guessing their password from elsewhere."""

    def __init__(
        self,
        engine: Engine,
        clock: Callable[[], datetime] | None = None,
        step_seconds: float = 1.0,
        max_delay_seconds: float = 5.0,
    ) -> None:
        self.engine = engine
        self._clock = clock or (lambda: datetime.now(UTC))
        self.step = step_seconds
        self.max_delay = max_delay_seconds

    def begin(self, name: str, address: str) -> Attempt:
        """Count an attempt (as a failure until `succeeded`), or refuse it."""
        now = self._clock()
        keys = _keys(name, address)  # always locked in this order: no deadlocks
        with self.engine.begin() as conn:
            counts = [_bump(conn, key, now) for key in keys]
            (pair, pair_start), (by_name, _), (by_address, address_start) = counts
            name_before, address_before = by_name - 1, by_address - 1
            refused = None
            if pair > MAX_FAILURES_PER_NAME:
                refused = pair_start
            elif by_address > MAX_FAILURES_PER_ADDRESS:
                refused = address_start
            elif name_before >= MAX_FAILURES_PER_NAME and address_before > 0:
                refused = address_start  # an attacked name: only clean addresses may try
            if refused is not None:
                for key in keys:  # a refused attempt checks nothing, so it counts nothing
                    _take_back(conn, key)
                return Attempt(max(refused + FAILURE_WINDOW - now, timedelta(seconds=1)))
        excess = name_before - MAX_FAILURES_PER_NAME + 1
        return Attempt(None, min(self.step * excess, self.max_delay) if excess > 0 else 0.0)

    def succeeded(self, name: str, address: str) -> None:
        """The password was right: the attempt was no failure, and the name's failures (from
        this address and overall) are forgotten; the address's other failures still count."""
        pair, by_name, by_address = _keys(name, address)
        t = sign_in_counts_table
        now = self._clock()
        with self.engine.begin() as conn:
            for key in (pair, by_name):  # one by one, in begin's lock order: no deadlocks
                conn.execute(delete(t).where(t.c.key == key))
            _take_back(conn, by_address)
        with self.engine.begin() as conn:  # expired counts, skipping any in use right now
            stale = (
                select(t.c.key)
                .where(t.c.window_start < now - FAILURE_WINDOW)
                .limit(500)
                .with_for_update(skip_locked=True)
            )
            conn.execute(delete(t).where(t.c.key.in_(stale.scalar_subquery())))


def _keys(name: str, address: str) -> tuple[str, str, str]:
    return (f"pair:{address}|{name}"[:200], f"name:{name}"[:200], f"address:{address}"[:200])


def _bump(conn: Connection, key: str, now: datetime) -> tuple[int, datetime]:
    """One more failure for `key` (a new window when the last one is over): (failures, start
    of the window), atomically on SQLite and PostgreSQL."""
    t = sign_in_counts_table
    over = t.c.window_start <= now - FAILURE_WINDOW
    make = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = (
        make(t)
        .values(key=key, window_start=now, failures=1)
        .on_conflict_do_update(
            index_elements=[t.c.key],
            set_={
                "failures": case((over, 1), else_=t.c.failures + 1),
                "window_start": case((over, now), else_=t.c.window_start),
            },
        )
        .returning(t.c.failures, t.c.window_start)
    )
    failures, start = conn.execute(statement).one()
    return int(failures), aware(start)


def _take_back(conn: Connection, key: str) -> None:
    t = sign_in_counts_table
    conn.execute(
        update(t).where(t.c.key == key, t.c.failures > 0).values(failures=t.c.failures - 1)
    )
