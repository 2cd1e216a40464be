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

from sqlalchemy import Engine, and_, delete, func, insert, select, update

from bot.console.tables import sessions_table, sign_ins_table
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


class SignInLimit:
    """Failed sign-ins per name and per client address within a sliding window."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self._clock = clock or (lambda: datetime.now(UTC))

    def blocked_for(self, name: str, address: str) -> timedelta | None:
        """How long this name or address must wait, or None when it may try now. A success
        clears a name's failures; an address's count only ages out (one valid account must
        not let an address guess others' passwords)."""
        now = self._clock()
        since = now - FAILURE_WINDOW
        t = sign_ins_table
        last_ok = select(func.max(t.c.at)).where(t.c.name == name, t.c.ok.is_(True))
        checks = (
            (
                t.c.name == name,
                t.c.at > func.coalesce(last_ok.scalar_subquery(), since),
                MAX_FAILURES_PER_NAME,
            ),
            (t.c.address == address, t.c.at >= since, MAX_FAILURES_PER_ADDRESS),
        )
        with self.engine.connect() as conn:
            for who, recent, limit in checks:
                failures = conn.execute(
                    select(t.c.at)
                    .where(and_(who, t.c.ok.is_(False), t.c.at >= since, recent))
                    .order_by(t.c.at.desc())
                    .limit(limit)
                ).all()
                if len(failures) >= limit:
                    oldest = aware(failures[-1][0])
                    return max(oldest + FAILURE_WINDOW - now, timedelta(seconds=1))
        return None

    def record(self, name: str, address: str, ok: bool) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(sign_ins_table).values(at=self._clock(), name=name, address=address, ok=ok)
            )
