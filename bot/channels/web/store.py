"""The web chat's table: sessions signed out before their cookie expired.

The cookie is signed, not stored, so ending a session means remembering its id until the
cookie would have expired anyway; every replica reads the same list.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Column, DateTime, Engine, MetaData, String, Table, delete, insert, select
from sqlalchemy.exc import IntegrityError

metadata = MetaData()

signed_out_table = Table(
    "web_signed_out",
    metadata,
    Column("sid", String(64), primary_key=True),
    Column("until", DateTime(timezone=True), nullable=False, index=True),
)


class SignedOut:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def end(self, sid: str, issued: float, max_age: float) -> None:
        """Refuse this session id from now on (until its cookie would have expired)."""
        until = datetime.fromtimestamp(issued, UTC) + timedelta(seconds=max_age)
        now = datetime.now(UTC)
        t = signed_out_table
        try:
            with self.engine.begin() as conn:
                conn.execute(delete(t).where(t.c.until < now))
                conn.execute(insert(t).values(sid=sid[:64], until=until))
        except IntegrityError:
            pass  # signed out twice

    def ended(self, sid: str) -> bool:
        t = signed_out_table
        with self.engine.connect() as conn:
            return conn.execute(select(t.c.sid).where(t.c.sid == sid[:64])).first() is not None
