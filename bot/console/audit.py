"""The audit log: who signed in, viewed which conversation, claimed, replied, resolved, or
changed knowledge. The application only appends (this class has no way to change or remove
an entry) and the database refuses UPDATE and DELETE on the table.

Entries name what was touched, never what a user or agent wrote.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, select

from bot.console.tables import audit_table
from bot.db import aware


@dataclass(frozen=True)
class Entry:
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    detail: Mapping[str, Any]
    address: str


class AuditLog:
    def __init__(self, engine: Engine, clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self._clock = clock or (lambda: datetime.now(UTC))

    def record(
        self,
        actor: str,
        action: str,
        target: str = "",
        detail: Mapping[str, Any] | None = None,
        address: str = "",
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(audit_table).values(
                    at=self._clock(),
                    actor=actor[:64],
                    action=action[:32],
                    target=target[:200],
                    detail=json.dumps(dict(detail or {}), sort_keys=True, default=str),
                    address=address[:64],
                )
            )

    def entries(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        before: int | None = None,
        limit: int = 100,
    ) -> list[Entry]:
        """Newest first; `before` pages back by id."""
        t = audit_table
        query = select(t).order_by(t.c.id.desc()).limit(limit)
        if actor:
            query = query.where(t.c.actor == actor)
        if action:
            query = query.where(t.c.action == action)
        if before is not None:
            query = query.where(t.c.id < before)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        out = []
        for r in rows:
            m = r._mapping
            at = aware(m["at"])
            out.append(
                Entry(
                    m["id"],
                    at,
                    m["actor"],
                    m["action"],
                    m["target"],
                    _detail(m["detail"]),
                    m["address"],
                )
            )
        return out


def _detail(raw: str) -> Mapping[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
